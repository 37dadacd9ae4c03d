"""What a gold annotation is, as the readers take it in and the scorers use it.

Read side (io): text/prepare.py turns gold spans into word tags and gold points, io/readers/spans.py
counts unusable points, `geobatch resolve` reads the same points; evaluate/ only scores them. One
definition here keeps run, resolve and the benches agreeing on what a usable gold point is.
"""

from __future__ import annotations

from typing import Mapping

LOCATION = "location"  # the merged location type; also the label of gold spans that carry none

GOLD_COORDINATE_KEYS = (("lat", "lon"), ("latitude", "longitude"))  # as `geobatch resolve` reads them


def gold_coordinates(extra: Mapping) -> tuple[float, float] | None:
    """(lat, lon) from a gold span's extra fields, or None when absent, not numbers or out of range."""
    for a, b in GOLD_COORDINATE_KEYS:
        lat, lon = extra.get(a), extra.get(b)
        if lat is not None and lon is not None:
            try:
                lat, lon = float(lat), float(lon)
            except (TypeError, ValueError):
                return None
            return (lat, lon) if abs(lat) <= 90 and abs(lon) <= 180 else None  # NaN fails too
    return None


def gold_coordinates_problem(extra: Mapping) -> str | None:
    """Why a span's gold point is there but unusable (so `gold_coordinates` ignores it), else None.

    None also when the span carries no point at all (both values of a pair absent or null): that is
    a span without gold coordinates, not a broken one.
    """
    for a, b in GOLD_COORDINATE_KEYS:
        lat, lon = extra.get(a), extra.get(b)
        if lat is None and lon is None:
            continue
        if lat is None or lon is None:
            return f"{a if lat is not None else b} without {b if lat is not None else a}"
        if gold_coordinates(extra) is None:
            return f"{a}={lat!r}, {b}={lon!r} are not degrees within +-90 and +-180"
        return None
    return None
