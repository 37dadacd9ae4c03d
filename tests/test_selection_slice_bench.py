"""bench/selection_slice.py: the selection spec it writes, and the GMB hold-out it rebuilds and writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import selection_slice  # noqa: E402

from geobatch.io.readers.gmb import read_gmb  # noqa: E402
from training.spec import load_spec  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"


def test_the_recipe_spec_gets_a_slice_on_its_news_corpora_and_nothing_else_changes():
    recipe = ROOT / "training" / "geoparse.toml"
    text = selection_slice.selection_spec_text(recipe)
    old, new = recipe.read_text(encoding="utf-8").splitlines(), text.splitlines()
    added = [line for line in new if line not in old]
    assert added == ['validation = "sha256-mod5=1"'] * 3
    # each right after the name of a span corpus that is not held out whole; GMB and TUD validation keep none
    named = [new[i - 1] for i, line in enumerate(new) if line == added[0]]
    assert named == ['name = "geowebnews"', 'name = "geovirus"', 'name = "tud-loc-train"']
    assert [line for line in new if line != added[0]] == old


def _corpora(tmp_path: Path) -> Path:
    rows = ["Sentence #,Word,POS,Tag"]
    for i in range(60):
        rows += [f"Sentence: {i},Rain,NN,O", ",in,IN,O", f",Town{i},NNP,B-geo", ",.,.,O"]
    (tmp_path / "g.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    docs = [{"doc_id": f"n{i}", "text": f"Rain in Paris {i}.", "toponyms": [{"start": 8, "end": 13}]} for i in range(40)]
    (tmp_path / "n.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text('[[corpus]]\nname = "gmb"\npath = "g.csv"\nformat = "gmb"\ntypes = { geo = "geo" }\n\n'
                    '[[corpus]]\nname = "news"\npath = "n.jsonl"\nid_column = "doc_id"\nspans_column = "toponyms"\n'
                    'span_label = "geo"\nheldout = "sha256-mod5"\n', encoding="utf-8")
    sel = tmp_path / "sel.toml"
    sel.write_text(selection_slice.selection_spec_text(spec), encoding="utf-8")
    return sel


def test_the_gmb_holdout_is_training_s_random_share_of_gmb_sentences_alone(tmp_path):
    sel = _corpora(tmp_path)
    assert [c.validation for c in load_spec(sel).corpora] == [None, "sha256-mod5=1"]
    path, ids = selection_slice.gmb_holdout_ids(sel, tmp_path, 0.1, 13)
    assert path == tmp_path / "g.csv"
    assert ids and ids <= {f"Sentence: {i}" for i in range(60)}  # GMB's own sentences, no news document
    assert selection_slice.gmb_holdout_ids(sel, tmp_path, 0.1, 13)[1] == ids  # fixed by the split seed
    assert selection_slice.gmb_holdout_ids(sel, tmp_path, 0.1, 14)[1] != ids


def test_the_gmb_subset_keeps_each_chosen_sentence_whole(tmp_path):
    _corpora(tmp_path)
    ids = {"Sentence: 3", "Sentence: 41"}
    assert selection_slice.write_gmb_subset(tmp_path / "g.csv", ids, tmp_path / "sub.csv") == 2
    got = list(read_gmb(tmp_path / "sub.csv"))
    assert [(s.id, s.words, s.tags) for s in got] == [
        ("Sentence: 3", ["Rain", "in", "Town3", "."], ["O", "O", "B-geo", "O"]),
        ("Sentence: 41", ["Rain", "in", "Town41", "."], ["O", "O", "B-geo", "O"]),
    ]


@pytest.mark.skipif(not (SHARED / "geoparsing" / "GeoVirus.jsonl").exists(), reason="needs ../shared/data (the corpora)")
def test_slice_documents_are_never_held_back_ones():
    from training.spec import is_heldout

    docs = selection_slice.slice_documents(SHARED / "geoparsing" / "GeoVirus.jsonl")
    assert docs and not any(is_heldout(d["doc_id"], "sha256-mod5") for d in docs)


def test_score_runs_the_slice_and_gmb_s_hold_out_as_file_words_and_as_raw_text(tmp_path):
    """A tiny model that finds Paris and not Lyon: each figure follows from which sentences are held out."""
    from tiny_onnx import build_tiny_model_dir

    rows = ["Sentence #,Word,POS,Tag"]
    for i in range(80):
        rows += [f"Sentence: {i},Rain,NN,O", ",in,IN,O", f",{'Paris' if i % 2 else 'Lyon'},NNP,B-geo", ",.,.,O"]
    (tmp_path / "g.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for name in ("geowebnews", "geovirus", "tud-loc-train"):  # files of their own: a spec lists each file once
        docs = [{"doc_id": f"n{i}", "text": f"Rain in Paris and Lyon {i} ({name}).",
                 "toponyms": [{"start": 8, "end": 13}, {"start": 18, "end": 22}]} for i in range(40)]
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    corpus = '[[corpus]]\nname = "{0}"\npath = "{0}.jsonl"\nid_column = "doc_id"\nspans_column = "toponyms"\n' \
             'span_label = "geo"\nheldout = "sha256-mod5"\n\n'
    spec = tmp_path / "spec.toml"
    spec.write_text('[[corpus]]\nname = "gmb"\npath = "g.csv"\nformat = "gmb"\ntypes = { geo = "geo" }\n\n'
                    + "".join(corpus.format(n) for n in ("geowebnews", "geovirus", "tud-loc-train")), encoding="utf-8")
    sel = tmp_path / "sel.toml"
    assert selection_slice.main(["spec", "--spec", str(spec), "--out", str(sel)]) == 0
    model = build_tiny_model_dir(tmp_path / "m")
    out = tmp_path / "out"
    assert selection_slice.main(["score", "--model", str(model), "--spec", str(sel), "--data", str(tmp_path),
                                 "--out", str(out)]) == 0
    got = json.loads((out / "selection.json").read_text(encoding="utf-8"))
    n_slice = len(selection_slice.slice_documents(tmp_path / "geovirus.jsonl"))
    for name in ("GeoWebNews slice", "GeoVirus slice", "TUD-Loc-2013 train slice"):
        exact = got["sets"][name]["geobatch"]["exact"]
        assert (got["sets"][name]["documents"], exact["precision"], exact["recall"]) == (n_slice, 1.0, 0.5)
    _, ids = selection_slice.gmb_holdout_ids(sel, tmp_path, 0.05, 13)  # the tiny card names no split: the defaults
    paris = sum(int(i.split()[-1]) % 2 for i in ids)
    gmb = got["gmb_validation"]
    assert gmb["sentences"] == len(ids) and 0 < paris < len(ids)
    assert gmb["token_per_category"]["geo"]["recall"] == pytest.approx(paris / len(ids), abs=5e-5)
    raw = gmb["raw_text"]["exact"]
    assert (raw["precision"], raw["recall"]) == (1.0, pytest.approx(paris / len(ids), abs=5e-5))
