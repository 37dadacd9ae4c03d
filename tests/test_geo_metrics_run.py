"""`geobatch run`'s geo block: recogniser + resolver against gold coordinates, worked out by hand.

The tiny ONNX model tags paris/london/berlin as B-geo, france/germany as B-gpe and york as I-geo (so
"Old York" comes out as the span "York": no place is named "Old York", so decoding does not join the
untagged "Old" to it as it joins "New"); everything else is O. A stand-in resolver places each span
text at a fixed point on the equator, where the great-circle distance between longitudes a and b is
just the arc R * |a - b| (R = 6371.0088 km), so every expected figure is plain arithmetic.
"""

import json
import math

import pytest
from tiny_onnx import tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.engines import RunConfig
from geobatch.engines.local import run_local
from geobatch.evaluate.metrics import MetricsAccumulator
from geobatch.evaluate.metrics_geo import GeoMatchScore, match_spans
from geobatch.io.gold import gold_coordinates
from geobatch.pipeline import Pipeline, PipelineOptions

KM_PER_DEGREE = 6371.0088 * math.pi / 180  # arc length of one degree on the mean-radius sphere

# span text (lower case) -> (lat, lon) the stand-in resolver returns; berlin stays unresolved
PLACES = {"paris": (0.0, 0.0), "london": (0.0, 0.0), "york": (10.0, 20.0), "france": (0.0, 0.5)}


def fake_resolver(text, spans):
    out = []
    for s in spans:
        point = PLACES.get(text[s["start_char"]:s["end_char"]].lower())
        out.append(None if point is None else {"geonameid": 1, "latitude": point[0], "longitude": point[1]})
    return out


def gold(text, surface, lat=None, lon=None, keys=("lat", "lon"), **extra):
    start = text.index(surface)
    span = {"start": start, "end": start + len(surface), **extra}
    if lat is not None:
        span.update({keys[0]: lat, keys[1]: lon})
    return span


T1 = "We flew from Paris to London and then to Lyon."
T2 = "Old York is big."
T3 = "Berlin, Germany is far."
T4 = "Nothing here but France."
T5 = "Paris again, no coordinates given."
DOCS = [
    # Paris: exact, 1 degree off -> 111.2 km, hit. London: exact, 3 degrees -> 333.6 km, miss.
    # Lyon: the tiny model does not tag it -> unmatched, a miss. Not-a-place: skipped by its type.
    ("d1", T1, [gold(T1, "Paris", 0.0, 1.0), gold(T1, "London", 0.0, 3.0), gold(T1, "Lyon", 45.76, 4.84),
                gold(T1, "We", 0.0, 0.0, type="Non_Toponym")]),
    # gold "Old York" vs predicted "York": overlap match, resolved exactly on the gold point -> 0 km
    ("d2", T2, [gold(T2, "Old York", 10.0, 20.0, keys=("latitude", "longitude"))]),
    # Berlin: exact match but the resolver leaves it unresolved -> miss; Germany has no coordinates
    ("d3", T3, [gold(T3, "Berlin", 52.52, 13.4), gold(T3, "Germany")]),
    # France: exact, half a degree -> 55.6 km, hit
    ("d4", T4, [gold(T4, "France", 0.0, 0.0)]),
    # no gold coordinates at all: no contribution
    ("d5", T5, [gold(T5, "Paris")]),
]
ERRORS_KM = [1 * KM_PER_DEGREE, 3 * KM_PER_DEGREE, 0.0, 0.5 * KM_PER_DEGREE]  # located matches


def write_corpus(path, docs=DOCS):
    path.write_text("".join(json.dumps({"doc_id": i, "text": t, "toponyms": s}) + "\n" for i, t, s in docs))
    return path


def run_with(model_dir, inp, out, resolver=fake_resolver, chunk_size=1000, overwrite=True):
    options = PipelineOptions(id_column="doc_id", spans_column="toponyms", with_gold=True)
    config = RunConfig(model=str(model_dir), inputs=[str(inp)], output=str(out), pipeline=options,
                       chunk_size=chunk_size, overwrite=overwrite, quiet=True)
    return run_local(config, Pipeline(model_dir, options, resolver=resolver))


