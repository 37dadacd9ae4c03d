"""The validation slice a spec chooses by document (`validation = "sha256-mod5=1"`): those documents are
never trained on, even with --with-heldout, never meet the held-back fifth, and training reports each
corpus's part of the slice (docs/TRAINING.md, "Choosing models on news")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE_LABELLED, build_tiny_base
from training.corpora import read_training_sentences
from training.options import TrainOptions
from training.spec import is_heldout, is_validation, load_spec

CITIES = ["Paris", "Lima", "Oslo", "Dublin", "Kenya", "Peru", "Zambia", "Lyon", "Chad", "Austria"]


def _news(path: Path, n: int = 40) -> Path:
    docs = []
    for i in range(n):
        city = CITIES[i % len(CITIES)]
        text = f"Rain fell in {city} on day {i}. Officials met."
        docs.append({"doc_id": f"d{i}", "text": text, "toponyms": [{"start": 13, "end": 13 + len(city), "type": "CITY"}]})
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def _spec(tmp_path: Path, validation: bool = True) -> Path:
    _news(tmp_path / "news.jsonl")
    (tmp_path / "gmb.csv").write_bytes(SAMPLE_LABELLED.read_bytes())
    body = ('[[corpus]]\nname = "gmb"\npath = "gmb.csv"\nformat = "gmb"\n\n'
            '[[corpus]]\nname = "news"\npath = "news.jsonl"\nid_column = "doc_id"\nspans_column = "toponyms"\n'
            'type_field = "type"\ntypes = { CITY = "*" }\nheldout = "sha256-mod5"\n'
            + ('validation = "sha256-mod5=1"\n' if validation else ""))
    p = tmp_path / "spec.toml"
    p.write_text(body)
    return p


def _read(spec_path: Path, with_heldout: bool = False):
    opts = TrainOptions(train=[], output=str(spec_path.parent / "o"), spec=str(spec_path), with_heldout=with_heldout)
    return read_training_sentences(opts, load_spec(spec_path))


def test_validation_documents_are_chosen_by_id_and_never_trained_on(tmp_path):
    spec = _spec(tmp_path)
    ids = [f"d{i}" for i in range(40)]
    chosen = {i for i in ids if is_validation(i, "sha256-mod5=1")}
    held_back = {i for i in ids if is_heldout(i, "sha256-mod5")}
    assert chosen and held_back and not chosen & held_back

    sents, groups, selected = _read(spec)
    trained = {s.id for s, g in zip(sents, groups) if g == 1}
    assert trained == set(ids) - chosen - held_back
    assert {s.id for s, g in selected} == chosen and {g for _, g in selected} == {1}
    assert all("B-*" in s.tags for s, _ in selected)  # read and mapped like the training documents
    # the final model trains on the held-back fifth too, but still chooses its epochs on the same documents
    sents, groups, selected = _read(spec, with_heldout=True)
    assert {s.id for s, g in zip(sents, groups) if g == 1} == set(ids) - chosen
    assert {s.id for s, _ in selected} == chosen


def test_without_the_key_nothing_is_chosen(tmp_path):
    sents, groups, selected = _read(_spec(tmp_path, validation=False))
    assert selected == [] and len([g for g in groups if g == 1]) == 40 - sum(is_heldout(f"d{i}", "sha256-mod5") for i in range(40))


@pytest.mark.train
@pytest.mark.slow
def test_training_chooses_on_the_documents_and_reports_each_corpus(tmp_path, capsys):
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from geobatch.cli import main
    from tests.run_helpers import one_error_line

    spec = _spec(tmp_path)
    base = build_tiny_base(tmp_path / "base")
    args = ["train", "--spec", str(spec), "--base-model", str(base), "--epochs", "1", "--batch-size", "16",
            "--max-length", "64", "--learning-rate", "1e-3", "--log-every", "100"]
    assert main([*args, "--output", str(tmp_path / "ck")]) == 0
    meta = json.loads((tmp_path / "ck" / "training.json").read_text())
    chosen = sum(is_validation(f"d{i}", "sha256-mod5=1") for i in range(40))
    assert meta["validation_source"].endswith(f"+ {chosen} documents by the corpora's validation rules")
    by_corpus = meta["history"][0]["by_corpus"]
    assert set(by_corpus) == {"gmb", "news"}
    assert all(0.0 <= v["entity_f1"] <= 1.0 for v in by_corpus.values())
    assert "validation F1 by corpus: gmb" in capsys.readouterr().out
    # a --validation file as well would make two slices: refused before anything is built
    assert main([*args, "--validation", str(SAMPLE_LABELLED), "--output", str(tmp_path / "ck2")]) == 2
    assert "both choose the validation slice" in one_error_line(capsys)
    assert not (tmp_path / "ck2").exists()
