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
