"""`geobatch run` on inputs a scheduled job meets in real corpora, beyond the bad-input catalogue
(tests/test_bad_input.py): each test here once failed (a crash, a lost id, a silently skipped or
misread file). Samples are written inline into tmp_path; the model is the context-free tiny ONNX one.
"""

import gzip
import json

import pyarrow.parquet as pq
import pytest
from tiny_onnx import expected_tag, tiny_onnx_dir  # noqa: F401
from run_helpers import docs_by_id, manifest, one_error_line, read, run

from geobatch.cli import main
from geobatch.text.words import split_words


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
    assert set(docs) == {"t1", "bad\\udc80id", "t3"}
    assert docs["t1"]["status"] == "error"
    assert docs["t1"]["error"] == "text is not valid Unicode (a lone surrogate '\\ud83d' at character 6)"
    assert docs["bad\\udc80id"]["status"] == docs["t3"]["status"] == "ok"
    assert_contract(out, {"t3": "whole \U0001f600 emoji in Paris", "bad\\udc80id": "Berlin"})
    assert manifest(out)["status"] == {"ok": 2, "empty": 0, "error": 1}


# -- gzip-compressed CSV and JSONL --------------------------------------------------------------

GZ_TEXTS = {"g1": "From Paris to London", "g2": "Berlin,\nGermany", "g3": "nothing here"}


