"""A state's press abbreviation after a place and a comma is a place too (geobatch/decode/states.py):
"Wheeling, W.Va." as issue 14's sentence writes it, where `make model`'s model left "W.Va." untagged."""

from __future__ import annotations

import json

import numpy as np
import pytest
from run_helpers import read, run
from tiny_onnx import build_tiny_model_dir

from geobatch.decode.arrays import ChunkWords, TagCodes, chunk_spans
from geobatch.decode.joins import tags_as_joined
from geobatch.decode.states import state_abbreviations, states_after_places
from geobatch.text.words import split_words

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe", "B-dem", "I-dem"]
PLACES = ("geo", "gpe")


def _states(text: str, tagged: dict[str, str]):
    """Decode `text` split as `geobatch run` splits it, each word tagged as `tagged` says (else O)."""
    ws, offsets = split_words(text)
    codes = TagCodes(LABELS)
    idx = np.array([LABELS.index(tagged.get(w, "O")) for w in ws], np.int64)
    conf = np.linspace(0.9, 0.5, len(ws)).astype(np.float32)
    words = ChunkWords([0], np.array([0, len(ws)]), np.zeros(len(ws), np.int64), idx, conf,
                       np.array([a for a, _ in offsets]), np.array([b for _, b in offsets]))
    spans = chunk_spans(idx, conf, words.doc, codes, PLACES)
    out, added = states_after_places(spans, words, [text], codes, PLACES)
    written = [(text[words.starts[a]:words.ends[b - 1]], codes.types[t])
               for a, b, t in zip(out.word_start.tolist(), out.word_end.tolist(), out.type.tolist())]
    return written, added, out, words, codes


def test_the_issue_s_state_after_a_town_is_a_place_with_the_town_s_confidence():
    written, added, out, words, codes = _states("Officials in Wheeling, W.Va., said", {"Wheeling": "B-geo"})
    assert written == [("Wheeling", "geo"), ("W.Va.", "geo")]
    assert added == [(4, 5, codes.types.index("geo"))]
    # the rule rests on the town: its confidence, not the model's score for O on the abbreviation
    assert (out.confidence[1], out.confidence_min[1]) == (out.confidence[0], out.confidence_min[0])
    assert [codes.names[t] for t in tags_as_joined(words.tags, added, codes)][2:6] == ["B-geo", "O", "B-geo", "O"]


@pytest.mark.parametrize("text, tagged", [
    ("Officials in Wheeling W.Va. said", {"Wheeling": "B-geo"}),      # no comma
    ("Officials in Wheeling,  W.Va. said", {"Wheeling": "B-geo"}),    # two spaces
    ("Officials in Wheeling,\nW.Va. said", {"Wheeling": "B-geo"}),    # a line break
    ("Officials in Wheeling , W.Va. said", {"Wheeling": "B-geo"}),    # a space before the comma
    ("Asked Smith, Ga. said no", {}),                                 # no place before it
    ("French, Ga. said no", {"French": "B-dem"}),                     # a demonym is not a place
    ("Officials in Wheeling, Xy. said", {"Wheeling": "B-geo"}),       # not a state's abbreviation
])
def test_nothing_is_added_but_after_a_place_comma_and_one_space(text, tagged):
    written, added, *_ = _states(text, tagged)
    assert added == [] and all(w != "W.Va." for w, _ in written)


def test_an_abbreviation_the_model_tagged_keeps_the_model_s_span():
    written, added, *_ = _states("in Dalton, Ga., officials", {"Dalton": "B-geo", "Ga.": "B-gpe"})
    assert added == [] and written == [("Dalton", "geo"), ("Ga.", "gpe")]


def test_every_abbreviation_the_rule_knows_is_one_word_and_the_issue_s_are_among_them():
    known = state_abbreviations()
    assert {"W.Va.", "Ga.", "Calif.", "N.J.", "D.C."} <= known
    for form in known:
        ws, _ = split_words(f"Springfield, {form}, said")
        assert form in ws, form


def test_canadian_provinces_and_other_press_forms_are_found_but_sentence_ends_are_not_kept_whole():
    known = state_abbreviations()
    assert {"Ont.", "Que.", "Alta.", "Sask.", "Nfld.", "Oreg.", "Wisc."} <= known
    written, added, *_ = _states("Officials in Toronto, Ont., said", {"Toronto": "B-geo"})
    assert written == [("Toronto", "geo"), ("Ont.", "geo")] and len(added) == 1
    # a name that ends a sentence keeps its full stop apart: "Man." and "Penn." are not in the splitter's list
    for text, name in (("a film called Iron Man.", "Man"), ("said the actor Sean Penn.", "Penn")):
        ws, _ = split_words(text)
        assert ws[-2:] == [name, "."], ws


def test_run_writes_the_state_as_a_place_and_scores_it(tmp_path):
    """A tiny model that tags only "wheeling": the run writes W.Va. too, and the metrics count it found."""
    model = build_tiny_model_dir(tmp_path / "m", labels=LABELS, word_labels={"wheeling": "B-geo"}, max_length=32)
    text = "Officials in Wheeling, W.Va., said the river rose."
    gold = [{"start": 13, "end": 21, "label": "geo"}, {"start": 23, "end": 28, "label": "geo"}]
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": text, "spans": gold}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", model, "--input", src, "--output", out, "--spans-column", "spans") == 0
    assert sorted((s["start_char"], s["text"], s["label"]) for s in read(out, "spans")) == [
        (13, "Wheeling", "geo"), (23, "W.Va.", "geo")]
    tags = [t["tag"] for t in sorted(read(out, "tokens"), key=lambda t: t["word_index"])]
    assert tags[2:5] == ["B-geo", "O", "O"]  # tokens/ keeps the model's own tags
    loc = json.loads((out / "metrics.json").read_text())["entity_level"]["location"]
    assert (loc["support"], loc["precision"], loc["recall"]) == (2, 1.0, 1.0), loc


def test_a_tagged_comma_keeps_the_spans_in_word_order():
    # the comma a (bad) model tagged is a span of its own; nothing is added before it
    written, added, out, *_ = _states("in Wheeling, W.Va. said", {"Wheeling": "B-geo", ",": "B-geo"})
    assert added == [] and out.word_start.tolist() == sorted(out.word_start.tolist())