def test_geo_block_by_hand(tmp_path, tiny_onnx_dir):  # noqa: F811
    summary = run_with(tiny_onnx_dir, write_corpus(tmp_path / "in.jsonl"), tmp_path / "out")
    g = json.loads((tmp_path / "out" / "metrics.json").read_text())["geo"]
    assert g == summary.metrics["geo"]
    assert g["gold_located_spans"] == 6  # Paris London Lyon OldYork Berlin France
    assert g["matched"] == {"exact": 4, "overlap": 1}  # Paris London Berlin France; Old York~York
    assert g["share_matched"] == pytest.approx(5 / 6)
    assert g["located"] == 4 and g["share_matched_unresolved"] == pytest.approx(1 / 5)  # Berlin
    assert g["accuracy_at_161km"] == pytest.approx(3 / 6)  # Paris, York, France of all six
    assert g["accuracy_at_161km_of_matched"] == pytest.approx(3 / 5)
    assert g["accuracy_at_161km_of_located"] == pytest.approx(3 / 4)
    # exact matches Paris hit, London miss, Berlin unresolved, France hit; the overlap match York hits
    assert g["accuracy_at_161km_of_matched_by_match"] == {"exact": pytest.approx(2 / 4), "overlap": 1.0}
    assert g["mean_error_km"] == pytest.approx(sum(ERRORS_KM) / 4, abs=1e-3)
    assert g["median_error_km"] == (56 + 111) / 2  # rounded errors 0, 56, 111, 334
    assert "accuracy@161km  all gold 0.5000  matched 0.6000  located 0.7500" in summary.text
    assert "matched 5 = 4 exact + 1 overlap" in summary.text


def test_partials_merge_across_chunks_and_resume(tmp_path, tiny_onnx_dir):  # noqa: F811
    inp = write_corpus(tmp_path / "in.jsonl")
    one = run_with(tiny_onnx_dir, inp, tmp_path / "one").metrics["geo"]
    out = tmp_path / "chunked"
    run_with(tiny_onnx_dir, inp, out, chunk_size=2)  # units d1-d2, d3-d4, d5: partials in the manifest
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["units"]) == 3 and sum("geo" in u["metrics"] for u in manifest["units"].values()) == 2
    assert json.loads((out / "metrics.json").read_text())["geo"] == one
    # resume: forget the first unit (as if the session died before it); the rerun redoes only it and
    # takes the others' geo partials from the manifest
    first = sorted(manifest["units"])[0]
    del manifest["units"][first]
    (out / "manifest.json").write_text(json.dumps(manifest))
    again = run_with(tiny_onnx_dir, inp, out, chunk_size=2, overwrite=False)
    assert again.manifest["docs_this_session"] == 2
    assert again.metrics["geo"] == one


def test_merge_of_two_partials_equals_one_pass():
    docs = [
        ([(0, 5, 0.0, 1.0), (10, 16, 0.0, 3.0)], [{"start_char": 0, "end_char": 5, "label": "geo"},
                                                  {"start_char": 11, "end_char": 16, "label": "gpe"}],
         [{"latitude": 0.0, "longitude": 0.0}, {"latitude": 0.0, "longitude": 0.0}]),
        ([(3, 9, 10.0, 20.0)], [{"start_char": 3, "end_char": 9, "label": "geo"}], [None]),
        ([(0, 4, -33.9, 151.2)], [{"start_char": 0, "end_char": 4, "label": "geo"}], [{"latitude": -33.87, "longitude": 151.21}]),
    ]

    def acc(part):
        m = MetricsAccumulator()
        for d in part:
            m.add(["O"], ["O"])
            m.add_geo(*d)
        return m

    whole = acc(docs)
    a, b = acc(docs[:1]), acc(docs[1:])
    merged = MetricsAccumulator.from_dict(json.loads(json.dumps(a.to_dict())))  # as stored per unit
    merged.merge(MetricsAccumulator.from_dict(json.loads(json.dumps(b.to_dict()))))
    assert merged.to_dict() == whole.to_dict()
    assert merged.report()["geo"] == whole.report()["geo"]
    g = whole.report()["geo"]
    assert (g["gold_located_spans"], g["matched"], g["located"]) == (4, {"exact": 3, "overlap": 1}, 3)
    assert g["accuracy_at_161km"] == pytest.approx(2 / 4)  # 111 km and ~3 km hit, 334 km misses


