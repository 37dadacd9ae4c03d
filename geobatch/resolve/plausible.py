"""Refusing confident nonsense: a span is not placed on a place it cannot be.

Two kinds of nonsense came out of the demo (issue 17):
- fragments: a recogniser that splits "Mexico City", "New Zealand", "Sri Lanka", "United Nations"
  hands over "City", "Zealand", "Lanka", "Nations", which a gazetteer happily finds as towns. A span
  that the words around it extend into a longer known name ("City" -> "Mexico City") is looked up as
  that name (`longer_name`); a span that ends a run of capitalised words that is *not* a known name
  ("United Nations") or starts one ("Mont" of "Mont Blanc") is no town known by that word only as a
  GeoNames alternate name (`ends_longer_name`, `starts_longer_name`).
- kinds: "Middle East" is a region and "Mekong" a river, but the gazetteer only has a neighbourhood
  and a town of that name. Names listed as regions or physical features keep only water bodies,
  landforms and continents, and names with a physical kind word ("... Sea", "Lake ...") that the index
  has as a water body or landform drop their towns (`physical_name`, used by the resolver).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from . import aliases
from .normalize import name_key
from .sources import (ABBREVIATION, ADMIN1, ALIAS, ALTERNATE, CITY, CONTINENT, COUNTRY, DEMONYM, LANDFORM, OTHER,
                      PRESS, PRIMARY, WATER)

if TYPE_CHECKING:
    from .candidates import Candidate

PHYSICAL_KINDS = (WATER, LANDFORM)
SMALL_TOWN = 50_000  # below this a town that nothing backs is more likely something else
FRAGMENT_MIN_POPULATION = 5_000  # a village is not what a fragment of a longer name means
FRAGMENT_TRUST = 0.9  # a span looked up as the longer name around it ("City" of "Mexico City")
_MEMO_LIMIT = 200_000
# words that, split off a longer name, say only what kind of place it is
KIND_ONLY = aliases.PHYSICAL_FIRST_WORDS | aliases.PHYSICAL_LAST_WORDS | aliases.GENERIC_WORDS

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][\w'’.]*")
_GAP = re.compile(r"^(?: |-)$")  # one space or a hyphen between the words of one name
PARTICLES = {"es", "de", "del", "da", "do", "dos", "das", "di", "du", "des", "la", "le", "el", "al", "of",
             "upon", "on", "y", "sur", "am", "an", "der", "den", "van", "von", "bin", "ibn"}
_REACH = 3  # words looked at on each side


def _words_before(text: str, start: int) -> list[tuple[int, int]]:
    """Up to _REACH words right before `start`, nearest last, each joined to the next by one space or
    hyphen (a comma, a full stop or a line break ends the run)."""
    out: list[tuple[int, int]] = []
    pos = start
    while len(out) < _REACH and pos >= 2 and _GAP.match(text[pos - 1]):
        end = pos - 1
        i = end
        while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "'’."):
            i -= 1
        # a word ending in a full stop ends a sentence ("Paisley. Scotland"), unless it is a short
        # abbreviation that starts a name ("St. Louis", "Mt. Kenya")
        if i == end or not _WORD.fullmatch(text[i:end]) or (text[end - 1] == "." and end - i > 3):
            break
        out.insert(0, (i, end))
        pos = i
    return out


def _words_after(text: str, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = end
    while len(out) < _REACH and pos + 1 < len(text) and _GAP.match(text[pos]):
        i = pos + 1
        j = i
        while j < len(text) and (text[j].isalnum() or text[j] in "'’"):
            j += 1
        if j == i or not _WORD.fullmatch(text[i:j]):
            break
        out.append((i, j))
        pos = j
    return out


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def longer_name(text: str, start: int, end: int, is_name: Callable[[str], bool]) -> str | None:
    """The longest run of words around the span that is a known name and holds the span, or None.

    The run's words are capitalised, or particles inside it ("Dar es Salaam"); it must reach past the
    span on at least one side. `is_name(surface)` says whether the index knows a name.
    """
    before, after = _words_before(text, start), _words_after(text, end)
    best = None
    for i in range(len(before) + 1):  # i words taken from the left (nearest ones)
        left = before[len(before) - i:]
        if left and not _capitalised(text[left[0][0]:left[0][1]]):
            continue
        if any(not _capitalised(text[a:b]) and text[a:b] not in PARTICLES for a, b in left):
            continue
        for j in range(len(after) + 1):
            if i == 0 and j == 0:
                continue
            right = after[:j]
            if right and not _capitalised(text[right[-1][0]:right[-1][1]]):
                continue
            if any(not _capitalised(text[a:b]) and text[a:b] not in PARTICLES for a, b in right):
                continue
            s = left[0][0] if left else start
            e = right[-1][1] if right else end
            if (best is None or e - s > best[1] - best[0]) and is_name(text[s:e]):
                best = (s, e)
    return text[best[0]:best[1]] if best else None


def ends_longer_name(text: str, start: int, is_place_word: Callable[[str], bool]) -> bool:
    """True when the span is the tail of a longer capitalised name: "Nations" in "United Nations",
    "Blanc" in "Mont Blanc". Not after a sentence-initial function word, a direction ("Northern
    Kenya"), or a word that is itself a place or demonym ("Paris Texas", "Indian Kashmir")."""
    before = _words_before(text, start)
    if not before:
        return False
    a, b = before[-1]
    word = text[a:b]
    if not _capitalised(word) or word.lower().rstrip(".") in aliases.NOT_NAME_WORDS or word.endswith(("'s", "’s")):
        return False
    return not is_place_word(word)


def starts_longer_name(text: str, end: int, is_place_word: Callable[[str], bool]) -> bool:
    """True when a capitalised word that is no place and no kind word follows the span: "Mont" in
    "Mont Blanc" (the caller then keeps only big places: "London Mayor" is still London)."""
    after = _words_after(text, end)
    if not after:
        return False
    word = text[after[0][0]:after[0][1]]
    low = word.lower()
    if not _capitalised(word) or low in aliases.NOT_NAME_WORDS or low in aliases.GENERIC_WORDS:
        return False
    return not is_place_word(word)


def physical_name(key: str) -> bool:
    """Whether a name key says it is a region, water body or landform (see aliases)."""
    if key in aliases.REGION_AND_FEATURE_NAMES:
        return True
    words = key.split()
    return len(words) > 1 and (words[-1] in aliases.PHYSICAL_LAST_WORDS or words[0] in aliases.PHYSICAL_FIRST_WORDS)


# abbreviations written with a dot ("Mont.", "Ind."): without the dot the word is something else
_DOTTED_ABBREVIATIONS = {name_key(f) for forms in (*aliases.US_STATE_ABBREVIATIONS.values(),
                                                   *aliases.OTHER_ADMIN1_ABBREVIATIONS.values())
                         for f in forms if f.endswith(".") and "." not in f[:-1]}


class PlausibilityRules:
    """The resolver's side of the rules above (a mixin of `Resolver`: uses its index columns)."""

    def _physical_only(self, key: str, found: dict) -> dict:
        """A region or physical feature is not a town: listed names keep only water bodies, landforms
        and continents; a name with a physical kind word that the index has as a water body or landform
        ("Niagara Falls", "Red Sea") drops its towns, else keeps them ("Klamath Falls", "Myrtle Creek"
        are towns)."""
        if key in aliases.REGION_AND_FEATURE_NAMES:
            return {r: v for r, v in found.items() if self._feature[r] in (*PHYSICAL_KINDS, CONTINENT)}
        if any(self._feature[r] in PHYSICAL_KINDS for r in found):
            # "the Red Sea" is the sea, not Sudan's Red Sea state: a water word names water
            drop = (CITY, OTHER, ADMIN1) if key.split()[-1] in aliases.WATER_WORDS else (CITY, OTHER)
            return {r: v for r, v in found.items() if self._feature[r] not in drop}
        if key.split()[0] in aliases.PHYSICAL_FIRST_WORDS_STRICT:  # "Lake Geneva" is a lake before a village
            return {r: v for r, v in found.items()
                    if self._feature[r] not in (CITY, OTHER) or self._population[r] >= SMALL_TOWN}
        return found

    def _is_known_name(self, surface: str) -> bool:
        """The index has this name as a place's own name, alias or abbreviation (not only as a
        GeoNames alternate name, which holds too many odd forms)."""
        hit = self._known.get(surface)
        if hit is None:
            if len(self._known) > _MEMO_LIMIT:  # runs of words around spans: bounded like the name cache
                self._known.clear()
            hit = self._known[surface] = any(v in (PRIMARY, ALIAS, ABBREVIATION, PRESS)
                                             for _, v in self.gaz.rows_for(name_key(surface)))
        return hit

    def _is_place_word(self, word: str) -> bool:
        """A word that is a country, subdivision, continent (or their demonym) or a city of 100,000+."""
        hit = self._place_word.get(word)
        if hit is None:
            if len(self._place_word) > _MEMO_LIMIT:
                self._place_word.clear()
            hit = self._place_word[word] = any(
                (self._feature[r] in (COUNTRY, ADMIN1, CONTINENT) or (self._feature[r] == CITY and self._population[r] >= 100_000))
                and v in (PRIMARY, ALIAS, DEMONYM, PRESS) for r, v in self.gaz.rows_for(name_key(word)))
        return hit

    def _plausible(self, text: str, start: int, end: int, key: str, cands: list[Candidate]) -> tuple[str, list[Candidate]]:
        """(key, candidates) of a span after the fragment rules of plausible.py and the dotted
        abbreviation rule ("Mont" is not "Mont.", Montana)."""
        if not key:  # emoji, a dash: no word, so no name of its own and none it could be part of
            return key, []
        longer = longer_name(text, start, end, self._is_known_name)
        if longer is not None:
            k, cs = self._entry(longer)
            return k, [c.scaled(FRAGMENT_TRUST) for c in cs]
        # "Nations" of "United Nations", "Mont" and "Blanc" of "Mont Blanc": not a village, nor a town
        # known by that word only as an alternate name. A town's own name inside an organisation's
        # ("Slidell PD", "CDC Atlanta") stays: news corpora annotate those as the place.
        if ends_longer_name(text, start, self._is_place_word) or starts_longer_name(text, end, self._is_place_word):
            if key in KIND_ONLY:  # "Lake" of "Lake Titicaca", "City" of an unknown "X City": only a kind word
                return key, []
            cands = [c for c in cands if self._feature[c.row] not in (CITY, OTHER)
                     or (c.via != ALTERNATE and self._population[c.row] >= FRAGMENT_MIN_POPULATION)]
        if key in _DOTTED_ABBREVIATIONS and "." not in text[start:end + 1]:
            cands = [c for c in cands if c.via != ABBREVIATION]
        return key, cands
