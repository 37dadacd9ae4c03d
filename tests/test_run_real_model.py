"""One end-to-end run with a real exported model (the training helper's `tiny_model_dir`, built with
TensorFlow): the runner must take the exporter's model directory as it is."""

import json

import pyarrow.parquet as pq
import pytest

from geobatch.cli import main
from geobatch.text.words import split_words

pytestmark = [pytest.mark.train, pytest.mark.slow]


@pytest.fixture
def exported_model(request):
    try:
        return request.getfixturevalue("tiny_model_dir")
    except pytest.FixtureLookupError:
        pytest.skip("no tiny_model_dir fixture (tests/conftest.py from the training issue)")


def test_run_with_exported_model(tmp_path, exported_model):
    texts = ["Troops moved from Baghdad to Basra on Monday .", "", "A long text " * 60 + "ending in Paris 😀 東京."]
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps({"id": str(i), "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", "--quiet", "--no-resolve", "--model", str(exported_model), "--input", str(p), "--output", str(out), "--stride", "8"]) == 0
    card = json.loads((exported_model / "model_card.json").read_text())
    tokens = pq.read_table(out / "tokens").to_pylist()
    assert len(tokens) == sum(len(split_words(t)[0]) for t in texts)
    assert {t["tag"] for t in tokens} <= set(card["labels"])
    for t in tokens:
        assert texts[int(t["doc_id"])][t["start_char"]:t["end_char"]] == t["word"]
    for s in pq.read_table(out / "spans").to_pylist():
        assert texts[int(s["doc_id"])][s["start_char"]:s["end_char"]] == s["text"]
    docs = {d["doc_id"]: d for d in pq.read_table(out / "docs").to_pylist()}
    assert docs["2"]["n_windows"] > 1 and docs["1"]["status"] == "empty"
