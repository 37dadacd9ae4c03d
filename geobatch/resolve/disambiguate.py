"""Pick the place each span names, using the rest of the document.

Each candidate gets a score in log10-population units:

    prior   = log10(population + 10) + feature bonus (countries and continents are what a bare
              name usually means in news; first-level subdivisions next) + a penalty for weaker ways
              of matching (a GeoNames alternate name, a demonym, a partial match)
    context = + country weight  if other spans of the document put weight on the candidate's country
              + admin1 weight   if they put weight on its first-level subdivision
              + pattern weight  if the text right after the span says where it is ("Paris, Texas",
                                "Tbilisi, Georgia", "Austin, TX")

Context comes from the other spans' candidate distributions (a softmax over their scores), so a
certain "Tbilisi" counts fully and an ambiguous "Georgia" splits its weight; spans with the same name
as the one being scored are left out, so a name cannot vouch for itself. Two rounds: priors only,
then priors plus context. `resolution_score` is the winning candidate's softmax probability times a
factor for how it was matched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import aliases
from .index import Gazetteer
from .normalize import name_key, span_surface
from .sources import (ABBREVIATION, ADMIN1, ALIAS, ALTERNATE, CITY, CODE, CONTINENT, COUNTRY, DEMONYM,
                      FEATURE_NAMES, OTHER, PRIMARY)

FEATURE_BONUS = {CONTINENT: 3.0, COUNTRY: 3.0, ADMIN1: 1.5, CITY: 0.0, OTHER: -1.0}
VIA_PENALTY = {PRIMARY: 0.0, ALIAS: 0.0, ABBREVIATION: 0.0, CODE: 0.0, DEMONYM: -0.5, ALTERNATE: -1.5}
PARTIAL_PENALTY = -2.0  # matched a part of the span only ("Old Town Manassas" -> Manassas)
VIA_TRUST = {PRIMARY: 1.0, ALIAS: 1.0, ABBREVIATION: 1.0, CODE: 0.9, DEMONYM: 0.9, ALTERNATE: 0.8}
PARTIAL_TRUST = 0.6
COUNTRY_WEIGHT = 2.0
ADMIN1_WEIGHT = 1.5
PATTERN_WEIGHT = 4.0
SOFTMAX_SCALE = 2.0  # score units -> natural log odds
MAX_CANDIDATES = 60
ADMIN_TWIN_SHARE = 0.3

_AFTER_COMMA = re.compile(r"^\s*,\s*((?:[A-Z][\w.'’-]*\.?)(?:\s+[A-Z][\w.'’-]*){0,3})")
_UPPER_CODE = re.compile(r"^[A-Z]{2}$")


@dataclass
class Candidate:
    row: int
    prior: float
    trust: float


class Resolver:
    """Document-aware toponym resolver over a cached `Gazetteer`."""

    _shared: "Resolver | None" = None

    def __init__(self, gazetteer: Gazetteer):
        self.gaz = gazetteer
        self._cache: dict[tuple[str, bool], list[Candidate]] = {}

    @classmethod
    def load(cls, cache_dir=None, log=None) -> "Resolver":
        """The process-wide resolver (index read from the disk cache, built there the first time)."""
        if cache_dir is None and cls._shared is not None:
            return cls._shared
        from .index import load_or_build

        resolver = cls(load_or_build(cache_dir, log=log))
        if cache_dir is None:
            cls._shared = resolver
        return resolver

    # -- candidates ------------------------------------------------------------------------------
    def _prior(self, row: int, via: int) -> float:
        g = self.gaz
        return (math.log10(int(g.population[row]) + 10) + FEATURE_BONUS[int(g.feature[row])]
                + VIA_PENALTY.get(via, 0.0))

    def _exact(self, key: str, upper_code: bool) -> list[tuple[int, int]]:
        rows = self.gaz.rows_for(key)
        if not upper_code:  # postal codes only when written as codes ("TX", not "tx" or "Tx")
            rows = [(r, v) for r, v in rows if v != CODE]
        return rows

    def candidates(self, surface: str) -> list[Candidate]:
        text = span_surface(surface)
        upper = bool(_UPPER_CODE.match(text))
        ck = (text, upper)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        out = self._lookup(text, upper)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[ck] = out
        return out

    def _lookup(self, text: str, upper: bool) -> list[Candidate]:
        key = name_key(text)
        found = self._exact(key, upper)
        trust_scale, penalty = 1.0, 0.0
        if not found:
            for variant in _variants(key):
                found = self._exact(variant, False)
                if found:
                    break
        if not found:
            found = self._partial(key)
            trust_scale, penalty = PARTIAL_TRUST, PARTIAL_PENALTY
        found = self._drop_admin_twins(found)
        cands = [Candidate(r, self._prior(r, v) + penalty, VIA_TRUST.get(v, 0.8) * trust_scale) for r, v in found]
        cands.sort(key=lambda c: -c.prior)
        return cands[:MAX_CANDIDATES]

    def _drop_admin_twins(self, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """A subdivision named after the big city inside it (Tbilisi, Paris department) means the city.

        GeoNames, like news, takes the bare name for the city; the subdivision stays a candidate only
        when its same-named city holds under 30 % of its (summed city) population (New York State
        keeps "New York" only if NYC were small; Quebec province keeps "Quebec").
        """
        g = self.gaz
        cities = {}
        for r, v in found:
            if int(g.feature[r]) == CITY and v in (PRIMARY, ALIAS):
                k = (g.country_code[r], g.admin1_code[r])
                cities[k] = max(cities.get(k, 0), int(g.population[r]))
        if not cities:
            return found
        out = []
        for r, v in found:
            if int(g.feature[r]) in (ADMIN1, OTHER):
                pop_city = cities.get((g.country_code[r], g.admin1_code[r]), 0)
                if pop_city and pop_city >= ADMIN_TWIN_SHARE * int(g.population[r]):
                    continue
            out.append((r, v))
        return out

    def _partial(self, key: str) -> list[tuple[int, int]]:
        """Longest run of words inside a multi-word name that is itself a known name (not a code)."""
        words = key.split()
        for n in range(len(words) - 1, 0, -1):
            for i in range(len(words) - n + 1):
                sub = " ".join(words[i:i + n])
                if sub in aliases.GENERIC_WORDS or len(sub) < 3:
                    continue
                rows = [(r, v) for r, v in self.gaz.rows_for(sub) if v not in (CODE, DEMONYM, ALTERNATE)]
                if rows:
                    return rows
        return []

    # -- "City, State" ----------------------------------------------------------------------------
    def _container_after(self, text: str, end: int) -> list[int]:
        """Rows of countries/subdivisions named right after the span, behind a comma."""
        m = _AFTER_COMMA.match(text[end:end + 60])
        if not m:
            return []
        words = m.group(1).split()
        g = self.gaz
        for n in range(len(words), 0, -1):
            phrase = " ".join(words[:n])
            upper = bool(_UPPER_CODE.match(phrase.rstrip(".")))
            rows = [r for r, v in self._exact(name_key(phrase), upper)
                    if int(g.feature[r]) in (COUNTRY, ADMIN1, OTHER) and v != DEMONYM]
            if rows:
                return rows
        return []

    # -- documents ---------------------------------------------------------------------------------
    def resolve_document(self, text: str, spans: Sequence[tuple]) -> list[dict | None]:
        """One result dict (see RESOLVED_COLUMNS) or None per span, in order.

        `spans` are (start, end, label) tuples with character offsets into `text`; the label is not used.
        """
        g = self.gaz
        n = len(spans)
        surfaces = [text[s[0]:s[1]] for s in spans]
        keys = [name_key(span_surface(s)) for s in surfaces]
        cands = [self.candidates(s) for s in surfaces]
        containers = [self._container_after(text, int(s[1])) for s in spans]

        # context masses per distinct name: a name's mentions count once, and never for themselves
        scores = [np.array([c.prior for c in cs]) for cs in cands]
        for _round in range(2):
            probs = [_softmax(sc) for sc in scores]
            country_by_key: dict[str, dict[str, float]] = {}
            admin_by_key: dict[str, dict[tuple[str, str], float]] = {}
            for i in range(n):
                if not cands[i] or keys[i] in country_by_key:
                    continue
                cm: dict[str, float] = {}
                am: dict[tuple[str, str], float] = {}
                for c, p in zip(cands[i], probs[i].tolist()):
                    cc = g.country_code[c.row]
                    if cc:
                        cm[cc] = cm.get(cc, 0.0) + p
                        a1 = g.admin1_code[c.row]
                        if a1:
                            am[(cc, a1)] = am.get((cc, a1), 0.0) + p
                country_by_key[keys[i]], admin_by_key[keys[i]] = cm, am
            total_c: dict[str, float] = {}
            total_a: dict[tuple[str, str], float] = {}
            for k in country_by_key:
                for cc, p in country_by_key[k].items():
                    total_c[cc] = total_c.get(cc, 0.0) + p
                for ka, p in admin_by_key[k].items():
                    total_a[ka] = total_a.get(ka, 0.0) + p
            new_scores = []
            for i in range(n):
                own_c = country_by_key.get(keys[i], {})
                own_a = admin_by_key.get(keys[i], {})
                cont = containers[i]
                sc = []
                for c in cands[i]:
                    cc, a1 = g.country_code[c.row], g.admin1_code[c.row]
                    s = c.prior
                    if cc:
                        mass = total_c.get(cc, 0.0) - own_c.get(cc, 0.0)
                        s += COUNTRY_WEIGHT * min(mass, 1.0)
                        if a1:
                            mass_a = total_a.get((cc, a1), 0.0) - own_a.get((cc, a1), 0.0)
                            s += ADMIN1_WEIGHT * min(mass_a, 1.0)
                    if cont and self._inside(c.row, cont):
                        s += PATTERN_WEIGHT
                    sc.append(s)
                new_scores.append(np.array(sc))
            scores = new_scores

        out: list[dict | None] = []
        for i in range(n):
            if not cands[i]:
                out.append(None)
                continue
            p = _softmax(scores[i])
            best = int(np.argmax(scores[i]))
            c = cands[i][best]
            out.append(self._result(c.row, float(p[best]) * c.trust))
        return out

    def _inside(self, row: int, containers: list[int]) -> bool:
        g = self.gaz
        cc, a1 = g.country_code[row], g.admin1_code[row]
        for r in containers:
            if r == row:
                continue
            f = int(g.feature[r])
            if g.country_code[r] != cc:
                continue
            if f == COUNTRY or (f in (ADMIN1, OTHER) and g.admin1_code[r] == a1 and int(g.feature[row]) != COUNTRY):
                return True
        return False

    def _result(self, row: int, score: float) -> dict:
        g = self.gaz
        gid = int(g.geonameid[row])
        return {
            "geonameid": gid if gid >= 0 else None,
            "resolved_name": g.name[row],
            "feature": FEATURE_NAMES[int(g.feature[row])],
            "country_code": g.country_code[row] or None,
            "admin1_code": g.admin1_code[row] or None,
            "latitude": float(g.latitude[row]),
            "longitude": float(g.longitude[row]),
            "population": int(g.population[row]),
            "resolution_score": round(min(max(score, 0.0), 1.0), 4),
        }


def _softmax(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    z = (scores - scores.max()) * SOFTMAX_SCALE
    e = np.exp(z)
    return e / e.sum()


def _variants(key: str):
    """Other spellings to try when a name is not found as written."""
    words = key.split()
    expanded = [aliases.WORD_EXPANSIONS.get(w, w) for w in words]
    if expanded != words:
        yield " ".join(expanded)
    for prefix in aliases.GENERIC_PREFIXES:
        if key.startswith(prefix):
            yield key[len(prefix):]
    if len(words) > 1 and words[-1] in aliases.GENERIC_WORDS:
        yield " ".join(words[:-1])
    if len(words) > 1 and words[0] in aliases.GENERIC_WORDS:
        yield " ".join(words[1:])
