"""Helpers for tests that drive `geobatch run` through the CLI and read what it wrote."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from geobatch.cli import main


def run(*args):
    return main(["run", "--quiet", "--no-resolve", *map(str, args)])


def read(out, table):
    return pq.read_table(out / table).to_pylist()


def docs_by_id(out):
    return {d["doc_id"]: d for d in read(out, "docs")}


def manifest(out):
    return json.loads((out / "manifest.json").read_text())


def one_error_line(capsys) -> str:
    """The run printed exactly one line on stderr, `error: problem; fix`, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], err
    return lines[0]
