"""Offline toponym resolution: link location spans to GeoNames places with document context.

    from geobatch.resolve import Resolver, RESOLVED_COLUMNS
    resolver = Resolver.load()                     # index from the disk cache (built once, ~40 s)
    results = resolver.resolve_document(text, [(start, end, label), ...])
    # one dict per span with the RESOLVED_COLUMNS keys, or None when the name is unknown;
    # results.focus: the document's focus (FOCUS_COLUMNS keys) or None

`geo_errors_km` and `GeoScore` score resolved coordinates against gold ones (accuracy@161 km).
"""

from __future__ import annotations

import sys

import pyarrow as pa

from . import calibration
from .disambiguate import Resolver
from .focus import Resolutions
from .geo import ACCURACY_KM, GeoScore, geo_errors_km, geo_metrics, haversine_km

# columns the resolver adds to every span, in order; all null when a span is unresolved
RESOLVED_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("geonameid", pa.int64()),
    ("resolved_name", pa.string()),
    ("feature", pa.string()),  # continent / country / admin1 / city / other
    ("country_code", pa.string()),
    ("admin1_code", pa.string()),
    ("latitude", pa.float64()),
    ("longitude", pa.float64()),
    ("population", pa.int64()),
    ("resolution_score", pa.float32()),  # estimated probability that the point is within 161 km
    ("resolved_by", pa.string()),  # "gazetteer" (geonameid set), "document_focus" (opt-in fallback) or null
)
RESOLVED_NAMES = tuple(name for name, _ in RESOLVED_COLUMNS)
# columns the docs/ table gets: the document's focus place (null when nothing in it resolved)
FOCUS_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("focus_country_code", pa.string()),
    ("focus_admin1_code", pa.string()),
    ("focus_latitude", pa.float64()),
    ("focus_longitude", pa.float64()),
)
EMPTY_RESULT = dict.fromkeys(RESOLVED_NAMES)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_resolver(cache_dir=None, log=None, focus_fallback: bool = False):
    """The runner's resolver seam: `fn(text, spans) -> list[dict | None]`, spans as dicts; the list's
    `.focus` holds the document's focus columns for docs/ (None when nothing resolved).

    A span dict carries `start_char`/`end_char` (the runner's spans/ rows) or `start`/`end`; one with
    `context_only` set (the model's demonyms) only informs the others, and its entry is None.
    """
    resolver = Resolver.load(cache_dir, log=log or _stderr, focus_fallback=focus_fallback)

    def resolve(text: str, spans) -> list:
        tuples = [(s["start_char"], s["end_char"], s.get("label")) if "start_char" in s
                  else (s["start"], s["end"], s.get("label")) for s in spans]
        context = [s.get("context_only", False) for s in spans]
        got = resolver.resolve_document(text, [t for t, c in zip(tuples, context) if not c],
                                        [t for t, c in zip(tuples, context) if c])
        results, features = iter(got), iter(got.features)
        return Resolutions([None if c else next(results) for c in context], got.focus,
                           [None if c else next(features) for c in context])

    resolve.resolver = resolver
    return resolve


__all__ = ["build_resolver", "Resolver", "RESOLVED_COLUMNS", "RESOLVED_NAMES", "FOCUS_COLUMNS", "EMPTY_RESULT", "GeoScore", "geo_errors_km",
           "geo_metrics", "haversine_km", "ACCURACY_KM"]
