"""The bad-input catalogue (issue 5): each case says what is wrong and what to do, in one line.

Whole-input and model problems stop `geobatch run` with exit code 2 before OUT_DIR is created;
a problem with one row makes that row `error` (or `empty`) and the job goes on. Every input row
yields exactly one docs/ row and manifest.json reconciles input rows with docs rows.
"""

import errno
import json
import os
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from tiny_onnx import expected_tag, tiny_onnx_dir  # noqa: F401
from run_helpers import docs_by_id, manifest, one_error_line, read, run

import geobatch.io.check
import geobatch.io.write
from geobatch.cli import main
from geobatch.text.words import split_words


def usage_error(capsys, tmp_path, model, *inputs, extra=()) -> str:
    """Exit 2, one line, and OUT_DIR never created: nothing was committed."""
    out = tmp_path / "out"
    args = ["--model", model, *[a for i in inputs for a in ("--input", i)], "--output", out, *extra]
    assert run(*args) == 2
    assert not out.exists()
    return one_error_line(capsys)


def accounted(out, n_rows):
    """Every input row has exactly one docs/ row, and the manifest says so."""
    m = manifest(out)
    docs = read(out, "docs")
    assert len(docs) == n_rows == m["input_rows"] == m["rows"]["docs"]
    assert m["reconciled"] and m["complete"]
    assert sum(m["status"].values()) == n_rows
    return m


def write_jsonl(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path


# -- whole-input problems: exit 2, nothing written -------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_missing_text_column_lists_the_columns(tmp_path, tiny_onnx_dir, capsys, fmt):  # noqa: F811
    p = tmp_path / f"in.{fmt}"
    table = pa.table({"id": ["1"], "body": ["Paris"], "lang": ["en"]})
    if fmt == "csv":
        pcsv.write_csv(table, p)
    elif fmt == "parquet":
        pq.write_table(table, p)
    else:
        write_jsonl(p, table.to_pylist())
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg == f"error: {p} has no column 'text' (it has id, body, lang); pass --text-column NAME"


def test_every_input_is_checked_before_anything_is_written(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    good = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": "Paris"}])
    bad = tmp_path / "b.csv"
    bad.write_text("id,body\n1,x\n")
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, good, bad)
    assert "b.csv has no column 'text' (it has id, body)" in msg


def test_non_string_text_column_in_parquet(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": [1, 2]}), p)
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg == (f"error: {p}: column 'text' holds int64, not text; "
                   "pass --text-column naming a string column, or convert that column to string")


def test_invalid_utf8_in_csv_header(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.csv"
    p.write_bytes(b"id,te\xffxt\n1,Paris\n")
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg == f"error: {p} has a header line that is not valid UTF-8; save the file as UTF-8"


def test_empty_csv_file(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.csv"
    p.write_bytes(b"")
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg == f"error: {p} is empty (not even a header line); remove it from the inputs, or give it a header with a 'text' column"


def _parquet(path, n=400, row_group_size=100):
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"Paris doc {i} " * 5 for i in range(n)]}),
                   path, row_group_size=row_group_size, compression="zstd")
    return path


def test_truncated_parquet(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    good = _parquet(tmp_path / "good.parquet")
    p = tmp_path / "cut.parquet"
    p.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, good, p)  # the good file first: still nothing written
    assert msg.startswith(f"error: {p} is not a readable Parquet file (Parquet magic bytes not found in footer")
    assert msg.endswith("; replace the file (it may be truncated or corrupt)")