def _gz_inputs(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    jsonl = "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in GZ_TEXTS.items()).encode()
    (d / "a.jsonl.gz").write_bytes(gzip.compress(jsonl))
    csv = b'id,text\n' + b"".join(f'c{k},"{v}"\n'.encode() for k, v in GZ_TEXTS.items())
    (d / "b.csv.gz").write_bytes(gzip.compress(csv))
    return d


def test_gzip_csv_and_jsonl_are_read_as_a_stream(tmp_path, tiny_onnx_dir):  # noqa: F811
    """`.jsonl.gz`/`.csv.gz` were refused as an unknown extension, and a directory of them was
    silently skipped (only other files read, exit 0): every row of those files lost."""
    d = _gz_inputs(tmp_path)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", d, "--output", out, "--chunk-size", 2) == 0
    texts = {**GZ_TEXTS, **{f"c{k}": v for k, v in GZ_TEXTS.items()}}
    assert sorted(docs_by_id(out)) == sorted(texts)
    assert all(d["status"] == "ok" for d in docs_by_id(out).values())
    assert_contract(out, texts)
    assert manifest(out)["input_rows"] == 6


def test_gzip_content_is_told_by_its_bytes_not_its_name(tmp_path, tiny_onnx_dir):  # noqa: F811
    """A gzip file named .jsonl was read line by line as JSON: a docs/ error row per compressed 'line'."""
    p = tmp_path / "in.jsonl"
    p.write_bytes(gzip.compress(b'{"id": "a", "text": "Paris"}\n{"id": "b", "text": "London"}\n'))
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 0
    assert {k: d["status"] for k, d in docs_by_id(out).items()} == {"a": "ok", "b": "ok"}


def test_truncated_gzip_is_one_line_exit_2(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    whole = gzip.compress("".join(json.dumps({"id": str(i), "text": f"Paris {i}"}) + "\n" for i in range(2000)).encode())
    p = tmp_path / "in.jsonl.gz"
    p.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--chunk-size", 100) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {p} could not be read past row ") and "Compressed file ended before the end-of-stream marker" in line
    assert line.endswith("repair or replace the file, then rerun (with --overwrite if the file changed); units before row "
                         f"{line.split('past row ')[1].split(' ')[0]} are kept")
    assert manifest(out)["complete"] is False


@pytest.mark.parametrize("name", ["in.parquet.gz", "in.conll.gz"])
def test_gzip_of_other_formats_is_refused_naming_the_fix(tmp_path, tiny_onnx_dir, capsys, name):  # noqa: F811
    p = tmp_path / name
    p.write_bytes(gzip.compress(b"x"))
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
    assert not out.exists()
    fmt = name.split(".")[1]
    assert one_error_line(capsys) == (f"error: {p} is gzip-compressed {fmt}, which is not read compressed; "
                                      f"decompress it (gunzip -k {p}) and pass the decompressed file")


# -- what a directory input holds ------------------------------------------------------------------

def test_directory_input_skips_hidden_and_underscore_folders(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Only files with a hidden *name* were skipped: a notebook's `.ipynb_checkpoints/` copy was read
    twice over, a Delta table's `_delta_log/*.json` stopped the job (no text column), and Spark's
    `_temporary/` attempt files were read as well as their committed copies. Like Arrow datasets and
    Spark, files under folders starting with '.' or '_' (and files so named) are not inputs."""
    d = tmp_path / "corpus"
    (d / "2024").mkdir(parents=True)
    (d / "2024" / "part-0.jsonl").write_text('{"id": "a", "text": "Paris"}\n')
    for junk in (".ipynb_checkpoints/part-0-checkpoint.jsonl", "_temporary/0/part-0.jsonl", "2024/_delta_log/00000.json",
                 "_SUCCESS.csv", ".part-1.jsonl"):
        (d / junk).parent.mkdir(parents=True, exist_ok=True)
        (d / junk).write_text('{"commitInfo": {}}\n' if "delta" in junk else '{"id": "dup", "text": "London"}\n')
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", d, "--output", out) == 0
    assert list(docs_by_id(out)) == ["a"]
    assert [i["path"] for i in manifest(out)["job"]["inputs"]] == [str(d / "2024" / "part-0.jsonl")]


def test_row_number_ids_of_same_named_files_stay_apart(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Without an id column several inputs prefix the row number with the file name; partitioned
    corpora (`2024-01/part-0.csv`, `2024-02/part-0.csv`) got the same ids (`part-0.csv:0` twice), so
    no doc_id could be traced back to its file. Clashing names now carry their folder, relative to
    the folder the inputs share."""
    d = tmp_path / "corpus"
    for month, text in (("2024-01", "Paris"), ("2024-02", "London")):
        (d / month).mkdir(parents=True)
        (d / month / "part-0.csv").write_text(f"text\n{text}\n")
    (d / "2024-02" / "extra.csv").write_text("text\nBerlin\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", d, "--output", out) == 0
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["2024-01/part-0.csv:0", "2024-02/extra.csv:0", "2024-02/part-0.csv:0"]
    assert manifest(out)["duplicate_ids"]["duplicate_rows"] == 0
    # names that do not clash keep the short prefix
    out2 = tmp_path / "out2"
    assert run("--model", tiny_onnx_dir, "--input", d / "2024-02", "--output", out2) == 0
    assert sorted(d["doc_id"] for d in read(out2, "docs")) == ["extra.csv:0", "part-0.csv:0"]


# -- files that are not what their extension says ------------------------------------------------------

def test_utf16_files_are_refused_naming_the_encoding(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """Windows tools (PowerShell 5's `>`, Excel's 'Unicode text') write UTF-16. A UTF-16 JSONL became
    one garbage error row per half-decoded line (two rows for one record, exit 1); a UTF-16 CSV was
    'Expected 2 columns, got 1: \\x00'. Both now stop up front, saying what to do."""
    for name, body in (("in.jsonl", '{"id": "a", "text": "Paris"}\n'), ("in.csv", "id,text\na,Paris\n")):
        for enc in ("utf-16", "utf-16-le"):  # with and without a byte-order mark
            p = tmp_path / name
            p.write_bytes(body.encode(enc))
            out = tmp_path / "out"
            assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
            assert not out.exists()
            assert one_error_line(capsys) == (f"error: {p} is UTF-16 text, not UTF-8; "
                                              f"save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 {p} > NEW_FILE) and pass that file")


@pytest.mark.parametrize("body", [
    '[{"id": "a", "text": "Paris"}, {"id": "b", "text": "London"}]\n',
    '[\n  {"id": "a", "text": "Paris"},\n  {"id": "b", "text": "London"}\n]\n',
    '{\n  "id": "a",\n  "text": "Paris"\n}\n',
])
def test_json_that_is_not_json_lines_is_refused(tmp_path, tiny_onnx_dir, capsys, body):  # noqa: F811
    """`.json` is read as JSON Lines. A JSON array or a pretty-printed object was read line by line:
    one error row per line of the file (4 rows for one pretty-printed record), never its documents."""
    p = tmp_path / "in.json"
    p.write_text(body)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
    assert not out.exists()
    kind, jq = ("a JSON array", "'.[]'") if body.startswith("[") else ("a JSON object spread over several lines", ".")
    assert one_error_line(capsys) == (f"error: {p} holds {kind}, not JSON Lines (one object per line); "
                                      f"convert it (e.g. jq -c {jq} {p} > NEW_FILE.jsonl) and pass that file")


def test_jsonl_whose_first_record_lacks_the_text_field_is_read(tmp_path, tiny_onnx_dir):  # noqa: F811
    """A record without the text field is an `empty` row, but when it happened to be the first line
    (serialisers that drop null fields write such records) the whole file was refused as having no
    text column. The column check now looks past the first records, and still refuses a file where
    none has it."""
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": "a", "title": "no body"}\n{oops\n{"id": "b", "text": "Paris", "gold": []}\n')
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 1  # the bad line is an error row
    assert {k: d["status"] for k, d in docs_by_id(out).items()} == {"a": "empty", "1": "error", "b": "ok"}
    assert main(["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(p), "--output", str(tmp_path / "out2"),
                 "--spans-column", "gold", "--max-error-rate", "0.5"]) == 0
    p.write_text('{"id": "a", "title": "no body"}\n{"id": "b", "body": "Paris"}\n')
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", tmp_path / "out3") == 2


def test_header_only_csv_without_a_line_break(tmp_path, tiny_onnx_dir):  # noqa: F811
    """An export with no rows is often just the header, with no line break after it. Arrow cannot
    infer the columns of such a file, so the job stopped ('Empty CSV file or block'); with the line
    break the same file is 0 rows. Both now read as 0 rows (gzip too), and a missing column is named."""
    for name, body in (("a.csv", b"id,text"), ("b.csv", b"\xef\xbb\xbfid,text\n"), ("c.csv.gz", gzip.compress(b"id,text"))):
        (tmp_path / name).write_bytes(body)
    (tmp_path / "d.csv").write_bytes(b"id,text\nx,Paris")  # a last row without a line break is still read
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, *[a for n in ("a.csv", "b.csv", "c.csv.gz", "d.csv") for a in ("--input", tmp_path / n)],
               "--output", out) == 0
    assert [(d["doc_id"], d["status"]) for d in read(out, "docs")] == [("x", "ok")]
    (tmp_path / "e.csv").write_bytes(b"id,body")
    assert run("--model", tiny_onnx_dir, "--input", tmp_path / "e.csv", "--output", tmp_path / "out2") == 2


def test_glob_matching_folders_reads_the_files_in_them(tmp_path, tiny_onnx_dir):  # noqa: F811
    """`--input 'corpus/date=2024-*'` (partition folders) was refused as 'matches no file': only
    files were kept from a glob. A folder a glob matches is read like a folder given by name."""
    d = tmp_path / "corpus"
    for day, text in (("date=2024-01-01", "Paris"), ("date=2024-01-02", "London"), ("date=2023-12-31", "Berlin")):
        (d / day / "_temporary").mkdir(parents=True)
        (d / day / "part-0.jsonl").write_text(json.dumps({"id": day, "text": text}) + "\n")
        (d / day / "_temporary" / "part-0.jsonl").write_text(json.dumps({"id": "attempt", "text": text}) + "\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", f"{d}/date=2024-*", "--output", out) == 0
    assert sorted(d["doc_id"] for d in read(out, "docs")) == ["date=2024-01-01", "date=2024-01-02"]


def test_a_pipe_is_refused_not_read_in_part(tmp_path, tiny_onnx_dir):  # noqa: F811
    """`--input /dev/stdin` or `<(zcat ...)`: the up-front checks read the pipe's first bytes and then
    opened it again, so the run hung (or, with a writer left, lost the start of the first record; a
    resume could never read it again). Run in a subprocess with a timeout so a regression fails."""
    import os
    import subprocess
    import sys
    import threading

    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)

    def feed():  # blocks until the pipe is opened for reading
        try:
            with open(fifo, "w") as f:
                f.write('{"id": "a", "text": "Paris"}\n')
        except BrokenPipeError:  # released below without being read
            pass

    threading.Thread(target=feed, daemon=True).start()
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", "run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir),
           "--input", str(fifo), "--output", str(out)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # release the feeder if nobody read the pipe
        os.close(fd)
    assert r.returncode == 2 and not out.exists()
    assert r.stderr.strip() == (f"error: input {fifo} is not a regular file (a pipe or a device); "
                                "write it to a file first and pass that (a job must be able to read its input again to resume)")


