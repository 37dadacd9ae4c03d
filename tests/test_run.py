"""End to end: `geobatch run` on CSV, Parquet and JSONL; windows; offsets; metrics; exit codes."""

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from tiny_onnx import CONFIDENCE, expected_tag, tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.decode.joins import ARTICLES, known_place_name
from geobatch.text.words import split_words

DOCS = [
    ("d1", "We flew from Paris to London, then on to France."),
    ("d2", ""),
    ("d3", "Café in Zu\u0308rich 😀 then 東京 and Berlin, Germany!"),
    ("d4", "   "),
    ("d5", "New York is not the United Kingdom."),
    ("d6", "مرحبا Paris שלום"),
]


def write_input(tmp_path, fmt, docs=DOCS):
    ids, texts = [d[0] for d in docs], [d[1] for d in docs]
    p = tmp_path / f"in.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.table({"id": ids, "text": texts}), p)
    elif fmt == "csv":
        pcsv.write_csv(pa.table({"id": ids, "text": texts}), p)
    else:
        p.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in docs), encoding="utf-8")
    return p


def run(*args):
    # the gazetteer resolver is tested by its own module; these tests check the runner's own output
    return main(["run", "--quiet", "--no-resolve", *map(str, args)])


def read(out, table):
    return pq.read_table(out / table).to_pylist()


def expected_spans(docs=DOCS):
    """What the context-free tiny model must produce, worked out from the words alone."""
    out = []
    for doc_id, text in docs:
        words, offsets = split_words(text)
        n = 0
        for i, (w, (s, e)) in enumerate(zip(words, offsets)):
            tag = expected_tag(w)
            if tag != "O":  # every tagged word of these texts starts its own span (no I- follows a B- of its type)
                if i and expected_tag(words[i - 1]) == "O" and words[i - 1][:1].isupper() and words[i - 1] not in ARTICLES \
                        and text[offsets[i - 1][1]:s] == " " and known_place_name(text[offsets[i - 1][0]:e]):
                    s = offsets[i - 1][0]  # "New" + "York": an untagged first word of a place's name joins it
                out.append((doc_id, n, s, e, text[s:e], tag[2:]))
                n += 1
    return sorted(out)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_end_to_end_formats(tmp_path, tiny_onnx_dir, fmt):  # noqa: F811
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", write_input(tmp_path, fmt), "--output", out, "--chunk-size", 4) == 0
    docs = {d["doc_id"]: d for d in read(out, "docs")}
    assert [docs[i]["status"] for i, _ in DOCS] == ["ok", "empty", "ok", "empty", "ok", "ok"]
    spans = read(out, "spans")
    got = sorted((s["doc_id"], s["span_index"], s["start_char"], s["end_char"], s["text"], s["label"]) for s in spans)
    assert got == expected_spans()
    text = dict(DOCS)
    for s in spans:
        assert text[s["doc_id"]][s["start_char"]:s["end_char"]] == s["text"]
        assert s["confidence"] == pytest.approx(CONFIDENCE, rel=1e-5) and s["geonameid"] is None
    tokens = read(out, "tokens")
    assert len(tokens) == sum(len(split_words(t)[0]) for _, t in DOCS)
    assert all(text[t["doc_id"]][t["start_char"]:t["end_char"]] == t["word"] for t in tokens)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and manifest["reconciled"] and manifest["input_rows"] == len(DOCS)
    assert manifest["rows"] == {"docs": len(DOCS), "tokens": len(tokens), "spans": len(spans)}
    assert len(manifest["units"]) == 2 and manifest["provider"].endswith("ExecutionProvider")
    assert 0 <= manifest["padding_fraction"] < 1 and manifest["job"]["model_sha256"]
    part = out / manifest["units"]["00000-000000"]["parts"]["tokens"]
    assert pq.ParquetFile(part).metadata.row_group(0).column(0).compression == "ZSTD"
    assert not (out / "metrics.json").exists()


def test_document_three_times_max_length(tmp_path, tiny_onnx_dir):  # noqa: F811
    # max_length 16 -> 14 wordpieces a window; 48+ words with multi-piece ones -> several windows
    words = []
    for i in range(48):
        words.append(["Paris", "unaffable", "東京", "😀", "London", "x", "Germany", "é\u0301t"][i % 8])
    text = " ".join(words)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", write_input(tmp_path, "jsonl", [("long", text)]), "--output", out, "--stride", 4) == 0
    (doc,) = read(out, "docs")
    assert doc["n_windows"] >= 3 and doc["n_tokens"] > 3 * 16
    tokens = sorted(read(out, "tokens"), key=lambda t: t["word_index"])
    want_words, want_offsets = split_words(text)
    assert [t["word"] for t in tokens] == want_words
    assert [(t["start_char"], t["end_char"]) for t in tokens] == want_offsets
    assert [t["tag"] for t in tokens] == [expected_tag(w) for w in want_words]
    assert all(t["confidence"] is not None for t in tokens if t["word"] != "😀")  # emoji is [UNK]: still a piece


