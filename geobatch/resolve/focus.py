"""A document's focus, and the opt-in focus fallback that places unresolved spans there.

The focus is the document's most-mentioned gazetteer place at the most specific level it has (a city
before an admin2 before a state before a country). It goes to the `docs/` table (`focus_*` columns)
whatever the fallback setting, so the information is kept with the document, not smeared onto spans.

Focus fallback (off unless asked for: `--focus-fallback`): a span the gazetteer left unresolved gets
the location of the nearest resolved city (or admin2) mention in the text, else of the focus, with
`resolved_by = "document_focus"`, geonameid/resolved_name/feature/population null and a score of at
most FOCUS_SCORE. Off by default because a consumer that maps every row with a latitude would put
"Thames" at Austria's point: such coordinates are not the named place.
"""

from __future__ import annotations

FOCUS_SCORE = 0.2
GAZETTEER, DOCUMENT_FOCUS = "gazetteer", "document_focus"  # the values of `resolved_by`

_SPECIFICITY = {"city": 3, "other": 2, "admin1": 1, "country": 0}


class Resolutions(list):
    """The resolver's per-span results (dicts or None), plus the document's `focus` (dict or None):
    the keys of `focus_columns`, for the docs/ table; and per span the calibration `features` of a
    gazetteer match (None otherwise), which bench/calibrate_scores.py fits the score on."""

    def __init__(self, results=(), focus: dict | None = None, features: list | None = None):
        super().__init__(results)
        self.focus = focus
        self.features = features if features is not None else [None] * len(self)


def focus_columns(focus_place: dict | None) -> dict | None:
    """The docs/ columns of a focus place (None when the document has no resolved place)."""
    if focus_place is None:
        return None
    return {"focus_country_code": focus_place["country_code"], "focus_admin1_code": focus_place["admin1_code"],
            "focus_latitude": focus_place["latitude"], "focus_longitude": focus_place["longitude"]}


def fill_from_focus(results: list, starts: list[int]) -> list:
    """Unresolved spans take the location of the nearest resolved city (or admin2) mention in the
    text, else of the document's most-mentioned place at the most specific level it has."""
    local = [(starts[i], r) for i, r in enumerate(results)
             if r is not None and r["geonameid"] is not None and r["feature"] in ("city", "other")]
    overall = document_focus(results)
    out = []
    for i, r in enumerate(results):
        if r is None:
            src = min(local, key=lambda x: abs(x[0] - starts[i]))[1] if local else overall
            r = _as_focus(src) if src is not None else None
        out.append(r)
    return out


def document_focus(results: list) -> dict | None:
    """The document's focus: the most specific level with a resolved span, most-mentioned there."""
    weight: dict[int, float] = {}
    first: dict[int, dict] = {}
    for r in results:
        if r is None or r.get("resolved_by") != GAZETTEER or r["geonameid"] is None or r["feature"] not in _SPECIFICITY:
            continue
        gid = r["geonameid"]
        weight[gid] = weight.get(gid, 0.0) + r["resolution_score"]
        first.setdefault(gid, r)
    if not weight:
        return None
    level = max(_SPECIFICITY[first[g]["feature"]] for g in weight)
    gid = max((g for g in weight if _SPECIFICITY[first[g]["feature"]] == level), key=weight.__getitem__)
    return first[gid]


def _as_focus(r: dict) -> dict:
    """A focus placement: the place's location, no claim to be that place; its score is the dev share
    of focus placements within 161 km (calibration.py), FOCUS_SCORE without a fitted model."""
    from .calibration import focus_probability

    return {**r, "geonameid": None, "resolved_name": None, "feature": None, "population": None,
            "resolution_score": round(focus_probability(FOCUS_SCORE), 4), "resolved_by": DOCUMENT_FOCUS}