# -- windows longer than the model takes ---------------------------------------------------------------

def _with_position_table(model_dir, positions: int):
    """The tiny model plus a position-embedding lookup of `positions` rows, as a BERT has (512 for
    MiniLM): logits = E[input_ids] + P[0..seq), so a longer window is out of P's range."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(model_dir / "model.onnx"))
    g = m.graph
    logits = g.output[0].name
    for node in g.node:  # the Gather that made the logits now makes the word part
        if logits in node.output:
            node.output[:] = ["word_logits"]
    n_labels = numpy_helper.to_array(g.initializer[0]).shape[1]
    g.initializer.extend([
        numpy_helper.from_array(np.zeros((positions, n_labels), np.float32), "position_table"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array(1, np.int64), "one"),
        numpy_helper.from_array(np.array([1], np.int64), "seq_axis"),
    ])
    g.node.extend([
        helper.make_node("Shape", ["input_ids"], ["ids_shape"]),
        helper.make_node("Gather", ["ids_shape", "seq_axis"], ["seq_len_1"]),
        helper.make_node("Squeeze", ["seq_len_1"], ["seq_len"]),
        helper.make_node("Range", ["zero", "seq_len", "one"], ["positions"]),
        helper.make_node("Gather", ["position_table", "positions"], ["position_logits"]),
        helper.make_node("Add", ["word_logits", "position_logits"], [logits]),
    ])
    onnx.save(m, str(model_dir / "model.onnx"))
    return model_dir


def test_max_length_beyond_the_models_positions_stops_before_writing(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """`--max-length 1024` on a model with 512 positions died mid-run with ONNX Runtime's traceback
    ('input index out of range'), after OUT_DIR was opened. A --max-length above the card's is now
    tried once on the model before anything is written, and refused in one line."""
    import shutil

    from tiny_onnx import build_tiny_model_dir

    model = _with_position_table(build_tiny_model_dir(tmp_path / "model"), positions=24)
    p = tmp_path / "in.jsonl"
    text = " ".join(["Paris", "and", "London"] * 30)
    p.write_text(json.dumps({"id": "long", "text": text}) + "\n")
    out = tmp_path / "out"
    assert run("--model", model, "--input", p, "--output", out, "--max-length", 32) == 2
    assert not out.exists()
    line = one_error_line(capsys)
    assert line.startswith("error: model.onnx cannot take windows of 32 wordpieces (") and line.endswith(
        "; use --max-length 16 (the model card's) or no more than the base model's position embeddings")
    for ok in (16, 24):  # the card's, and a longer one the graph takes
        shutil.rmtree(out, ignore_errors=True)
        assert run("--model", model, "--input", p, "--output", out, "--max-length", ok) == 0
        assert_contract(out, {"long": text})


@pytest.mark.parametrize("value", ["0", "2", "-5"])
def test_max_length_without_room_for_a_wordpiece_is_refused(tmp_path, tiny_onnx_dir, capsys, value):  # noqa: F811
    # 0 ran silently with the card's value (`or`); 2 and -5 blamed a --stride nobody gave
    p = tmp_path / "in.jsonl"
    p.write_text(json.dumps({"id": "a", "text": "Paris"}) + "\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out, "--max-length", value) == 2
    assert not out.exists()
    line = one_error_line(capsys)
    assert f"--max-length {value} leaves no room for a wordpiece" in line and "stride" not in line


# -- gold spans over long documents ----------------------------------------------------------------------

def _tags_from_spans_by_scan(offsets, spans, default_label=None):
    """The definition: every word overlapping a span, spans in (start, end) order, first come first served."""
    tags = ["O"] * len(offsets)
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        label = span.label or default_label
        if not label:
            continue
        first = True
        for i, (s, e) in enumerate(offsets):
            if e <= span.start or s >= span.end:
                continue
            if tags[i] == "O":
                tags[i] = f"{'B' if first else 'I'}-{label}"
            first = False
    return tags


def test_gold_tags_from_spans_are_linear_in_long_documents():
    """Gold tags were found by scanning every word for every span: a 60k-word document with 6k gold
    spans took most of a minute (a book-length one, hours). Same tags, found by bisection."""
    import random
    import time

    from geobatch.io.documents import Span
    from geobatch.text.words import join_words, tags_from_spans

    rng = random.Random(7)
    for _ in range(200):  # overlapping, nested, unlabelled, zero-width and out-of-word spans
        words = [rng.choice(["Paris", "", "a", "New", "York", "x" * 5]) for _ in range(rng.randint(0, 30))]
        text, offsets = join_words(words)
        spans = [Span(a, a + rng.randint(0, 12), rng.choice(["geo", "gpe", None])) for a in (rng.randint(0, len(text) + 2) for _ in range(rng.randint(0, 8)))]
        assert tags_from_spans(offsets, spans, "location") == _tags_from_spans_by_scan(offsets, spans, "location")
        assert tags_from_spans(offsets, spans) == _tags_from_spans_by_scan(offsets, spans)
    text = "Paris and New York were visited by many people. " * 6000
    words, offsets = split_words(text)
    spans = [Span(s, e, "geo") for w, (s, e) in zip(words, offsets) if w == "Paris"]
    assert len(words) == 60_000 and len(spans) == 6000
    t = time.perf_counter()
    tags = tags_from_spans(offsets, spans)
    assert time.perf_counter() - t < 5
    assert tags.count("B-geo") == 6000 and tags.count("I-geo") == 0


def test_word_probabilities_of_a_many_window_document_are_linear(tiny_onnx_dir):  # noqa: F811
    """Each word's probabilities were picked window by window with a mask over all the document's
    words: words x windows. A 1 MB document in 16-wordpiece windows (20k windows, 200k words) spent
    10 s there, a 10 MB one would spend over 15 minutes. Now every word of the chunk is read from the
    batches' logits in one gather: the same tags and confidences as reading word by word."""
    import time

    import numpy as np

    from geobatch.decode.spans import softmax
    from geobatch.pipeline import DocInput, Pipeline

    pipe = Pipeline(tiny_onnx_dir)
    rng = np.random.default_rng(3)
    n_labels = len(pipe.labels)

    def decode(windows, bw, bp):
        """_decode_words for one document whose windows' logits are `windows` (each [16, labels])."""
        doc = DocInput("d", "x " * bw.size, words=["x"] * bw.size, starts=np.arange(bw.size) * 2, ends=np.arange(bw.size) * 2 + 1)
        flat = np.concatenate(windows) if windows else np.zeros((0, n_labels), np.float32)
        words = pipe._decode_words([doc], {0: (None, None, 0, bw, bp)}, flat, np.arange(len(windows)) * 16)
        return words.tags, words.conf

    for _ in range(20):
        n_win, n = int(rng.integers(1, 6)), int(rng.integers(0, 40))
        logits = [rng.normal(size=(16, n_labels)).astype(np.float32) for _ in range(n_win)]
        bw = rng.integers(-1, n_win, n)  # -1: a word without wordpieces
        bp = rng.integers(1, 15, n)
        codes, conf = decode(logits, bw, bp)
        has = bw >= 0
        want = np.array([softmax(logits[w])[p] if w >= 0 else np.zeros(n_labels) for w, p in zip(bw, bp)]).reshape(n, n_labels)
        assert pipe.codes.names[codes].tolist() == [pipe.labels[k] if h else "O" for k, h in zip(want.argmax(-1), has)]
        assert np.array_equal(conf[has], want[has][np.arange(has.sum()), want[has].argmax(-1)].astype(np.float32))
        assert np.isnan(conf[~has]).all()

    n_win, per = 20_000, 10
    logits = [rng.normal(size=(16, n_labels)).astype(np.float32) for _ in range(n_win)]
    bw = np.repeat(np.arange(n_win), per)
    bp = np.tile(np.arange(1, per + 1), n_win)
    t = time.perf_counter()
    codes, conf = decode(logits, bw, bp)
    assert time.perf_counter() - t < 3 and len(codes) == n_win * per


