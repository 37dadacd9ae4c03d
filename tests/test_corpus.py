"""Stage: streaming corpus reader (inputs, header checks, exact chunking per format)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from geobatch.errors import InputError
from geobatch.io.check import check_input
from geobatch.io.corpus import BadRecord, iter_chunks
from geobatch.io.inputs import Columns, resolve_inputs

COLS = Columns("text", "id", None)


def _texts(chunk):
    r = chunk.records
    return r.column("text").to_pylist() if isinstance(r, pa.Table) else [x.get("text") if isinstance(x, dict) else x for x in r]


def test_parquet_chunks_exact_across_row_groups(tmp_path):
    p = tmp_path / "a.parquet"
    pq.write_table(pa.table({"id": [str(i) for i in range(23)], "text": [f"t{i}" for i in range(23)], "other": list(range(23))}), p, row_group_size=7)
    (inp,) = resolve_inputs([str(p)])
    info = check_input(inp, COLS)
    assert info.rows == 23 and info.has_id
    chunks = list(iter_chunks(inp, 0, 5, COLS))
    assert [c.n_rows for c in chunks] == [5, 5, 5, 5, 3]
    assert [c.row_start for c in chunks] == [0, 5, 10, 15, 20]
    assert sum((_texts(c) for c in chunks), []) == [f"t{i}" for i in range(23)]
    assert "other" not in chunks[0].records.schema.names  # only the needed columns are read
    assert chunks[2].unit_id == "00000-000002"


def test_csv_quoted_newlines_and_bytes(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(b'id,text\n1,"line one\nline two"\n2,plain\n3,"bad \xff byte"\n')
    (inp,) = resolve_inputs([str(p)])
    chunks = list(iter_chunks(inp, 0, 2, COLS))
    assert [c.n_rows for c in chunks] == [2, 1]
    vals = _texts(chunks[0]) + _texts(chunks[1])
    assert vals[0] == b"line one\nline two" and vals[2] == b"bad \xff byte"  # decoded per row later


def test_jsonl_bad_line_is_one_record(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"id": "a", "text": "x"}) + "\n\n{oops\n[1]\n" + json.dumps({"id": "b", "text": "y"}) + "\n")
    (inp,) = resolve_inputs([str(p)])
    recs = [r for c in iter_chunks(inp, 0, 10, COLS) for r in c.records]
    assert len(recs) == 4  # the blank line is not a row
    assert isinstance(recs[1], BadRecord) and "not JSON" in recs[1].message
    assert isinstance(recs[2], BadRecord) and "not an object" in recs[2].message


def test_missing_text_column_lists_columns(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,body\n1,x\n")
    (inp,) = resolve_inputs([str(p)])
    with pytest.raises(InputError, match="has no column 'text' \\(it has id, body\\)"):
        check_input(inp, COLS)


def test_directory_glob_and_empty_dir(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    with pytest.raises(InputError, match="holds no input files"):
        resolve_inputs([str(d)])
    for n in ("b", "a"):
        (d / f"{n}.jsonl").write_text('{"text": "x"}\n')
    (d / "notes.md").write_text("ignored")
    assert [i.path.rsplit("/", 1)[1] for i in resolve_inputs([str(d)])] == ["a.jsonl", "b.jsonl"]
    assert len(resolve_inputs([str(d / "*.jsonl")])) == 2
    with pytest.raises(InputError, match="matches no file"):
        resolve_inputs([str(d / "*.parquet")])
    with pytest.raises(InputError, match="--format"):
        resolve_inputs([str(d / "notes.md")])


def test_corrupt_parquet_is_an_input_error(tmp_path):
    p = tmp_path / "bad.parquet"
    p.write_bytes(b"PAR1 not really parquet")
    (inp,) = resolve_inputs([str(p)])
    with pytest.raises(InputError, match="not a readable Parquet"):
        check_input(inp, COLS)
