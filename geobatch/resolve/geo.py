"""Great-circle distances and the geocoding scores built on them (accuracy@161 km, error km).

Distances use the haversine formula on a sphere of the mean Earth radius (6371.0088 km), as the
geoparsing literature does (Gritta et al., Mordecai3); 161 km is 100 miles.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

EARTH_RADIUS_KM = 6371.0088
ACCURACY_KM = 161.0


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Distance in km between points given in degrees (scalars or arrays; NaN in -> NaN out)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(x, dtype=np.float64)) for x in (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _floats(values: Iterable) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def geo_errors_km(pred_lat: Sequence, pred_lon: Sequence, gold_lat: Sequence, gold_lon: Sequence) -> np.ndarray:
    """Per-span error in km; NaN where the prediction is missing (unresolved). None counts as missing."""
    return haversine_km(_floats(pred_lat), _floats(pred_lon), _floats(gold_lat), _floats(gold_lon))


class GeoScore:
    """Accumulates errors of spans that have gold coordinates; chunks add up (`add`, `merge`).

    accuracy@161 km counts a span without coordinates (unresolved) as a miss, so it is the share of
    *all* gold-located spans placed within 161 km. Median and mean error are over located spans only
    (an unresolved span has no distance); `share_unresolved` says how many that leaves out.
    """

    def __init__(self):
        self.errors: list[float] = []  # NaN = unresolved

    def add(self, errors_km: Iterable[float]) -> None:
        self.errors.extend(float(e) for e in errors_km)

    def merge(self, other: "GeoScore") -> None:
        self.errors.extend(other.errors)

    def result(self) -> dict:
        e = np.asarray(self.errors, dtype=np.float64)
        n = int(e.size)
        resolved = e[~np.isnan(e)]
        hits = int((resolved <= ACCURACY_KM).sum())
        return {
            "gold_located_spans": n,
            "located": int(resolved.size),  # spans given coordinates (gazetteer match or focus fallback)
            "share_unresolved": (n - resolved.size) / n if n else None,
            "accuracy_at_161km": hits / n if n else None,
            "accuracy_at_161km_of_located": hits / resolved.size if resolved.size else None,
            "median_error_km": float(np.median(resolved)) if resolved.size else None,
            "mean_error_km": float(resolved.mean()) if resolved.size else None,
            "note": "accuracy_at_161km counts spans without coordinates as misses; error km are over located spans",
        }


def geo_metrics(pred_lat, pred_lon, gold_lat, gold_lon) -> dict:
    """One-shot score of spans that have gold coordinates (spans without gold must be left out first)."""
    score = GeoScore()
    score.add(geo_errors_km(pred_lat, pred_lon, gold_lat, gold_lon))
    return score.result()


def is_coordinate(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