def test_id_column_absent_uses_row_number(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "Paris"}\n{"text": "London"}\n')
    out = tmp_path / "out"
    assert main(["run", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(p), "--output", str(out)]) == 0
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["0", "1"]
    err = capsys.readouterr().err
    assert err.count("no id column 'id'") == 1


def test_error_rows_and_exit_codes(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a", "text": "Paris"}\n{"id": "b", "text": 5}\n{oops\n{"id": "d", "text": null}\n')
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1
    docs = {d["doc_id"]: d for d in read(out, "docs")}
    assert len(docs) == 4
    assert docs["a"]["status"] == "ok" and docs["d"]["status"] == "empty"
    assert docs["b"]["status"] == "error" and "not a string" in docs["b"]["error"]
    assert docs["2"]["status"] == "error" and "line 3 is not JSON" in docs["2"]["error"]
    # same job rerun: nothing left to do, but the tolerance now covers 2 errors of 4 rows
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--max-error-rate", "0.5") == 0
    assert len(read(out, "docs")) == 4


def test_usage_errors_exit_2_and_touch_nothing(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.csv"
    p.write_text("id,body\n1,x\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
    assert "has no column 'text' (it has id, body)" in capsys.readouterr().err
    assert not out.exists()
    assert run("--model", tmp_path / "nope", "--input", p, "--output", out) == 2


GMB = """Sentence #,Word,POS,Tag
Sentence: 1,Paris,NNP,B-geo
,and,CC,O
,France,NNP,B-gpe
,met,VBD,O
,John,NNP,B-per
Sentence: 2,New,NNP,B-geo
,York,NNP,I-geo
,is,VBZ,O
,big,JJ,O
"""


def test_gmb_gold_metrics(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = tmp_path / "g.csv"
    p.write_text(GMB)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--format", "gmb", "--output", out) == 0
    tokens = {(t["doc_id"], t["word"]): t for t in read(out, "tokens")}
    # per is not a type of the model: tokens/ keeps the gold's word, the metrics score it as O and say so
    assert tokens[("Sentence: 1", "John")]["gold_tag"] == "B-per"
    assert tokens[("Sentence: 2", "York")]["tag"] == "I-geo"
    m = json.loads((out / "metrics.json").read_text())
    assert m["gold_types_not_predicted"] == {"per": 1}
    # gold entities: geo Paris, gpe France, geo "New York"; predicted: geo Paris, gpe France, and geo "York", which
    # decoding joins with the untagged "New" before it into the place name "New York" (decode/joins.py)
    ent = m["entity_level"]
    assert ent["micro"]["precision"] == pytest.approx(1.0) and ent["micro"]["recall"] == pytest.approx(1.0)
    assert ent["per_label"]["gpe"]["f1"] == 1.0 and ent["per_label"]["geo"]["precision"] == pytest.approx(1.0)
    geo = m["token_level"]["per_category"]["geo"]  # words Paris New York: all three, as joined
    assert (geo["tp"], geo["fp"], geo["fn"]) == (3, 0, 0) and geo["accuracy"] == pytest.approx(1.0)


def test_gold_spans_column_metrics(tmp_path, tiny_onnx_dir):  # noqa: F811
    text = "From Paris to Lyon."
    p = tmp_path / "in.jsonl"
    p.write_text(json.dumps({"doc_id": "x", "text": text, "toponyms": [{"start": 5, "end": 10}, {"start": 14, "end": 18}]}) + "\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--id-column", "doc_id", "--spans-column", "toponyms", "--output", out) == 0
    loc = json.loads((out / "metrics.json").read_text())["entity_level"]["location"]
    assert loc["precision"] == 1.0 and loc["recall"] == 0.5 and loc["support"] == 2


def test_runner_imports_no_tensorflow(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = write_input(tmp_path, "jsonl")
    code = (
        "import sys\nfrom geobatch.cli import main\n"
        f"rc = main(['run', '--quiet', '--no-resolve', '--model', {str(tiny_onnx_dir)!r}, '--input', {str(p)!r}, '--output', {str(tmp_path / 'o')!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf2onnx', 'tf_keras', 'keras', 'training'))\n"
        "print(rc, bad)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "0 []", res.stderr
