"""`resolution_score` as a calibrated probability: the chance that the point is within 161 km.

Method (Platt-style logistic calibration with match features): for each span the gazetteer resolves,
`features()` describes the match (the disambiguator's raw score, the kind of place, its population,
how the name matched, whether the rest of the document backs its country) and a logistic model turns
them into P(error <= 161 km). The coefficients live in `calibration.json` beside this file; they are
fitted by `python bench/calibrate_scores.py` on the gold spans of GeoWebNews and TUD-Loc-2013 train
only (never TUD-Loc-2013 validation, which checks the fit, nor GeoVirus, whose country points follow
another convention: see bench/country_points.py). docs/RESULTS.md has the reliability table.

A document-focus placement (opt-in fallback) scores the share of such placements within 161 km on the
same dev spans: it is one number, since nothing is known about the place the span names.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("calibration.json")

# kinds of place as the features see them (the index's feature names; landforms count with water)
KINDS = ("continent", "country", "admin1", "other", "water")  # "city" is the baseline
AREAS = ("continent", "country", "admin1", "other")  # places with an extent: a bigger one's centre is further off
FEATURE_NAMES = ("bias", "logit_raw_score", *(f"kind_{k}" for k in KINDS), "log10_population",
                 "log10_population_of_area", "via_alternate", "via_demonym_or_code", "partial", "fragment",
                 "needs_support", "country_support", "log_candidates", "log10_country_area")
_EPS = 1e-3


def features(raw_score: float, kind: str, population: int, via_alternate: bool, via_demonym_or_code: bool,
             partial: bool, fragment: bool, needs_support: bool, country_support: float, candidates: int,
             area_km2: float = 0.0) -> list[float]:
    """The calibration features of one gazetteer match, in FEATURE_NAMES order.

    raw_score: the winner's softmax probability times the trust in how it matched (the old score);
    country_support: the mass (0-1) that the document's other names put on the place's country;
    candidates: how many places the name could be (ambiguity the softmax may not show);
    area_km2: a country's area (0 for other places): one point stands for a large country less well.
    """
    p = min(max(raw_score, _EPS), 1 - _EPS)
    kind = "water" if kind == "landform" else kind
    log_pop = math.log10(population + 10)
    return [1.0, math.log(p / (1 - p)), *(1.0 if kind == k else 0.0 for k in KINDS),
            log_pop, log_pop if kind in AREAS else 0.0, float(via_alternate), float(via_demonym_or_code),
            float(partial), float(fragment), float(needs_support), min(max(country_support, 0.0), 1.0),
            math.log1p(candidates), math.log10(area_km2 + 1) if kind == "country" else 0.0]


@lru_cache(maxsize=1)
def model() -> dict | None:
    """The fitted model ({"coefficients": {name: w}, "document_focus": p, ...}), or None when absent."""
    try:
        data = json.loads(PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if list(data.get("coefficients", {})) != list(FEATURE_NAMES):
        return None  # fitted for other features: fall back to the raw score rather than mis-apply it
    return data


def probability(x: list[float], raw_score: float) -> float:
    """P(within 161 km) for features `x`; the raw score when no fitted model is installed."""
    m = model()
    if m is None:
        return raw_score
    z = sum(w * v for w, v in zip(m["coefficients"].values(), x))
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def focus_probability(default: float) -> float:
    """The dev share of document-focus placements within 161 km, or `default` without a model."""
    m = model()
    return float(m["document_focus"]) if m and m.get("document_focus") is not None else default