def test_corrupt_parquet_footer(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = _parquet(tmp_path / "in.parquet")
    data = bytearray(p.read_bytes())
    footer_len = int.from_bytes(data[-8:-4], "little")
    for i in range(len(data) - 8 - footer_len, len(data) - 8):
        data[i] ^= 0x5A  # the footer (file metadata) is garbage, the magic bytes are intact
    p.write_bytes(bytes(data))
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg.startswith(f"error: {p} is not a readable Parquet file (") and msg.endswith("; replace the file (it may be truncated or corrupt)")


def test_corrupt_parquet_data_page_found_mid_file(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """A footer that reads fine but a damaged page further in: only reading finds it. The job stops
    with exit 2 naming the row; units before it stay committed, nothing after it is written."""
    p = _parquet(tmp_path / "in.parquet")
    col = pq.ParquetFile(p).metadata.row_group(2).column(1)  # rows 200-299, column text
    data = bytearray(p.read_bytes())
    for i in range(col.dictionary_page_offset + 40, col.dictionary_page_offset + 48):
        data[i] ^= 0xFF  # inside the compressed dictionary page
    p.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 100) == 2
    msg = one_error_line(capsys)
    assert msg.startswith(f"error: {p} could not be read past row 200 (")
    assert msg.endswith("; repair or replace the file, then rerun (with --overwrite if the file changed); units before row 200 are kept")
    m = manifest(out)
    assert sorted(m["units"]) == ["00000-000000", "00000-000001"] and not m["complete"]
    assert len(read(out, "docs")) == 200
    assert not (out / ".geobatch.lock").exists() and not (out / "units.jsonl").exists()


def test_empty_input_directory(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    d = tmp_path / "inbox"
    d.mkdir()
    (d / ".hidden.csv").write_text("id,text\n1,Paris\n")  # hidden files are not inputs
    (d / "scan.pdf").write_bytes(b"%PDF-1.4")  # neither are unknown extensions
    (d / "notes.txt").write_text("not an input")
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, d)
    assert msg == (f"error: input directory {d} holds no input files (2 file(s) with other extensions, e.g. notes.txt); "
                   "put .conll, .csv, .json, .jsonl, .ndjson, .parquet, .pq files there, pass files, or pass --format to read other extensions")
    (d / "scan.pdf").unlink()
    (d / "notes.txt").unlink()
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, d)
    assert msg.startswith(f"error: input directory {d} holds no input files; put .conll, .csv")


def test_plain_text_files_get_a_command_that_gathers_them(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """A folder of .txt files (one document each) is not a corpus geobatch reads; the error gives a
    command that makes one, and that command works."""
    d = tmp_path / "letters"
    (d / "2024").mkdir(parents=True)
    (d / "a.txt").write_text("Floods hit Dhaka.\n", encoding="utf-8")
    (d / "2024" / "b.txt").write_text("Rain in Paris and São Paulo.", encoding="utf-8")
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, d)
    assert msg.startswith(f"error: input directory {d} holds only plain-text files (2, e.g. a.txt), not corpora; "
                          "geobatch reads one document per row: gather the files into JSONL first, e.g. python3 -c ")
    msg_file = usage_error(capsys, tmp_path, tiny_onnx_dir, d / "a.txt")
    assert msg_file.startswith(f"error: {d / 'a.txt'} is a plain-text file, not a corpus (Parquet, CSV or JSON Lines); ")
    command = msg.split("e.g. ", 2)[2].removesuffix(", then pass --input docs.jsonl")
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)
    out = tmp_path / "gathered"
    assert run("--model", tiny_onnx_dir, "--input", tmp_path / "docs.jsonl", "--output", out) == 0
    docs = docs_by_id(out)
    assert sorted(docs) == [f"{d}/2024/b.txt", f"{d}/a.txt"] and all(r["status"] == "ok" for r in docs.values())
    assert [docs[k]["n_words"] for k in sorted(docs)] == [len(split_words(t)[0]) for t in ("Rain in Paris and São Paulo.", "Floods hit Dhaka.")]


def test_unreadable_file_simulated(tmp_path, tiny_onnx_dir, capsys, monkeypatch):  # noqa: F811
    """The tests run as root, for whom permission bits do not bite, so the file is made unreadable by
    replacing `open` inside geobatch.io.check with one that refuses it (EACCES), as the kernel would."""
    p = tmp_path / "in.csv"
    p.write_text("id,text\n1,Paris\n")
    real_open = open

    def refusing_open(file, *a, **kw):
        if os.fspath(file) == str(p):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(geobatch.io.check, "open", refusing_open, raising=False)
    msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert msg == f"error: cannot read {p}: Permission denied; check its permissions (nothing was written)"


