"""A name after a personal title is a person's (geobatch/decode/titles.py): GMB train writes "Mr.
Karzai" as geo 190 times, and a model trained on it put "Mr Mandela" on the map."""

import json

import pytest
from run_helpers import read, run
from tiny_onnx import tiny_onnx_dir  # noqa: F401

from geobatch.decode.titles import TITLE_BEFORE


@pytest.mark.parametrize("before, title", [
    ("said Mr ", True), ("Mr. ", True), ("Mrs  ", True), ("Dr. ", True), ("Prof ", True), ("Ms ", True),
    ("St. ", False), ("Mt ", False), ("mr ", False), ("MDr ", False), ("e.Dr ", False), ("Mr", False),
])
def test_a_title_is_a_capitalised_title_word_right_before_the_name(before, title):
    assert bool(TITLE_BEFORE.search(before)) is title


def test_run_writes_no_place_after_a_title(tmp_path, tiny_onnx_dir):  # noqa: F811
    """The tiny model tags "london" and "paris" as places wherever they stand."""
    docs = [
        {"id": "cased", "text": "Mr London met Dr. Paris in Paris, then flew to London.",
         "spans": [{"start": 27, "end": 32, "label": "geo"}, {"start": 47, "end": 53, "label": "geo"}]},
        {"id": "lower", "text": "mr london met envoys in paris.", "spans": [{"start": 24, "end": 29, "label": "geo"}]},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", src, "--output", out, "--spans-column", "spans") == 0
    spans = sorted((s["doc_id"], s["start_char"], s["text"]) for s in read(out, "spans"))
    # a text lowercased as a whole has no capital to read a title by: it keeps its spans
    assert spans == [("cased", 27, "Paris"), ("cased", 47, "London"), ("lower", 3, "london"), ("lower", 24, "paris")]
    tags = {(t["doc_id"], t["start_char"]): t["tag"] for t in read(out, "tokens")}
    assert tags[("cased", 3)] == "B-geo"  # tokens/ keeps the model's own tag
    loc = json.loads((out / "metrics.json").read_text())["entity_level"]["location"]
    # gold 3 places, written 4 of which 3 right: the titled names are no false positives
    assert (loc["support"], loc["precision"], loc["recall"]) == (3, 0.75, 1.0), loc
