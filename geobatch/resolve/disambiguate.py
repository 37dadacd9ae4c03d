"""Pick the place each span names, using the rest of the document.

Each candidate gets a score in log10-population units:

    prior   = log10(population + 10) + feature bonus (countries and continents are what a bare
              name usually means in news; first-level subdivisions next) + a bonus or penalty for
              how the name matched (AP-style press names "Washington" -> the city are preferred; a
              GeoNames alternate name, a demonym or a partial match weigh less)
    context = + country weight  if other spans of the document put weight on the candidate's country
              + admin1 weight   if they put weight on its first-level subdivision
              + pattern weight  if the text right after the span says where it is ("Paris, Texas",
                                "Tbilisi, Georgia", "Austin, TX"), or if the span itself follows
                                "Name, " and so is likely the state/country of a place

Context comes from the other spans' candidate distributions (a softmax over their scores), so a
certain "Tbilisi" counts fully and an ambiguous "Georgia" splits its weight; spans with the same name
as the one being scored are left out, so a name cannot vouch for itself. Two rounds: priors only,
then priors plus context. `resolution_score` is the winning candidate's softmax probability times a
factor for how it was matched.

Weak matches need support: a name found only as part of a longer name ("Old Town Manassas"), or a
bare direction ("Western"), is kept only when the document already points at that country; a small
town with no support, in a document that is clearly about another country, is dropped (it is more
likely a local street or venue the gazetteer lacks).

Focus fallback (opt-in) and the document focus: see focus.py.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from . import aliases, calibration
from .focus import GAZETTEER, Resolutions, document_focus, fill_from_focus, focus_columns
from .index import Gazetteer
from .normalize import name_key, span_surface
from .patterns import UPPER_CODE, NeighbourPatterns
from .plausible import PHYSICAL_KINDS, SMALL_TOWN, PlausibilityRules, physical_name
from .sources import (ABBREVIATION, ADMIN1, ALIAS, ALTERNATE, CITY, CODE, CONTINENT, COUNTRY, DEMONYM,
                      FEATURE_NAMES, LANDFORM, OTHER, PRESS, PRIMARY, WATER)

# water bodies and landforms have no population (log10(0 + 10) = 1): the bonus puts a water body level
# with a town of ~300,000 (a bare "Pacific" is the ocean, not one of the towns called Pacific, even when
# the document backs US places), a landform with one of ~30,000
FEATURE_BONUS = {CONTINENT: 3.0, COUNTRY: 3.0, ADMIN1: 1.5, CITY: 0.0, OTHER: -1.0, WATER: 4.5, LANDFORM: 3.5}
CAPITAL_BONUS = 2.5  # a country's capital: "Dublin", "Lima" stay the capitals beside "Columbus, Ohio"
SENTENCE_ADMIN1_WEIGHT = 1.0  # ... unless a state of the namesake is named in the same sentence
VIA_BONUS = {PRIMARY: 0.0, ALIAS: 0.0, ABBREVIATION: 0.0, CODE: 0.0, DEMONYM: -0.5, ALTERNATE: -1.5, PRESS: 3.0}
VIA_TRUST = {PRIMARY: 1.0, ALIAS: 1.0, ABBREVIATION: 1.0, PRESS: 1.0, CODE: 0.9, DEMONYM: 0.9, ALTERNATE: 0.8}
PARTIAL_PENALTY, PARTIAL_TRUST = -2.0, 0.6
COUNTRY_WEIGHT = 2.0
ADMIN1_WEIGHT = 1.5
ADMIN1_CAP = 1.0  # admin1 mass counts up to this many names
PATTERN_WEIGHT = 5.0  # above CAPITAL_BONUS + the gap between a capital and a small namesake ("Paris, Texas")
SOFTMAX_SCALE = 2.0  # score units -> natural log odds
MAX_CANDIDATES = 25
ADMIN_TWIN_SHARE = 0.3
TWIN_PENALTY = -2.5
FOREIGN_DOMINANT = 1.0  # ... and that makes a document "clearly about" a country

_KIND_AFTER = re.compile(r"\s+(" + "|".join(sorted(aliases.KIND_WORDS)) + r")\b(?!\s+of\b)", re.IGNORECASE)


# how much support from the rest of the document a match needs
STRONG, NEEDS_COUNTRY, NEEDS_ADMIN1 = 0, 1, 2


_PARTIAL_NEEDS = {CONTINENT: STRONG, COUNTRY: STRONG, ADMIN1: NEEDS_COUNTRY, CITY: NEEDS_ADMIN1, OTHER: NEEDS_ADMIN1,
                  WATER: STRONG, LANDFORM: STRONG}

class Candidate:
    __slots__ = ("row", "prior", "trust", "needs", "via", "partial", "fragment")

    def __init__(self, row: int, prior: float, trust: float, needs: int, via: int = PRIMARY, partial: bool = False,
                 fragment: bool = False):
        self.row, self.prior, self.trust, self.needs, self.via = row, prior, trust, needs, via
        self.partial, self.fragment = partial, fragment

    def scaled(self, trust: float) -> "Candidate":
        """This candidate reached through a longer name around the span (a fragment's)."""
        return Candidate(self.row, self.prior, self.trust * trust, self.needs, self.via, self.partial, True)


class Resolver(PlausibilityRules, NeighbourPatterns):
    """Document-aware toponym resolver over a cached `Gazetteer`."""

    _shared: "Resolver | None" = None

    def __init__(self, gazetteer: Gazetteer, focus_fallback: bool = False):
        self.gaz = gazetteer
        self.focus_fallback = focus_fallback
        self._cache: dict[str, tuple[str, list[Candidate]]] = {}
        g = gazetteer
        # plain Python views of the columns: per-element access is what the hot loop does
        self._feature = g.feature.tolist()
        self._population = g.population.tolist()
        self._cc = g.country_code
        self._a1 = g.admin1_code
        self._capital = g.capital.tolist()
        self._known: dict[str, bool] = {}
        self._place_word: dict[str, bool] = {}
        self._largest: dict | None = None  # (country, admin1) -> population of its largest city

    @classmethod
    def load(cls, cache_dir=None, log=None, focus_fallback: bool = False) -> "Resolver":
        """A resolver over the disk-cached index (built there the first time); the index is shared."""
        if cache_dir is None and cls._shared is not None:
            gaz = cls._shared.gaz
        else:
            from .index import load_or_build

            gaz = load_or_build(cache_dir, log=log)
        resolver = cls(gaz, focus_fallback=focus_fallback)
        if cache_dir is None and cls._shared is None:
            cls._shared = resolver
        return resolver

    # -- candidates ------------------------------------------------------------------------------
    def _prior(self, row: int, via: int) -> float:
        return (math.log10(self._population[row] + 10) + FEATURE_BONUS[self._feature[row]]
                + VIA_BONUS.get(via, 0.0) + (CAPITAL_BONUS if self._capital[row] else 0.0))

    def _exact(self, key: str, upper_code: bool) -> list[tuple[int, int]]:
        rows = self.gaz.rows_for(key)
        if not upper_code:  # postal codes only when written as codes ("TX", not "tx" or "Tx")
            rows = [(r, v) for r, v in rows if v != CODE]
        return rows

    def candidates(self, surface: str) -> list[Candidate]:
        return self._entry(surface)[1]

    def _entry(self, surface: str) -> tuple[str, list[Candidate]]:
        """(name key, candidates) of a span text; memoised, since names repeat across documents."""
        hit = self._cache.get(surface)
        if hit is None:
            text = span_surface(surface)
            hit = (name_key(text), self._lookup(text, bool(UPPER_CODE.match(text))))
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[surface] = hit
        return hit

    def _lookup(self, text: str, upper: bool) -> list[Candidate]:
        key = name_key(text)
        found = dict(self._exact(key, upper))
        for variant in _variants(key, bool(found)):
            for r, v in self._exact(variant, False):
                if r not in found or v < found[r]:
                    found[r] = v
        # "Washington state", "Hubei province", "Quebec City": the kind word picks among the namesakes
        words = key.split()
        kinds = aliases.KIND_WORDS.get(words[-1]) if len(words) > 1 else None
        if kinds and not self.gaz.has(key):
            typed = {r: v for r, v in found.items() if self._feature[r] in kinds}
            found = typed or found
        needs = NEEDS_COUNTRY if found and set(key.split()) <= aliases.DIRECTIONAL_WORDS else STRONG
        penalty, trust, partial = 0.0, 1.0, False
        physical = physical_name(key)
        if physical:
            found = self._physical_only(key, found)
        if not found and key not in aliases.REGION_AND_FEATURE_NAMES:
            found = dict(self._partial(key))
            if physical:  # "Gulf of Mexico" is not Mexico ("Salinas Valley" may still be near Salinas)
                found = {r: v for r, v in found.items() if self._feature[r] not in (COUNTRY, CONTINENT, ADMIN1)}
            if physical and key.split()[0] in aliases.PHYSICAL_FIRST_WORDS_STRICT:  # "Lake Geneva" is no town Geneva
                found = {r: v for r, v in found.items() if self._feature[r] in PHYSICAL_KINDS}
            penalty, trust, partial = PARTIAL_PENALTY, PARTIAL_TRUST, True
        pairs = list(found.items())
        twins = self._admin_twins(pairs)
        cands = []
        for r, v in pairs:
            # a country inside a longer name ("US Federal Reserve") is safe; a state needs the country
            # named elsewhere ("Central Plateau" is not Nigeria's Plateau), a town its state ("Royal Street")
            n = _PARTIAL_NEEDS[self._feature[r]] if partial else needs
            twin = TWIN_PENALTY if r in twins else 0.0
            cands.append(Candidate(r, self._prior(r, v) + penalty + twin, VIA_TRUST.get(v, 0.8) * trust, n, v, partial))
        cands.sort(key=lambda c: -c.prior)
        return cands[:MAX_CANDIDATES]

    def _admin_twins(self, found: list[tuple[int, int]]) -> set[int]:
        """Subdivisions named after the big city inside them ("São Paulo", "Tbilisi", "New York", the
        Paris département): GeoNames, like news, takes the bare name for the city, so these get a penalty
        (context or "Rochester, New York" can still pick them).

        Twin: a same-named city in the same admin1 that is the largest city there or holds at least 30 %
        of its (summed city) population. Quebec province is no twin of Quebec City (Montreal is bigger).
        """
        feat, pop, cc, a1 = self._feature, self._population, self._cc, self._a1
        cities: dict = {}
        for r, v in found:
            if feat[r] == CITY and v in (PRIMARY, ALIAS, PRESS):
                k = (cc[r], a1[r])
                cities[k] = max(cities.get(k, 0), pop[r])
        if not cities:
            return set()
        twins = set()
        for r, v in found:
            if feat[r] in (ADMIN1, OTHER):
                k = (cc[r], a1[r])
                pop_city = cities.get(k, 0)
                if pop_city and (pop_city >= ADMIN_TWIN_SHARE * pop[r] or pop_city >= self._largest_city(k)):
                    twins.add(r)
        return twins

    def _largest_city(self, key: tuple[str, str]) -> int:
        if self._largest is None:
            # computed once per index and kept on it, shared by every Resolver over that index
            largest = getattr(self.gaz, "largest_city_by_admin1", None)
            if largest is None:
                largest = {}
                for r, f in enumerate(self._feature):
                    if f == CITY:
                        k = (self._cc[r], self._a1[r])
                        if self._population[r] > largest.get(k, -1):
                            largest[k] = self._population[r]
                self.gaz.largest_city_by_admin1 = largest
            self._largest = largest
        return self._largest.get(key, 0)

    def _partial(self, key: str) -> list[tuple[int, int]]:
        """Longest run of words inside a multi-word name that is itself a known name (not in water names)."""
        words = key.split()
        if words and words[-1] in aliases.WATER_WORDS:
            return []
        # a run longer than the longest indexed name cannot match: skipping those keeps a span of
        # thousands of words (a gold end offset at the end of the text) from taking cubic time
        for n in range(min(len(words) - 1, self._longest_name_words()), 0, -1):
            for i in range(len(words) - n + 1):
                part = words[i:i + n]
                if all(w in aliases.PARTIAL_STOPWORDS for w in part) or len(" ".join(part)) < 3:
                    continue
                rows = [(r, v) for r, v in self.gaz.rows_for(" ".join(part))
                        if v in (PRIMARY, ALIAS, ABBREVIATION)
                        or (v == DEMONYM and i == 0 and self._feature[r] in (COUNTRY, CONTINENT))]
                if rows:
                    return rows
        return []

    def _longest_name_words(self) -> int:
        """Words in the longest name key of the index; computed once per index and kept on it."""
        longest = getattr(self.gaz, "longest_name_words", None)
        if longest is None:
            longest = self.gaz.longest_name_words = max((k.count(" ") + 1 for k in self.gaz.keys), default=0)
        return longest

    def _kind_after(self, text: str, end: int, cands: list[Candidate]) -> list[Candidate]:
        """A kind word right after the span picks among namesakes: "a Washington state farm"."""
        m = _KIND_AFTER.match(text, end, end + 24)
        # not "the U.S. state of Texas", "the English city of York": there the kind word is the other
        # place's, and the span an adjective
        if not m or len(cands) < 2 or any(self._feature[c.row] in (COUNTRY, CONTINENT) for c in cands):
            return cands
        kinds = aliases.KIND_WORDS.get(m.group(1).lower())
        typed = [c for c in cands if self._feature[c.row] in kinds]
        return typed or cands

    # -- documents ---------------------------------------------------------------------------------
    def resolve_document(self, text: str, spans: Sequence[tuple]) -> Resolutions:
        """One result dict (keys: RESOLVED_COLUMNS) or None per span, in order; `.focus` is the
        document's focus (docs/ columns) or None.

        `spans` are (start, end, label) tuples with character offsets into `text`; the label is not used.
        """
        n = len(spans)
        if n == 0:
            return Resolutions()
        cc_of, a1_of, feat = self._cc, self._a1, self._feature
        surfaces = [text[s[0]:s[1]] for s in spans]
        entries = [self._plausible(text, int(s[0]), int(s[1]), *self._entry(surface)) for s, surface in zip(spans, surfaces)]
        keys = [e[0] for e in entries]
        cands = [self._kind_after(text, int(s[1]), e[1]) for s, e in zip(spans, entries)]
        containers = [self._container_after(text, int(s[1])) if cands[i] else [] for i, s in enumerate(spans)]
        after_place = self._after_place(text, spans, cands)
        same_sentence = self._states_in_sentence(text, spans, cands)

        # a name's mentions count once and never for themselves; names with the same candidates
        # ("Nyanza", "Nyanza Province") are one name here, so they cannot vouch for each other
        groups = [frozenset(c.row for c in cs) for cs in cands]
        strong = [bool(cs) and cs[0].needs == STRONG for cs in cands]
        scores = [[c.prior for c in cs] for cs in cands]
        own_c: dict = {}
        own_a: dict = {}
        total_c: dict = {}
        total_a: dict = {}
        for _round in range(2):
            own_c, own_a = {}, {}
            for i in range(n):
                if not strong[i] or groups[i] in own_c:
                    continue
                cm: dict[str, float] = {}
                am: dict[tuple[str, str], float] = {}
                for c, p in zip(cands[i], _softmax(scores[i])):
                    cc = cc_of[c.row]
                    if cc:
                        cm[cc] = cm.get(cc, 0.0) + p
                        a1 = a1_of[c.row]
                        if a1:
                            am[(cc, a1)] = am.get((cc, a1), 0.0) + p
                own_c[groups[i]], own_a[groups[i]] = cm, am
            total_c, total_a = _sum_masses(own_c), _sum_masses(own_a)
            new_scores = []
            for i in range(n):
                oc, oa = own_c.get(groups[i], {}), own_a.get(groups[i], {})
                cont, after = containers[i], after_place[i]
                sc = []
                for c in cands[i]:
                    s = c.prior
                    cc = cc_of[c.row]
                    if cc:
                        s += COUNTRY_WEIGHT * min(total_c.get(cc, 0.0) - oc.get(cc, 0.0), 1.0)
                        a1 = a1_of[c.row]
                        if a1:
                            s += ADMIN1_WEIGHT * min(total_a.get((cc, a1), 0.0) - oa.get((cc, a1), 0.0), ADMIN1_CAP)
                    if cont and self._inside(c.row, cont):
                        s += PATTERN_WEIGHT
                    if after and c.row in after:
                        s += PATTERN_WEIGHT
                    if same_sentence[i] and (cc, a1_of[c.row]) in same_sentence[i] and feat[c.row] in (CITY, OTHER):
                        s += SENTENCE_ADMIN1_WEIGHT
                    sc.append(s)
                new_scores.append(sc)
            scores = new_scores

        best = [max(range(len(sc)), key=sc.__getitem__) if sc else -1 for sc in scores]
        out: list[dict | None] = [None] * n
        # strong names first: keep the winner unless it is an unknown small town in a document about
        # another country (more likely a local street or venue that the gazetteer lacks)
        kept_c: dict = {}
        kept_a: dict = {}
        for i in range(n):
            if not strong[i]:
                continue
            c = cands[i][best[i]]
            cc, a1 = cc_of[c.row], a1_of[c.row]
            oc = own_c.get(groups[i], {})
            if (feat[c.row] in (CITY, OTHER) and self._population[c.row] < SMALL_TOWN
                    and total_c.get(cc, 0.0) - oc.get(cc, 0.0) <= 0.0 and _dominant(total_c, oc) >= FOREIGN_DOMINANT):
                continue
            out[i] = self._result(c, _softmax(scores[i])[best[i]] * c.trust, total_c.get(cc, 0.0) - oc.get(cc, 0.0),
                                  len(cands[i]))
            kept_c.setdefault(keys[i], set()).add(cc)
            kept_a.setdefault(keys[i], set()).add((cc, a1))
        # weak names (a bare direction, part of a longer name) need another resolved name behind them
        # ("Da Nang" written out elsewhere backs "Da Nang International Airport")
        for i in range(n):
            if strong[i] or not cands[i]:
                continue
            c = cands[i][best[i]]
            cc, a1 = cc_of[c.row], a1_of[c.row]
            if c.needs == NEEDS_COUNTRY:
                backed = any(cc in v for k, v in kept_c.items() if k != keys[i])
            else:
                backed = any((cc, a1) in v for k, v in kept_a.items() if k != keys[i])
            if backed:
                out[i] = self._result(c, _softmax(scores[i])[best[i]] * c.trust, total_c.get(cc, 0.0), len(cands[i]))
        features = [r.pop("_features") if r else None for r in out]
        focus = focus_columns(document_focus(out))
        if self.focus_fallback and any(r is None for r in out):
            out = fill_from_focus(out, [int(s[0]) for s in spans])
        return Resolutions(out, focus, features)

    def _result(self, c: Candidate, raw_score: float, country_support: float, candidates: int) -> dict:
        """The output row of a gazetteer match; its score is the calibrated probability of being within
        161 km (calibration.py), its features kept for fitting that calibration."""
        g = self.gaz
        row = c.row
        x = calibration.features(raw_score, FEATURE_NAMES[self._feature[row]], self._population[row],
                                 c.via == ALTERNATE, c.via in (DEMONYM, CODE), c.partial, c.fragment,
                                 c.needs != STRONG, country_support if self._cc[row] else 0.0, candidates,
                                 float(g.area_km2[row]))
        score = calibration.probability(x, raw_score)
        gid = int(g.geonameid[row])
        return {
            "geonameid": gid if gid >= 0 else None,
            "resolved_name": g.name[row],
            "feature": FEATURE_NAMES[self._feature[row]],
            "country_code": self._cc[row] or None,
            "admin1_code": self._a1[row] or None,
            "latitude": float(g.latitude[row]),
            "longitude": float(g.longitude[row]),
            "population": self._population[row],
            "resolution_score": round(min(max(score, 0.0), 1.0), 4),
            "resolved_by": GAZETTEER,
            "_features": x,
        }


def _sum_masses(per_group: dict) -> dict:
    total: dict = {}
    for masses in per_group.values():
        for k, p in masses.items():
            total[k] = total.get(k, 0.0) + p
    return total


def _dominant(total: dict, own: dict) -> float:
    """Largest context mass any one country (or subdivision) gets from the other spans."""
    return max((m - own.get(k, 0.0) for k, m in total.items()), default=0.0)


def _softmax(scores: list[float]) -> list[float]:
    if len(scores) == 1:
        return [1.0]
    m = max(scores)
    e = [math.exp((s - m) * SOFTMAX_SCALE) for s in scores]
    t = sum(e)
    return [x / t for x in e]


def _variants(key: str, found: bool):
    """Other spellings: abbreviated words spelled out always; generic words dropped when not found."""
    words = key.split()
    expanded = [aliases.WORD_EXPANSIONS.get(w, w) for w in words]
    if expanded != words:
        yield " ".join(expanded)
    if found:
        return
    for prefix in aliases.GENERIC_PREFIXES:
        if key.startswith(prefix):
            yield key[len(prefix):]
    if len(words) > 1 and words[-1] in aliases.GENERIC_WORDS:
        yield " ".join(words[:-1])
    if len(words) > 1 and words[0] in aliases.GENERIC_WORDS:
        yield " ".join(words[1:])
