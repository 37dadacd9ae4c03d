"""Name keys: how a place name and a span's text are compared.

A key is case-folded, accent-stripped, with dots and apostrophes dropped ("U.S." -> "us",
"St. John's" -> "st johns"), every other run of punctuation or space made one space, and the word
"the" left out. Index names
and span texts go through the same function, so "Côte d'Ivoire", "Cote d'Ivoire" and
"COTE DIVOIRE" meet.
"""

from __future__ import annotations

import re
import unicodedata

_DROP = str.maketrans("", "", ".'’‘`´ʼ")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def name_key(text: str) -> str:
    if not text:
        return ""
    if text.isascii():  # most names: nothing to decompose
        s = text.lower()
    else:
        s = unicodedata.normalize("NFKD", text)
        s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = s.replace("&", " and ").replace("ß", "ss").translate(_DROP)
    words = _NON_WORD.sub(" ", s).split()
    # "the" carries nothing ("Democratic Republic of the Congo" = "... of Congo", "The Gambia")
    return " ".join(w for w in words if w != "the") or " ".join(words)


def is_latin(text: str) -> bool:
    """True when every letter is Latin script (what English-language news spells place names with)."""
    for ch in text:
        if ch.isalpha() and ord(ch) >= 0x250:
            return False
    return True


_CODE_LIKE = re.compile(r"^[A-Z]{2,4}$")


def keep_alternate_name(name: str) -> bool:
    """Which GeoNames alternate names of a city are worth indexing.

    GeoNames mixes into the alternate names airport and other codes ("PAR", "LAX") and lower-case
    machine transliterations of non-Latin names ("manhattan" for New York City); both would make
    ordinary words and acronyms resolve to a city. Non-Latin scripts are left out to keep the index
    small (the corpora this project serves are English; see docs/GAZETTEER.md).
    """
    if not name or len(name) < 2 or _CODE_LIKE.match(name):
        return False
    if name == name.lower():  # automatic transliteration
        return False
    return is_latin(name)


# what follows a town's own name in its official one: "Frankfurt am Main", "Marburg an der Lahn",
# "Newcastle upon Tyne", "Halle (Saale)". Spanish "de" is left out on purpose: there the long form is
# often what the press writes ("Santiago de Compostela", "Feira de Santana"), and the head alone would
# turn common words into towns.
_QUALIFIER = re.compile(r"^(.+?)(?: \(| (?:am|an der|an den|im|in der|ob der|upon|bei) )")


def head_name(name: str) -> str | None:
    """The name a town goes by when its official name adds a river, a region or "bei X" to it
    ("Frankfurt" of "Frankfurt am Main"), or None. GeoNames files that short form as an alternate name,
    which the resolver trusts less than a primary one, so "Frankfurt" lost to Frankfort, Kentucky."""
    m = _QUALIFIER.match(name)
    return m.group(1) if m else None


_LEADING = re.compile(r"^(?:the)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"(?:['’]s|s['’])$", re.IGNORECASE)


def span_surface(text: str) -> str:
    """The part of a span's text that names the place: no leading 'the', no possessive ending."""
    s = text.strip().strip(",;:!?\"“”()[]{}")
    s = _LEADING.sub("", s)
    m = _POSSESSIVE.search(s)
    if m:
        s = s[: m.start()] + ("s" if m.group(0).lower().startswith("s") else "")
    return s.strip()
