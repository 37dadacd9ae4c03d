"""`geobatch run` on inputs a scheduled job meets in real corpora, beyond the bad-input catalogue
(tests/test_bad_input.py): each test here once failed (a crash, a lost id, a silently skipped or
misread file). Samples are written inline into tmp_path; the model is the context-free tiny ONNX one.
"""

import gzip
import json

import pyarrow.parquet as pq
import pytest
from tiny_onnx import expected_tag, tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.words import split_words


def run(*args):
    return main(["run", "--quiet", "--no-resolve", *map(str, args)])


def read(out, table):
    return pq.read_table(out / table).to_pylist()


def docs_by_id(out):
    return {d["doc_id"]: d for d in read(out, "docs")}


def manifest(out):
    return json.loads((out / "manifest.json").read_text())


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], err
    return lines[0]


def assert_contract(out, texts):
    """Offsets slice the documents exactly, and every word of every ok document has its tag."""
    tokens = read(out, "tokens")
    for t in tokens:
        assert texts[t["doc_id"]][t["start_char"]:t["end_char"]] == t["word"]
    for s in read(out, "spans"):
        assert texts[s["doc_id"]][s["start_char"]:s["end_char"]] == s["text"]
    for doc_id, d in docs_by_id(out).items():
        if d["status"] == "ok":
            words = [t for t in sorted(tokens, key=lambda t: t["word_index"]) if t["doc_id"] == doc_id]
            assert [w["word"] for w in words] == split_words(texts[doc_id])[0]
            assert [w["tag"] for w in words] == [expected_tag(w["word"]) for w in words]


# -- lone surrogates (JSON "\ud83d" escapes: emoji cut in half by UTF-16 truncation, common in tweets) --

def test_lone_surrogates_in_jsonl_keep_the_row_and_its_id(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """A lone surrogate in an id crashed the whole job with a traceback (Arrow cannot encode it); one
    in a text made an error row under the row number instead of the record's id, with Python's
    exception text as the reason."""
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"id": "t1", "text": "Paris \\ud83d London"}\n'
                  b'{"id": "bad\\udc80id", "text": "Berlin"}\n'
                  b'{"id": "t3", "text": "whole \\ud83d\\ude00 emoji in Paris"}\n')
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1  # one error row, rate 0
    assert "Traceback" not in capsys.readouterr().err
    docs = docs_by_id(out)
    assert set(docs) == {"t1", "bad\ufffdid", "t3"}
    assert docs["t1"]["status"] == "error"
    assert docs["t1"]["error"] == "text is not valid Unicode (a lone surrogate '\\ud83d' at character 6)"
    assert docs["bad\ufffdid"]["status"] == docs["t3"]["status"] == "ok"
    assert_contract(out, {"t3": "whole \U0001f600 emoji in Paris", "bad\ufffdid": "Berlin"})
    assert manifest(out)["status"] == {"ok": 2, "empty": 0, "error": 1}