def test_unreadable_file_chmod(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "1", "text": "Paris"}\n')
    p.chmod(0)
    try:
        try:
            p.read_bytes()
            pytest.skip("permission bits do not bite here (running as root); see test_unreadable_file_simulated")
        except PermissionError:
            pass
        msg = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
        assert msg == f"error: cannot read {p}: Permission denied; check its permissions (nothing was written)"
    finally:
        p.chmod(0o644)


# -- model directory problems: exit 2, nothing written ---------------------------------------

@pytest.fixture
def corpus(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "Paris"}])


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("missing", ["model.onnx", "tokenizer.json", "model_card.json"])
def test_model_directory_missing_a_file(tmp_path, tiny_onnx_dir, corpus, capsys, missing):  # noqa: F811
    m = copy_model(tiny_onnx_dir, tmp_path / "model")
    (m / missing).unlink()
    msg = usage_error(capsys, tmp_path, m, corpus)
    assert msg == f"error: model directory {m} lacks {missing}; re-export it with `geobatch export` (it writes all three files)"


def test_model_card_labels_do_not_match_onnx_output(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    m = copy_model(tiny_onnx_dir, tmp_path / "model")
    card = json.loads((m / "model_card.json").read_text())
    card["labels"] = card["labels"][:3]
    (m / "model_card.json").write_text(json.dumps(card))
    msg = usage_error(capsys, tmp_path, m, corpus)
    assert msg == "error: model.onnx outputs 5 labels but the model card lists 3; re-export the model directory so card and graph agree"


def _add_onnx_input(model_dir, name):
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_dir / "model.onnx"))
    model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"]))
    onnx.save(model, str(model_dir / "model.onnx"))


def test_onnx_with_unexpected_inputs(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    m = copy_model(tiny_onnx_dir, tmp_path / "model")
    _add_onnx_input(m, "position_ids")
    # the card does not list it: graph and card disagree
    msg = usage_error(capsys, tmp_path, m, corpus)
    assert msg == ("error: model.onnx takes inputs ['attention_mask', 'input_ids', 'position_ids', 'token_type_ids'] but the model "
                   "card lists ['attention_mask', 'input_ids', 'token_type_ids']; re-export the model directory so card and graph agree")
    # the card lists it too: still not an input a token classifier can be fed
    card = json.loads((m / "model_card.json").read_text())
    card["inputs"].append({"name": "position_ids", "dtype": "int64"})
    (m / "model_card.json").write_text(json.dumps(card))
    msg = usage_error(capsys, tmp_path, m, corpus)
    assert msg == "error: model.onnx has unexpected inputs ['position_ids']; a token classifier takes only input_ids, attention_mask, token_type_ids"


def test_onnx_file_that_is_not_a_model(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    m = copy_model(tiny_onnx_dir, tmp_path / "model")
    (m / "model.onnx").write_bytes(b"this is not protobuf")
    msg = usage_error(capsys, tmp_path, m, corpus)
    assert msg.startswith(f"error: ONNX Runtime cannot load {m / 'model.onnx'}: ") and msg.endswith("; re-export the model directory")


# -- row problems: the row says why, the job goes on -----------------------------------------

def test_null_empty_and_whitespace_text_are_empty(tmp_path, tiny_onnx_dir):  # noqa: F811
    texts = {"null": None, "empty": "", "spaces": "   ", "blank": " \t\n\r\u3000 ", "ok": "Paris"}
    for fmt in ("jsonl", "parquet", "csv"):
        p, out = tmp_path / f"in.{fmt}", tmp_path / f"out-{fmt}"
        table = pa.table({"id": list(texts), "text": list(texts.values())})
        if fmt == "jsonl":
            write_jsonl(p, [*table.to_pylist(), {"id": "no-field"}])
        elif fmt == "parquet":
            pq.write_table(table, p)
        else:
            pcsv.write_csv(table, p)
        assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 0
        docs = docs_by_id(out)
        for doc_id in [*texts, "no-field"] if fmt == "jsonl" else texts:
            want = "ok" if doc_id == "ok" else "empty"
            assert docs[doc_id]["status"] == want and docs[doc_id]["error"] is None, (fmt, doc_id)
            assert docs[doc_id]["n_words"] == (1 if want == "ok" else 0)
        accounted(out, len(docs))
        assert {t["doc_id"] for t in read(out, "tokens")} == {"ok"}


def test_non_string_text_marks_the_row(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "int", "text": 5}, {"id": "float", "text": 1.5}, {"id": "bool", "text": True},
        {"id": "list", "text": ["Paris"]}, {"id": "dict", "text": {"a": 1}}, {"id": "ok", "text": "Paris"},
    ])
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1  # errors beyond --max-error-rate 0
    docs = docs_by_id(out)
    assert docs["ok"]["status"] == "ok"
    for doc_id, kind in [("int", "int"), ("float", "float"), ("bool", "bool"), ("list", "list"), ("dict", "dict")]:
        assert docs[doc_id]["status"] == "error" and docs[doc_id]["error"] == f"text is {kind}, not a string"
    m = accounted(out, 6)
    assert m["status"] == {"ok": 1, "empty": 0, "error": 5} and m["exit_code"] == 1
    # the same job with a tolerance: nothing redone, exit 0
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--max-error-rate", "0.9") == 0


