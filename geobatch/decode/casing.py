"""Place spans written wholly in lowercase, in text that capitalises names: not place names.

The encoder is uncased (MiniLM-L6-H384-uncased): "bush" and "Bush", "turkeys" and "Turkey" reach it
alike, and it tagged "kennel", "cantaloupe" and "yesteryear" as places. The text still says which is
a name: of the news and web corpora's gold place spans none is written without a capital (one of
4,814: "presidential palace"), and of GMB train's 48,234 geo/gpe spans 61 are, mostly the corpus's
own slips ("the", "1-0", "prison"). So a place span whose letters are all lowercase is dropped, where
that says something:
- only letters of scripts that capitalise names count (Latin, Greek, Cyrillic, Armenian): a name in
  Chinese or Georgian has no capital to miss;
- only in a document that writes names with capitals: at least 5 % of its words that start with such
  a letter start with a capital (English news: 10-25 %). A text lowercased as a whole (a normalised
  corpus, a transcript) keeps every span.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields
from functools import lru_cache
from typing import Sequence

import numpy as np

from .arrays import ChunkSpans, TagCodes

_BICAMERAL = ("LATIN", "GREEK", "CYRILLIC", "ARMENIAN")
MIN_CAPITALISED_SHARE = 0.05
_WORD_START = re.compile(r"(?<!\w)[^\W\d_]")


@lru_cache(maxsize=4096)
def _bicameral(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith(_BICAMERAL)


def written_in_lowercase(text: str) -> bool:
    """The span has letters of a capitalising script and none of them is a capital."""
    lower = False
    for ch in text:
        if ch.isalpha() and _bicameral(ch):
            if ch.isupper() or ch.istitle():
                return False
            lower = True
    return lower


def capitalises_names(text: str) -> bool:
    """At least MIN_CAPITALISED_SHARE of the words that start with a capitalising script's letter start
    with a capital."""
    starts = [m.group() for m in _WORD_START.finditer(text)]
    cased = [c for c in starts if _bicameral(c)]
    return bool(cased) and sum(c.isupper() or c.istitle() for c in cased) >= MIN_CAPITALISED_SHARE * len(cased)


def drop_lowercase_places(spans: ChunkSpans, span_texts: list[str], texts: Sequence[str], codes: TagCodes,
                          place_types: Sequence[str]) -> tuple[ChunkSpans, list[str], list[tuple[int, int]]]:
    """The chunk's spans less the place spans written in lowercase in documents that capitalise names;
    also the (word_start, word_end) of those dropped, so that the tags metrics score can say O there."""
    places = {codes.types.index(t) for t in place_types if t in codes.types}
    drop = [i for i, (t, s) in enumerate(zip(spans.type.tolist(), span_texts)) if t in places and written_in_lowercase(s)]
    if drop:
        capitalised = {d: capitalises_names(texts[d]) for d in {int(spans.doc[i]) for i in drop}}
        drop = [i for i in drop if capitalised[int(spans.doc[i])]]
    if not drop:
        return spans, span_texts, []
    keep = np.ones(len(span_texts), bool)
    keep[drop] = False
    dropped = [(int(spans.word_start[i]), int(spans.word_end[i])) for i in drop]
    kept = ChunkSpans(*(getattr(spans, f.name)[keep] for f in fields(ChunkSpans)))
    return kept, [s for s, k in zip(span_texts, keep) if k], dropped