def test_a_file_with_no_json_object_is_not_read_as_jsonl(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """A CSV passed with --format jsonl (or a `.jsonl` that is something else) became one error row
    per line and exit 1; when none of the first lines is a JSON object it is the wrong format, said
    up front. One bad line among good ones stays a row error."""
    p = tmp_path / "in.csv"
    p.write_text("id,text\na,Paris\nb,London\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--format", "jsonl", "--output", out) == 2
    assert not out.exists()
    assert one_error_line(capsys) == (f"error: {p} is not JSON Lines: none of its first 3 lines is a JSON object "
                                      "(line 1: Expecting value at column 1); pass the right --format, or fix the file")
    p.write_text('{"id": "a", "text": "Paris"}\n{oops\n')
    assert run("--model", tiny_onnx_dir, "--input", p, "--format", "jsonl", "--output", out) == 1


@pytest.mark.parametrize("sep, name", [(";", "semicolon"), ("\t", "tab")])
def test_csv_with_another_separator_is_named(tmp_path, tiny_onnx_dir, capsys, sep, name):  # noqa: F811
    """Excel in many locales writes ';'-separated 'CSV', and TSV is common. Read as one column, the
    refusal said 'no column text (it has id;text); pass --text-column NAME': a fix that cannot work."""
    p = tmp_path / "in.csv"
    p.write_text(f"id{sep}text\na{sep}Paris\n")
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", p, "--output", out) == 2
    assert not out.exists()
    assert one_error_line(capsys) == (f"error: {p} has no column 'text': its header is one {name}-separated column "
                                      f"({repr(f'id{sep}text')}), and geobatch reads comma-separated CSV; "
                                      "save it comma-separated, or as Parquet or JSONL")


@pytest.mark.parametrize("as_type", ["string", "large_string", "dictionary"])
def test_parquet_string_column_with_invalid_utf8_errors_only_that_row(tmp_path, tiny_onnx_dir, as_type):  # noqa: F811
    """Arrow does not validate Parquet string columns; a writer that stored latin-1 bytes there used to
    stop the job with a UnicodeDecodeError traceback from to_pylist."""
    import pyarrow as pa

    raw = pa.array([b"Paris is here", b"caf\xe9 in Berlin", b"London"], pa.binary())
    text = raw.cast(pa.large_binary()).view(pa.large_string()) if as_type == "large_string" else raw.view(pa.string())
    if as_type == "dictionary":
        text = text.dictionary_encode()
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": text}), path)
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", path, "--output", out, "--max-error-rate", "0.5") == 0
    docs = docs_by_id(out)
    assert [docs[k]["status"] for k in "abc"] == ["ok", "error", "ok"]
    assert docs["b"]["error"].startswith("text is not valid UTF-8")
    assert [(s["doc_id"], s["text"]) for s in read(out, "spans")] == [("a", "Paris"), ("c", "London")]


def test_quiet_run_that_fails_on_error_rows_says_why(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """--quiet means errors only; a scheduled job exiting 1 because of its error rows used to print nothing."""
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,text\nr1,Paris\nr2,caf\xe9 Berlin\n")  # latin-1 row: an error row
    assert run("--model", tiny_onnx_dir, "--input", path, "--output", tmp_path / "out") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: 1 of 2 rows errored"), captured.err
    assert "text is not valid UTF-8" in lines[0] and "'r2'" in lines[0]
    # tolerated: still quiet
    assert run("--model", tiny_onnx_dir, "--input", path, "--output", tmp_path / "out2", "--max-error-rate", "0.5") == 0
    assert capsys.readouterr().err == ""