def test_invalid_utf8_in_csv_marks_the_row(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.csv"
    p.write_bytes(b"id,text,other\n1,Paris ok,x\n2,bad \xff\xfe here,y\n3,London,\xff\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1
    assert "iconv -f cp1252 -t utf-8" in "".join(capsys.readouterr())  # the summary names the usual cause and its fix
    docs = docs_by_id(out)
    assert docs["2"]["status"] == "error" and docs["2"]["error"] == "text is not valid UTF-8 (invalid start byte at byte 4)"
    assert docs["1"]["status"] == docs["3"]["status"] == "ok"  # a bad byte in another column harms nothing
    accounted(out, 3)


def test_ids_that_differ_only_in_bytes_that_are_not_utf8_stay_apart(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Both ids used to become "caf\ufffd": two documents under one id, neither joinable to its source row."""
    p = tmp_path / "in.csv"
    p.write_bytes(b"id,text\ncaf\xe9,Paris\ncaf\xe8,London\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 0
    docs = docs_by_id(out)
    assert set(docs) == {"caf\\xe9", "caf\\xe8"}  # backslash escapes of the bytes, as Python writes them
    assert all(d["status"] == "ok" for d in docs.values())
    accounted(out, 2)


def test_invalid_utf8_in_jsonl_marks_the_row(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"id": "a", "text": "Paris"}\n{"id": "b", "text": "bad \xff"}\n{"id": "c", "text": "London"}\n')
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1
    docs = docs_by_id(out)
    assert docs["1"]["status"] == "error" and docs["1"]["error"].startswith("line 2 is not valid UTF-8")
    assert docs["a"]["status"] == docs["c"]["status"] == "ok"
    accounted(out, 3)


def test_csv_with_quoted_newlines_reads_one_row_each(tmp_path, tiny_onnx_dir):  # noqa: F811
    texts = {
        "nl": "first line\nParis on the second",
        "crlf": "a\r\nLondon\r\n\r\nend",
        "quotes": 'she said "Berlin, Germany"\nthen left',
        "plain": "France",
    }
    p = tmp_path / "in.csv"
    pcsv.write_csv(pa.table({"id": list(texts), "text": list(texts.values())}), p)
    assert b'"first line\nParis' in p.read_bytes()  # the newline really is inside a quoted field
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 1) == 0
    accounted(out, len(texts))
    tokens = read(out, "tokens")
    for doc_id, text in texts.items():
        words = [t for t in sorted(tokens, key=lambda t: t["word_index"]) if t["doc_id"] == doc_id]
        assert [w["word"] for w in words] == split_words(text)[0]
        assert all(text[w["start_char"]:w["end_char"]] == w["word"] for w in words)
    spans = {(s["doc_id"], s["text"]) for s in read(out, "spans")}
    assert spans == {("nl", "Paris"), ("crlf", "London"), ("quotes", "Berlin"), ("quotes", "Germany"), ("plain", "France")}


def test_csv_quote_never_closed_is_refused_with_its_line(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    # Arrow accepts a quoted field still open at the end of the file: rows 3.. became row 2's text,
    # exit 0, and the manifest reconciled (it counts the rows Arrow made)
    p = tmp_path / "in.csv"
    rows = "".join(f"{i},Paris row {i} and more words after it\n" for i in range(3, 5000))  # > csv's 128 KiB field limit
    p.write_text('id,text\n1,Paris\n2,"Berlin has an unclosed quote\n' + rows)
    err = usage_error(capsys, tmp_path, tiny_onnx_dir, p)
    assert "starts on line 3 is never closed" in err
    # a bare quote inside an unquoted field (an odd count) is read as Arrow reads it: not refused
    q = tmp_path / "bare.csv"
    q.write_text('id,text\n1,"a 5"" screen"\n2,5" screen in Paris\n')
    out = tmp_path / "bare_out"
    assert run("--model", tiny_onnx_dir, "--input", q, "--output", out) == 0
    accounted(out, 2)


def test_one_megabyte_document(tmp_path, tiny_onnx_dir):  # noqa: F811
    base = 'Paris, "quoted" river\nmarket 東京 😀 London Germany x. '
    text = base * (1_000_000 // len(base.encode()) + 1)
    assert len(text.encode()) >= 1_000_000
    p = tmp_path / "in.csv"  # CSV: the reader's block must hold the whole quoted field
    pcsv.write_csv(pa.table({"id": ["big", "small"], "text": [text, "Paris"]}), p)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--max-length", 512) == 0
    accounted(out, 2)
    doc = docs_by_id(out)["big"]
    words, offsets = split_words(text)
    assert doc["status"] == "ok" and doc["n_words"] == len(words) and doc["n_windows"] > 100
    tok = pq.read_table(out / "tokens", filters=[("doc_id", "=", "big")]).sort_by("word_index")
    assert tok.num_rows == len(words)
    got = list(zip(tok.column("start_char").to_pylist(), tok.column("end_char").to_pylist()))
    assert got == offsets
    tags = tok.column("tag").to_pylist()
    assert tags == [expected_tag(w) for w in words]  # a tag for every word, across every window seam


def test_csv_field_with_newlines_longer_than_a_read_block(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """The CSV reader parses 4 MiB blocks; a quoted field with line breaks that straddles two block
    boundaries (safe up to 4 MiB, certain past 8 MiB) cannot be read. The job stops with exit 2
    naming the fix; nothing of that file is committed."""
    p = tmp_path / "in.csv"
    pcsv.write_csv(pa.table({"id": ["s", "big"], "text": ["Paris", 'Paris\nriver, "x" ' * 560_000]}), p)  # 10 MB
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
    assert one_error_line(capsys) == (
        f"error: {p} could not be read (straddling object straddles two block boundaries (try to increase block size?)); "
        "a quoted CSV field with line breaks is longer than 4 MiB: convert the file to Parquet or JSONL, then rerun (with --overwrite if the file changed)")
    assert json.loads((out / "manifest.json").read_text())["units"] == {}


def test_control_characters_emoji_rtl_and_cjk(tmp_path, tiny_onnx_dir):  # noqa: F811
    texts = {
        "control": "Paris\x00 London\x07 \x1b[31mBerlin\x1b[0m tab\there\r\nFrance\x0cend",
        "only-control": "\x00\x01\x02",
        "zero-width": "Paris\u200b London \u200e\u202eFrance\u202c \ufeffBerlin",
        "emoji": "👩\u200d👩\u200d👧 in Paris 🇫🇷 👍🏽 London",
        "rtl": "مرحبا باريس Paris שלום London",
        "cjk": "東京 Paris 、北京 London。",
        "combining": "Pe\u0301ris Paris e\u0301\u0301\u0301 London",
        "odd-spaces": "Paris\u00a0London\u2028France\u2029Berlin\u3000Germany",
    }
    for fmt in ("jsonl", "parquet"):
        p, out = tmp_path / f"in.{fmt}", tmp_path / f"out-{fmt}"
        if fmt == "jsonl":
            write_jsonl(p, [{"id": k, "text": v} for k, v in texts.items()])
        else:
            pq.write_table(pa.table({"id": list(texts), "text": list(texts.values())}), p)
        assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 3) == 0
        accounted(out, len(texts))
        docs = docs_by_id(out)
        # control characters are no part of a word: a text of nothing else has no words, like "   "
        assert docs.pop("only-control")["status"] == "empty"
        assert all(d["status"] == "ok" and d["error"] is None for d in docs.values())
        tokens = read(out, "tokens")
        for t in tokens:
            assert texts[t["doc_id"]][t["start_char"]:t["end_char"]] == t["word"]
        for doc_id, text in texts.items():
            assert [t["word"] for t in sorted(tokens, key=lambda t: t["word_index"]) if t["doc_id"] == doc_id] == split_words(text)[0]
        spans = read(out, "spans")
        for s in spans:
            assert texts[s["doc_id"]][s["start_char"]:s["end_char"]] == s["text"]
        found = {(s["doc_id"], s["text"]) for s in spans}
        for doc_id in ("emoji", "rtl", "cjk", "combining"):  # place names beside other scripts are still found
            assert {(doc_id, "Paris"), (doc_id, "London")} <= found, doc_id
        assert ("odd-spaces", "Germany") in found and ("control", "France") in found


def test_duplicate_ids_are_kept_and_reported(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": i, "text": f"Paris {n}"} for n, i in enumerate("abacab")])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": "b", "text": "London"}, {"id": "z", "text": "Berlin"}])
    out = tmp_path / "out"
    args = ["run", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(a), "--input", str(b), "--output", str(out), "--chunk-size", "2"]
    assert main(args) == 0
    err = capsys.readouterr().err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: 4 rows repeat an earlier doc_id (2 ids occur more than once, e.g. 'a', 'b'); all rows are kept, "
                        "so join on doc_id with care or pass --id-column naming a unique column"]
    m = accounted(out, 8)
    assert m["duplicate_ids"] == {"duplicate_rows": 4, "duplicated_ids": 2, "examples": ["a", "b"]}
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["a", "a", "a", "b", "b", "b", "c", "z"]
    spans = [s for s in read(out, "spans") if s["doc_id"] == "a"]
    assert len(spans) == 3  # each duplicate's own output is kept


def test_missing_id_column_uses_row_numbers_said_once(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("text\nParis\nLondon\nBerlin\n")
    b.write_text("text\nFrance\n")
    out = tmp_path / "out"
    assert main(["run", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(a), "--input", str(b), "--output", str(out),
                 "--chunk-size", "1"]) == 0
    notes = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("note:")]
    assert notes == [f"note: no id column 'id' in {a} and 1 more input(s); doc_id is the row number prefixed with the file name"]
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["a.csv:0", "a.csv:1", "a.csv:2", "b.csv:0"]
    accounted(out, 4)


def test_jsonl_ids_are_used_where_records_have_them(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """The first record decides whether the note is said, not whether later records' ids count."""
    p = write_jsonl(tmp_path / "in.jsonl", [{"text": "Paris"}, {"id": "x", "text": "London"}, {"text": "Berlin"}])
    out = tmp_path / "out"
    assert main(["run", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(p), "--output", str(out)]) == 0
    assert capsys.readouterr().err.count("note: no id column 'id'") == 1
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["0", "2", "x"]


def test_jsonl_ids_that_are_not_strings_are_written_as_json(tmp_path, tiny_onnx_dir):  # noqa: F811
    # a list id used to come out as Python's repr "['x']", a dict as "{'k': 1}", true as "True"
    p = write_jsonl(tmp_path / "in.jsonl", [{"id": ["x", 1], "text": "Paris"}, {"id": {"k": "é"}, "text": "Rome"},
                                            {"id": True, "text": "Oslo"}, {"id": 7, "text": "Lima"}])
    out = tmp_path / "out"
    assert main(["run", "--no-resolve", "--quiet", "--model", str(tiny_onnx_dir), "--input", str(p), "--output", str(out)]) == 0
    assert sorted(d["doc_id"] for d in read(out, "docs")) == sorted(['["x", 1]', '{"k": "é"}', "true", "7"])


# -- write failure ----------------------------------------------------------------------------

def test_disk_full_mid_write_leaves_no_partial_part(tmp_path, tiny_onnx_dir, capsys, monkeypatch):  # noqa: F811
    p = write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": f"Paris {i} London"} for i in range(6)])
    clean = tmp_path / "clean"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", clean, "--chunk-size", 2) == 0

    real_write_table = pq.write_table
    calls = []

    def filling_disk(table, where, **kw):
        calls.append(where)
        if len(calls) == 5:  # unit 1's tokens table: half of it reaches the disk, then ENOSPC
            where.write(b"PAR1" + b"\0" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_table(table, where, **kw)

    monkeypatch.setattr(geobatch.io.write.pq, "write_table", filling_disk)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 2) == 1
    msg = one_error_line(capsys)
    assert msg == (f"error: cannot write {out}/tokens/part-00000-000001.parquet: No space left on device; "
                   "free disk space / fix permissions and rerun: finished units are kept")
    files = sorted(str(f.relative_to(out)) for f in out.rglob("*") if f.is_file())
    assert files == ["docs/part-00000-000000.parquet", "manifest.json", "spans/part-00000-000000.parquet",
                     "tokens/part-00000-000000.parquet"]  # no temp file, no part of unit 1 (its docs part was removed)
    m = manifest(out)
    assert sorted(m["units"]) == ["00000-000000"] and not m["complete"]

    monkeypatch.setattr(geobatch.io.write.pq, "write_table", real_write_table)  # space freed: rerun
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 2) == 0
    m = accounted(out, 6)
    assert m["sessions"][-1]["resumed"] and m["sessions"][-1]["docs"] == 4  # only units 1 and 2 were done again
    for table in ("docs", "tokens", "spans"):
        key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
        assert sorted(map(key, read(out, table))) == sorted(map(key, read(clean, table)))


def test_disk_full_writing_the_final_manifest_keeps_the_journal(tmp_path, tiny_onnx_dir, capsys, monkeypatch):  # noqa: F811
    import geobatch.io.commit

    p = write_jsonl(tmp_path / "in.jsonl", [{"id": f"d{i}", "text": f"Paris {i}"} for i in range(6)])
    out = tmp_path / "out"
    real = geobatch.io.commit.write_atomic_bytes
    state = {"fail": False}

    def full_at_the_end(path, data):
        if state["fail"] and path.name == "manifest.json":
            raise geobatch.io.write.WriteError(f"cannot write {path}: No space left on device", "free disk space / fix permissions and rerun: finished units are kept")
        return real(path, data)

    monkeypatch.setattr(geobatch.io.commit, "write_atomic_bytes", full_at_the_end)
    real_finish = geobatch.io.commit.OutputDir.finish

    def finish(self, *a, **kw):
        state["fail"] = True
        return real_finish(self, *a, **kw)

    monkeypatch.setattr(geobatch.io.commit.OutputDir, "finish", finish)
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 2) == 1
    assert one_error_line(capsys) == f"error: cannot write {out}/manifest.json: No space left on device; free disk space / fix permissions and rerun: finished units are kept"
    journal = (out / "units.jsonl").read_text().splitlines()
    assert [json.loads(ln)["unit"] for ln in journal] == ["00000-000000", "00000-000001", "00000-000002"]
    assert manifest(out)["units"] == {} and not manifest(out)["complete"]

    monkeypatch.undo()
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 2) == 0
    m = accounted(out, 6)
    assert m["sessions"][-1]["docs"] == 0 and len(m["units"]) == 3  # replayed, nothing redone
    assert not (out / "units.jsonl").exists()


