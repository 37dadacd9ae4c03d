"""bench/recognition.py's pieces: GMB sentences as raw text, the held-back rule, span scoring."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import recognition  # noqa: E402


def test_detokenize_lays_out_gmb_words_as_raw_text():
    words = ["Officials", "in", "Washington", ",", "D.C.", "(", "the", "capital", ")", "said", '"', "no", '"', "on", "Bush", "'s", "plan", "."]
    text, offsets = recognition.detokenize(words)
    assert text == 'Officials in Washington, D.C. (the capital) said "no" on Bush\'s plan.'
    assert [text[a:b] for a, b in offsets] == words


def test_gmb_raw_documents_turn_tags_into_character_spans(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("Sentence #,Word,POS,Tag\nSentence: 1,Troops,NNS,O\n,left,VBD,O\n,New,NNP,B-geo\n,York,NNP,I-geo\n,for,IN,O\n,Iraq,NNP,B-gpe\n,.,.,O\n")
    (doc,) = recognition.gmb_raw_documents(p)
    assert doc["text"] == "Troops left New York for Iraq."
    assert [(doc["text"][s["start"]:s["end"]], s["label"]) for s in doc["toponyms"]] == [("New York", "geo"), ("Iraq", "gpe")]


def test_score_exact_and_overlap():
    gold = {"a": {(0, 5), (10, 20)}, "b": {(3, 8)}}
    pred = {"a": {(0, 5), (10, 15)}, "b": set(), "c": {(1, 2)}}
    s = recognition.score(gold, pred)
    # documents are those with gold (possibly empty): "c" is not one of the evaluation set
    assert (s["gold"], s["predicted"]) == (3, 2)
    assert s["exact"] == {"precision": 0.5, "recall": pytest.approx(1 / 3, abs=1e-4), "f1": 0.4}
    # overlap: (10, 15) touches (10, 20)
    assert s["overlap"] == {"precision": 1.0, "recall": pytest.approx(2 / 3, abs=1e-4), "f1": 0.8}


def test_held_back_documents_use_the_training_rule(tmp_path):
    from training.spec import is_heldout

    p = tmp_path / "c.jsonl"
    p.write_text("".join('{"doc_id": "%d", "text": "x", "toponyms": []}\n' % i for i in range(50)))
    got = [d["doc_id"] for d in recognition.held_back_documents(p, "sha256-mod5")]
    assert got == [str(i) for i in range(50) if is_heldout(str(i), "sha256-mod5")] and got
    assert len(recognition.held_back_documents(p, "all")) == 50


def test_without_the_corpora_it_exits_2(tmp_path, capsys):
    assert recognition.main(["--model", str(tmp_path), "--data", str(tmp_path / "none")]) == 2
    assert "pass --data" in capsys.readouterr().err


def test_spacy_spans_keep_the_asked_types_trimmed():
    from types import SimpleNamespace as NS

    docs = [{"doc_id": "a", "text": "French troops left Paris ."}]
    parsed = [NS(ents=[NS(start_char=0, end_char=6, label_="NORP"), NS(start_char=19, end_char=25, label_="GPE")])]
    assert recognition.spacy_spans(docs, parsed, recognition.SPACY_PLACES) == {"a": {(19, 24)}}
    with_demonyms = recognition.SPACY_PLACES + (recognition.SPACY_DEMONYMS,)
    assert recognition.spacy_spans(docs, parsed, with_demonyms) == {"a": {(0, 6), (19, 24)}}
