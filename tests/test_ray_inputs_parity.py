"""One job, the same rows on either engine: the Ray engine follows the local engine's input rules.

gzip CSV/JSONL (told by magic bytes, whatever the name), directories that hold Spark/Delta/notebook
folders (`_temporary/`, `_delta_log/`, `.ipynb_checkpoints/`), globs that match folders, and object
storage listings (`_remote_inputs`, exercised through `file://` URIs). Each Ray run's docs/tokens/
spans must equal the local engine's as sorted row sets. Also: the closing summary names the most
common error reasons (both engines). Samples are written inline; the tiny TF-free model keeps the
model work negligible, so the time is Ray's own (one local Ray instance for the module).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from tiny_onnx import tiny_onnx_dir  # noqa: F401
from ray_helpers import HAVE_RAY, ray_session, ray_test, skip_without_ray  # noqa: F401

from geobatch.engines import RunConfig
from geobatch.errors import GeobatchError
from geobatch.pipeline import PipelineOptions


WORDS = ["Paris", "London", "cats", "New", "York", "Berlin", "the", "Germany", "rain", "United", "Kingdom", "東京"]


def texts(n: int, seed: int) -> list[str]:
    return [" ".join(WORDS[(i * 5 + j * seed) % len(WORDS)] for j in range(1 + (i * seed) % 9)) for i in range(n)]


def jsonl_bytes(docs: list[str], ids: str | None = None) -> bytes:
    return "".join(json.dumps({**({"id": f"{ids}-{i}"} if ids else {}), "text": t}, ensure_ascii=False) + "\n"
                   for i, t in enumerate(docs)).encode()


def csv_bytes(docs: list[str]) -> bytes:
    sink = pa.BufferOutputStream()
    pcsv.write_csv(pa.table({"text": docs}), sink)
    return sink.getvalue().to_pybytes()


def rows(out: Path, table: str) -> list[tuple]:
    t = pq.read_table(out / table)  # a job with no rows still writes an empty, typed part per table
    return sorted(tuple(json.dumps(v, default=str) for v in r.values()) for r in t.to_pylist())


def config(tmp_path: Path, model, inputs: list[str], out: str, **kw) -> RunConfig:
    return RunConfig(model=str(model), inputs=inputs, output=str(tmp_path / out),
                     pipeline=PipelineOptions(batch_size=4, threads=1), chunk_size=7, quiet=True, resolve=False, **kw)


def run_both(tmp_path: Path, model, inputs: list[str], ray_inputs: list[str] | None = None) -> tuple[dict, dict]:
    """Run the local and the Ray engine on the same inputs; their tables must hold the same rows."""
    from geobatch.engines.local import run_local
    from geobatch.engines.ray import RayOptions, run_ray

    local = run_local(config(tmp_path, model, inputs, "local"))
    ray_run = run_ray(config(tmp_path, model, ray_inputs or inputs, "ray"), RayOptions(workers=2))
    assert ray_run.exit_code == local.exit_code
    for table in ("docs", "tokens", "spans"):
        assert rows(tmp_path / "ray", table) == rows(tmp_path / "local", table), table
    assert ray_run.manifest["input_rows"] == local.manifest["input_rows"] and ray_run.manifest["reconciled"]
    return local.manifest, ray_run.manifest


def _spark_like_dir(root: Path) -> Path:
    """A table folder as Spark, Delta and Jupyter leave it: only part-*.jsonl are the data."""
    (root / "_temporary" / "0").mkdir(parents=True)
    (root / "_delta_log").mkdir()
    (root / ".ipynb_checkpoints").mkdir()
    (root / "part-0.jsonl").write_bytes(jsonl_bytes(texts(9, 3)))
    (root / "part-1.jsonl").write_bytes(jsonl_bytes(texts(6, 5)))
    (root / "_temporary" / "0" / "part-0.jsonl").write_bytes(jsonl_bytes(texts(9, 3)))  # an attempt's copy
    (root / "_delta_log" / "00000000000000000000.json").write_text('{"commitInfo": {"operation": "WRITE"}}\n')
    (root / ".ipynb_checkpoints" / "part-1-checkpoint.jsonl").write_bytes(jsonl_bytes(texts(6, 5)))
    return root


# -- (a) gzip ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@ray_test
def test_gzip_inputs_named_gz_match_local(tmp_path, tiny_onnx_dir, fmt):  # noqa: F811
    data = jsonl_bytes if fmt == "jsonl" else csv_bytes
    a, b = tmp_path / f"a.{fmt}.gz", tmp_path / f"b.{fmt}"
    a.write_bytes(gzip.compress(data(texts(17, 3))))
    b.write_bytes(data(texts(11, 4)))
    local, ray_m = run_both(tmp_path, tiny_onnx_dir, [str(a), str(b)])
    assert local["input_rows"] == 28


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@ray_test
def test_gzip_data_misnamed_without_gz_matches_local(tmp_path, tiny_onnx_dir, fmt):  # noqa: F811
    """The local engine tells gzip by its magic bytes; Ray, by the name, would read the compressed bytes as text."""
    data = jsonl_bytes if fmt == "jsonl" else csv_bytes
    a = tmp_path / f"a.{fmt}"
    a.write_bytes(gzip.compress(data(texts(15, 2))))
    local, _ = run_both(tmp_path, tiny_onnx_dir, [str(a)])
    assert local["input_rows"] == 15


@pytest.mark.parametrize("case", ["gzip named .jsonl", "plain named .jsonl.gz"])
@skip_without_ray
def test_gzip_name_mismatch_beside_other_inputs_is_refused_in_one_line(tmp_path, tiny_onnx_dir, capsys, case):  # noqa: F811
    """Ray tells gzip by the name, one setting per read: a misnamed file among others cannot be read
    right, so it is refused before anything starts (the local engine, told by magic bytes, reads it)."""
    from geobatch.cli import main

    plain, odd = tmp_path / "plain.jsonl", tmp_path / ("packed.jsonl" if case.startswith("gzip") else "plain2.jsonl.gz")
    plain.write_bytes(jsonl_bytes(texts(8, 2)))
    odd.write_bytes(gzip.compress(jsonl_bytes(texts(12, 5))) if case.startswith("gzip") else jsonl_bytes(texts(12, 5)))
    common = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(plain), "--input", str(odd)]
    assert main([*common, "--output", str(tmp_path / "local")]) == 0
    assert json.loads((tmp_path / "local" / "manifest.json").read_text())["input_rows"] == 20
    capsys.readouterr()
    assert main([*common, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(odd) in err and "--engine local" in err, err
    assert not (tmp_path / "ray").exists()


# -- (b) directories, (c) globs matching folders ------------------------------------------------------
@ray_test
def test_directory_with_spark_delta_and_checkpoint_folders_matches_local(tmp_path, tiny_onnx_dir):  # noqa: F811
    d = _spark_like_dir(tmp_path / "table")
    local, _ = run_both(tmp_path, tiny_onnx_dir, [str(d)])
    assert local["input_rows"] == 15


@ray_test
def test_glob_matching_partition_folders_matches_local(tmp_path, tiny_onnx_dir):  # noqa: F811
    for month, n in (("2024-01", 8), ("2024-02", 10)):
        _spark_like_dir(tmp_path / "corpus" / f"date={month}")
    (tmp_path / "corpus" / "date=2024-02" / "part-0.jsonl").write_bytes(jsonl_bytes(texts(10, 7)))
    local, _ = run_both(tmp_path, tiny_onnx_dir, [str(tmp_path / "corpus" / "date=2024-*")])
    assert local["input_rows"] == 9 + 6 + 10 + 6
    ids = {json.loads(r[0]) for r in rows(tmp_path / "ray", "docs")}
    assert {"date=2024-01/part-0.jsonl:0", "date=2024-02/part-0.jsonl:9"} <= ids  # same-named files keep their folder


# -- (d) object storage listing ----------------------------------------------------------------------
def test_remote_listing_follows_the_directory_rule(tmp_path):
    """`_remote_inputs` (s3://, gs://, file://...) leaves out what a local directory input leaves out,
    and keeps the gzip inputs a local directory keeps."""
    from geobatch.engines.ray_inputs import _remote_inputs
    from geobatch.io.inputs import resolve_inputs

    d = _spark_like_dir(tmp_path / "table")
    (d / "part-2.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(texts(4, 1))))
    (d / "_SUCCESS").write_bytes(b"")
    (d / "_common_metadata.jsonl").write_bytes(b"")
    local = [Path(i.path).relative_to(d).as_posix() for i in resolve_inputs([str(d)])]
    remote = [i.path.split("/table/", 1)[1] for i in _remote_inputs([d.as_uri()], None)]
    assert local == ["part-0.jsonl", "part-1.jsonl", "part-2.jsonl.gz"]
    assert remote == local
    assert [i.format for i in _remote_inputs([d.as_uri()], None)] == ["jsonl"] * 3


def test_remote_gzip_parquet_is_refused_naming_gunzip(tmp_path):
    from geobatch.engines.ray_inputs import _remote_inputs

    p = tmp_path / "t.parquet.gz"
    p.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(GeobatchError, match="gunzip"):
        _remote_inputs([p.as_uri()], None)


@ray_test
def test_remote_prefix_with_spark_folders_and_gzip_matches_local_directory(tmp_path, tiny_onnx_dir):  # noqa: F811
    d = _spark_like_dir(tmp_path / "table")
    (d / "part-2.jsonl.gz").write_bytes(gzip.compress(jsonl_bytes(texts(4, 1), ids="gz")))
    local, ray_m = run_both(tmp_path, tiny_onnx_dir, [str(d)], ray_inputs=[d.as_uri()])
    assert local["input_rows"] == ray_m["input_rows"] == 19


# -- the closing summary says why rows errored ----------------------------------------------------------
def _latin1_csv(path: Path) -> Path:
    """A latin-1 export: every accented row is invalid UTF-8 (one error row each), the rest are fine;
    plus one row whose gold spans are not JSON, a rarer reason."""
    lines = ["id,text,gold"] + [f"r{i},{'Café in Paris' if i % 3 else 'Berlin rain'},[]" for i in range(12)]
    lines[5] = 'r4,Berlin rain,"[{""start"": 0,"'
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def test_summary_names_the_commonest_error_reasons(tmp_path, tiny_onnx_dir):  # noqa: F811
    from geobatch.engines.local import run_local

    csv = _latin1_csv(tmp_path / "latin1.csv")
    cfg = config(tmp_path, tiny_onnx_dir, [str(csv)], "local")
    cfg.pipeline.spans_column = "gold"
    summary = run_local(cfg)
    assert summary.exit_code == 1
    reasons = summary.manifest["error_reasons"]
    assert [(g["reason"], g["rows"]) for g in reasons["reasons"]] == [
        ("text is not valid UTF-8", 7), ("spans column 'gold' is not valid JSON", 1)]
    assert reasons["reasons"][0]["example_doc_id"] == "r1" and reasons["other_rows"] == 0
    line = next(ln for ln in summary.text.splitlines() if ln.startswith("Error reasons:"))
    assert line.startswith("Error reasons: 7 x text is not valid UTF-8 (e.g. doc_id 'r1': invalid continuation byte at byte 3); "
                           "1 x spans column 'gold' is not valid JSON (e.g. doc_id 'r4': "), line


def test_summary_ranks_reasons_and_counts_the_rest(tmp_path, tiny_onnx_dir):  # noqa: F811
    """JSONL row errors that differ only by line number are one reason; past the top three, the
    rest is a count."""
    from geobatch.engines.local import run_local

    lines = ['{"text": "Paris"}', "not json", "[1]", '{"text": 5}', "also not json", '{"text": [1]}', '{"text": 5.5}',
             '{"text": true}', "{bad", '{"text": 7}']
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join(lines) + "\n")
    summary = run_local(config(tmp_path, tiny_onnx_dir, [str(p)], "local", max_error_rate=1.0))
    assert summary.exit_code == 0  # within the rate: the reasons are still said
    r = summary.manifest["error_reasons"]
    assert [(g["reason"], g["rows"]) for g in r["reasons"]] == [
        ("line N is not JSON", 3), ("text is int, not a string", 2), ("line N is a JSON list, not an object", 1)]
    assert (r["other_reasons"], r["other_rows"]) == (3, 3)  # float, list, bool
    assert "; 3 rows for 3 other reasons. Each row's reason is in docs/ column 'error'." in summary.text


def test_summary_without_error_rows_has_no_reasons(tmp_path, tiny_onnx_dir):  # noqa: F811
    from geobatch.engines.local import run_local

    p = tmp_path / "ok.jsonl"
    p.write_bytes(jsonl_bytes(texts(5, 1)))
    summary = run_local(config(tmp_path, tiny_onnx_dir, [str(p)], "local"))
    assert "error_reasons" not in summary.manifest and "Error reasons" not in summary.text


@ray_test
def test_ray_summary_names_the_same_error_reasons(tmp_path, tiny_onnx_dir):  # noqa: F811
    csv = _latin1_csv(tmp_path / "latin1.csv")
    local, ray_m = run_both(tmp_path, tiny_onnx_dir, [str(csv)])
    assert ray_m["error_reasons"] == local["error_reasons"] and local["error_reasons"]["reasons"][0]["rows"] == 7


# -- other local reading rules -----------------------------------------------------------------------
@ray_test
def test_header_only_csv_without_line_break_matches_local(tmp_path, tiny_onnx_dir):  # noqa: F811
    """An export with no rows is a header with no line break: 0 rows locally (corpus._csv_source)."""
    (tmp_path / "empty.csv").write_bytes(b"id,text")
    (tmp_path / "full.csv").write_bytes(csv_bytes(texts(9, 2)))
    local, _ = run_both(tmp_path, tiny_onnx_dir, [str(tmp_path / "empty.csv"), str(tmp_path / "full.csv")])
    assert local["input_rows"] == 9


@ray_test
def test_jsonl_line_with_invalid_utf8_is_refused_in_one_line(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """Arrow's JSON reader stores invalid UTF-8 unchecked; converting it failed mid-job with a traceback.
    The local engine makes the line one error row; Ray cannot say which line, so it stops in one line."""
    from geobatch.cli import main

    p = tmp_path / "bad.jsonl"
    p.write_bytes(jsonl_bytes(texts(5, 1)) + b'{"text": "caf\xe9"}\n')
    assert main(["run", "--quiet", "--no-resolve", "--engine", "ray", "--model", str(tiny_onnx_dir), "--input", str(p),
                 "--output", str(tmp_path / "ray")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{p}: record 6 has a 'text' value that is not valid UTF-8" in err, err
    assert "--engine local" in err


@ray_test
def test_only_header_only_csvs_match_local(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Nothing to read at all: no units, exit 0, on both engines."""
    (tmp_path / "a.csv").write_bytes(b"id,text")
    (tmp_path / "b.csv").write_bytes(b"text")
    local, _ = run_both(tmp_path, tiny_onnx_dir, [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    assert local["input_rows"] == 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@ray_test
def test_truncated_gzip_stops_the_job_in_one_line(tmp_path, tiny_onnx_dir, capsys, fmt):  # noqa: F811
    """As in the local engine: exit 2 with one line, not a traceback and not a short result."""
    from geobatch.cli import main

    data = jsonl_bytes if fmt == "jsonl" else csv_bytes
    p = tmp_path / f"cut.{fmt}.gz"
    p.write_bytes(gzip.compress(data(texts(400, 3)))[:-40])
    common = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(p)]
    assert main([*common, "--output", str(tmp_path / "local")]) == 2
    capsys.readouterr()
    assert main([*common, "--engine", "ray", "--output", str(tmp_path / "ray")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(p) in err and "Traceback" not in err, err