# -- every row accounted ------------------------------------------------------------------------

def test_every_input_row_is_accounted_for(tmp_path, tiny_onnx_dir):  # noqa: F811
    rows = [
        {"id": "ok", "text": "Paris"}, {"id": "null", "text": None}, {"id": "ws", "text": "  "}, {"id": "int", "text": 7},
        "{not json", "[1, 2]", {"id": "ok2", "text": "Berlin and London"}, {"id": "ok", "text": "duplicate id"},
    ]
    p = write_jsonl(tmp_path / "in.jsonl", rows)
    c = tmp_path / "in.csv"
    c.write_bytes(b'id,text\nc1,"multi\nline Paris"\nc2,\xff\nc3,\n')
    q = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["q1", "q2"], "text": pa.array([b"Lyon \xe2\x82\xac", b"\xc3"], pa.binary())}), q)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--input", c, "--input", q, "--output", out, "--chunk-size", 3) == 1
    m = accounted(out, len(rows) + 3 + 2)
    # jsonl: ok, empty, empty, error, error, error, ok, ok; csv: ok, error, empty; parquet: ok, error
    assert m["status"] == {"ok": 5, "empty": 3, "error": 5}
    assert m["duplicate_ids"]["duplicate_rows"] == 1
    errors = sorted(d["error"] for d in read(out, "docs") if d["status"] == "error")
    assert errors == ["line 5 is not JSON (Expecting property name enclosed in double quotes at column 2)",
                      "line 6 is a JSON list, not an object", "text is int, not a string",
                      "text is not valid UTF-8 (invalid start byte at byte 0)",
                      "text is not valid UTF-8 (unexpected end of data at byte 0)"]
    assert np.isclose(m["error_rate"], 5 / 13)
    assert run("--model", tiny_onnx_dir, "--input", p, "--input", c, "--input", q, "--output", out, "--chunk-size", 3,
               "--max-error-rate", "0.5") == 0