def test_no_geo_block_without_resolution_or_gold_coordinates(tmp_path, tiny_onnx_dir):  # noqa: F811
    inp = write_corpus(tmp_path / "in.jsonl")
    no_resolve = run_with(tiny_onnx_dir, inp, tmp_path / "a", resolver=None)
    assert "geo" not in no_resolve.metrics and "entity_level" in no_resolve.metrics
    assert "accuracy@161km" not in no_resolve.text
    bare = [(i, t, [{"start": s["start"], "end": s["end"]} for s in spans]) for i, t, spans in DOCS]
    no_coords = run_with(tiny_onnx_dir, write_corpus(tmp_path / "bare.jsonl", bare), tmp_path / "b")
    assert "geo" not in no_coords.metrics
    assert "geo" not in json.loads((tmp_path / "b" / "metrics.json").read_text())


def test_matching_rules():
    # exact first (even when an earlier gold span overlaps that prediction more), then most overlap, one to one
    gold_spans, pred = [(0, 8), (4, 8), (20, 30)], [(4, 8), (0, 3), (22, 25), (26, 29)]
    assert match_spans(gold_spans, pred) == [(1, "overlap"), (0, "exact"), (2, "overlap")]
    assert match_spans([(0, 5)], [(5, 9)]) == [(None, None)]  # touching is not overlapping
    # a predicted span of a non-location type is not a match
    s = GeoMatchScore()
    s.add_document([(0, 5, 0.0, 0.0)], [{"start_char": 0, "end_char": 5, "label": "per"}], [{"latitude": 0.0, "longitude": 0.0}],
                   ("geo", "gpe", "location"))
    assert (s.gold, s.exact + s.overlap, s.hits) == (1, 0, 0)


def test_gold_coordinates_keys():
    assert gold_coordinates({"lat": "1.5", "lon": 2}) == (1.5, 2.0)
    assert gold_coordinates({"latitude": -3, "longitude": 4}) == (-3.0, 4.0)
    assert gold_coordinates({"lat": None, "lon": None}) is None
    assert gold_coordinates({"lat": float("nan"), "lon": 1}) is None
    assert gold_coordinates({"lat": "north", "lon": 1}) is None


def test_cli_with_the_gazetteer_resolver(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    text = "We flew from Paris, France to London and on to Lyon."
    spans = [gold(text, "Paris", 48.8566, 2.3522), gold(text, "France", 46.6, 2.3), gold(text, "London", 51.5074, -0.1278),
             gold(text, "Lyon", 45.764, 4.8357)]
    inp = write_corpus(tmp_path / "in.jsonl", [("x", text, spans)])
    out = tmp_path / "out"
    assert main(["run", "--model", str(tiny_onnx_dir), "--input", str(inp), "--id-column", "doc_id", "--spans-column", "toponyms",
                 "--output", str(out)]) == 0
    g = json.loads((out / "metrics.json").read_text())["geo"]
    assert g["gold_located_spans"] == 4 and g["matched"] == {"exact": 3, "overlap": 0}
    assert g["accuracy_at_161km"] == pytest.approx(3 / 4)  # Lyon is not recognised by the tiny model
    assert "accuracy@161km" in capsys.readouterr().out
    # gazetteer matches only (no focus fallback by default), and their scores by bin: the report plots them
    assert g["accuracy_at_161km_of_resolved"] == 1.0
    assert sum(r["spans"] for r in g["reliability"]) == 3 and all(r["share_within_161km"] == 1.0 for r in g["reliability"])
    from geobatch.evaluate.report import write_report

    assert "Reliability of resolution_score" in write_report(out).read_text()
    assert main(["run", "--no-resolve", "--overwrite", "--model", str(tiny_onnx_dir), "--input", str(inp), "--id-column", "doc_id",
                 "--spans-column", "toponyms", "--output", str(out)]) == 0
    assert "geo" not in json.loads((out / "metrics.json").read_text())
