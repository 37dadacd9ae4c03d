"""Place names begin with a capital, in text that capitalises names (geobatch/decode/casing.py): the
uncased encoder cannot tell "turkeys" from "Turkey", or "eastern Ghouta" from "Eastern Visayas"; the
text can."""

import json

import pytest
from run_helpers import read, run
from tiny_onnx import build_tiny_model_dir, tiny_onnx_dir  # noqa: F401

from geobatch.decode.casing import capitalises_names, written_in_lowercase


@pytest.mark.parametrize("text,lower", [
    ("bush", True), ("inner-west", True), ("www.hideaway.co.uk", True), ("москва", True), ("Bush", False),
    ("São Paulo", False), ("east London", False), ("北京", False), ("თბილისი", False), ("30", False), ("-", False),
])
def test_written_in_lowercase_counts_only_scripts_that_capitalise_names(text, lower):
    assert written_in_lowercase(text) is lower


def test_a_document_capitalises_names_when_enough_of_its_words_start_with_a_capital():
    assert capitalises_names("Floods hit Paris on Monday, officials said.")
    assert not capitalises_names("floods hit paris on monday, officials said.")
    assert not capitalises_names("北京 东京")  # no capitalising script at all
    # one capital among 25 words: under 5 %, a lowercased text with a stray capital
    assert not capitalises_names("I " + "word " * 24)
    assert capitalises_names("I " + "word " * 18)


def test_run_drops_lowercase_places_only_where_the_text_capitalises_names(tmp_path, tiny_onnx_dir):  # noqa: F811
    """The tiny model tags "paris" whatever its case. In cased text "plaster of paris" is no place and
    the metrics do not count it; a text lowercased as a whole keeps its places."""
    docs = [
        {"id": "cased", "text": "We sold plaster of paris in Paris and London.",
         "spans": [{"start": 27, "end": 32, "label": "geo"}, {"start": 37, "end": 43, "label": "geo"}]},
        {"id": "lower", "text": "we sold plaster of paris in paris and london.",
         "spans": [{"start": 27, "end": 32, "label": "geo"}, {"start": 37, "end": 43, "label": "geo"}]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", src, "--output", out, "--spans-column", "spans") == 0
    spans = sorted((s["doc_id"], s["text"]) for s in read(out, "spans"))
    assert spans == [("cased", "London"), ("cased", "Paris"), ("lower", "london"), ("lower", "paris"), ("lower", "paris")]
    # tokens/ keeps the model's own tag for every word
    tags = {(t["doc_id"], t["start_char"]): t["tag"] for t in read(out, "tokens")}
    assert tags[("cased", 19)] == "B-geo"
    metrics = json.loads((out / "metrics.json").read_text())
    loc = metrics["entity_level"]["location"]
    # gold: 4 places; predicted: 2 (cased) + 3 (lower), 4 right; the dropped "paris" is no false positive
    assert (loc["support"], loc["precision"], loc["recall"]) == (4, 0.8, 1.0), loc
    assert metrics["token_level"]["location"]["precision"] == 0.8


def test_run_cuts_lowercase_leading_words_off_a_place(tmp_path):
    """"eastern Syria" is the place Syria, as the news corpora write it; "north-west" is one word; a
    capitalised first word ("Eastern Europe") stays; a text lowercased as a whole keeps its spans whole."""
    model = build_tiny_model_dir(tmp_path / "m", word_labels={
        "eastern": "B-geo", "syria": "I-geo", "north": "B-geo", "-": "I-geo", "west": "I-geo", "pakistan": "I-geo",
        "europe": "I-geo"})
    texts = {"cased": "Shells fell on eastern Syria and north-west Pakistan, not on Eastern Europe.",
             "lower": "shells fell on eastern syria today."}
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()), encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", model, "--input", src, "--output", out) == 0
    spans = sorted((s["doc_id"], s["text"], s["start_char"]) for s in read(out, "spans"))
    assert [(d, t) for d, t, _ in spans] == [("cased", "Eastern Europe"), ("cased", "Pakistan"), ("cased", "Syria"),
                                             ("lower", "eastern syria")]
    assert all(texts[d][a:a + len(t)] == t for d, t, a in spans)