def test_messages_name_the_actual_problem(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    """Each of these said something untrue or unhelpful: a model path that is a file 'does not exist',
    an --output that is a file 'File exists', a CSV read as Parquet 'may be truncated or corrupt'."""
    line = usage_error(capsys, tmp_path, str(corpus), str(corpus))
    assert "is a file, not a model directory" in line
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out, said in ((a_file, "is a file, not a directory"), (a_file / "sub", f"{a_file} is a file")):
        assert run("--model", tiny_onnx_dir, "--input", corpus, "--output", out) == 2
        assert said in one_error_line(capsys)
    csv_file = tmp_path / "in.csv"
    csv_file.write_text("id,text\n1,Paris\n")
    line = usage_error(capsys, tmp_path, tiny_onnx_dir, str(csv_file), extra=["--format", "parquet"])
    assert "is not a Parquet file (it does not start with PAR1)" in line and "--format" in line


def test_a_control_character_in_jsonl_is_reported_once_per_word(tmp_path, tiny_onnx_dir):  # noqa: F811
    p = tmp_path / "in.jsonl"
    p.write_text('{"id":"a","text":"x\x01y"}\n{"id":"b","text":"Paris"}\n')
    out = tmp_path / "out"
    run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--max-error-rate", "0.6")
    err = docs_by_id(out)["0"]["error"]
    assert "Invalid control character at column" in err and " at at " not in err


def test_csv_with_two_columns_of_the_wanted_name_is_refused(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    p = tmp_path / "in.csv"
    p.write_text("id,text,text\n1,Paris,Rome\n")  # the second text was dropped without a word
    assert "has 2 columns named 'text'" in usage_error(capsys, tmp_path, tiny_onnx_dir, str(p))
