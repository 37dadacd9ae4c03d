"""No dash, comma, "&" or quote mark at a span's edge, and no span of punctuation alone
(geobatch/decode/edges.py): "Portugal &", "Chad -" and a lone "&" were written as places."""

from __future__ import annotations

import json

import pytest
from run_helpers import decode_chunk, read, run
from tiny_onnx import build_tiny_model_dir

from geobatch.decode.edges import edge_punctuation_off

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]


def _written(text: str, tags: list[str]):
    words, spans, codes = decode_chunk(text, tags, LABELS)
    out, cut = edge_punctuation_off(spans, words, [text])
    return [text[words.starts[a]:words.ends[b - 1]] for a, b in zip(out.word_start.tolist(), out.word_end.tolist())], cut, out, words


@pytest.mark.parametrize("text, tags, written", [
    ("Portugal & Spain", ["B-geo", "I-geo", "O"], ["Portugal"]),
    ("- Chad -", ["B-geo", "I-geo", "I-geo"], ["Chad"]),
    ("Washington, then", ["B-geo", "I-geo", "O"], ["Washington"]),
    ("rock & roll", ["O", "B-geo", "O"], []),
    ("“ ’", ["B-geo", "I-geo"], []),
    # periods and brackets stay: names end with them
    ("Washington D.C.", ["B-geo", "I-geo", "I-geo", "I-geo", "I-geo"], ["Washington D.C."]),
    ("Congo (Kinshasa)", ["B-gpe", "I-gpe", "I-gpe", "I-gpe"], ["Congo (Kinshasa)"]),
    ("Guinea-Bissau", ["B-gpe", "I-gpe", "I-gpe"], ["Guinea-Bissau"]),
])
def test_punctuation_at_a_span_s_edges_is_cut_off(text, tags, written):
    assert _written(text, tags)[0] == written


def test_cut_words_and_the_confidence_left():
    got, cut, out, words = _written("Portugal & Spain", ["B-geo", "I-geo", "O"])
    assert cut == [(1, 2)]
    assert out.confidence[0] == pytest.approx(float(words.conf[0]))


def test_run_writes_the_name_without_its_punctuation(tmp_path):
    """A tiny model that tags "paris" B-geo and "&" I-geo wherever they stand: "Paris &" is written "Paris"."""
    model = build_tiny_model_dir(tmp_path / "m", word_labels={"paris": "B-geo", "&": "I-geo", "-": "B-geo"})
    text = "Paris & Lyon signed - and left."
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": text, "spans": [{"start": 0, "end": 5, "label": "geo"}]}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", model, "--input", src, "--output", out, "--spans-column", "spans") == 0
    assert [(s["start_char"], s["text"]) for s in read(out, "spans")] == [(0, "Paris")]
    tags = [t["tag"] for t in sorted(read(out, "tokens"), key=lambda t: t["word_index"])]
    assert tags[:2] == ["B-geo", "I-geo"]  # tokens/ keeps the model's own tags
    loc = json.loads((out / "metrics.json").read_text())["entity_level"]["location"]
    assert (loc["support"], loc["precision"], loc["recall"]) == (1, 1.0, 1.0), loc
