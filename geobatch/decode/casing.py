"""Place names begin with a capital, in text that capitalises names: lowercase "places" dropped, a
place span's lowercase leading words cut off.

The encoder is uncased (MiniLM-L6-H384-uncased): "bush" and "Bush", "turkeys" and "Turkey" reach it
alike, and it tagged "kennel", "cantaloupe" and "yesteryear" as places, and "eastern Anhui",
"north-west Pakistan", "midtown Toronto" as whole places. The text still says which is a name. Of the
news and web corpora's 4,814 gold place spans (their training documents) one has no capital and none
but that one starts with a lowercase word ("presidential palace"); GMB train writes 61 of its 48,234
geo/gpe spans without a capital, mostly slips ("the", "1-0", "prison"), and starts 637 with a
lowercase word ("southern", "the", "eastern"), which the model learnt without seeing case. So a place
span whose letters are all lowercase is dropped, and a place span's leading lowercase words are cut
off, where that says something:
- only letters of scripts that capitalise names count (Latin, Greek, Cyrillic, Armenian): a name in
  Chinese or Georgian has no capital to miss;
- only in a document that writes names with capitals: at least 5 % of its words that start with a
  cased letter start with a capital (the 490 news and web documents here: 7-41 %, median 17 %). A
  text lowercased as a whole (a normalised corpus, a transcript) keeps every span, and so does one in
  a script without capitals.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import lru_cache
from typing import Sequence

import numpy as np

from .arrays import ChunkSpans, ChunkWords, TagCodes

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
    """At least MIN_CAPITALISED_SHARE of the words that start with a cased letter start with a capital."""
    firsts = "".join(_WORD_START.findall(text))
    upper, lower = sum(map(str.isupper, firsts)), sum(map(str.islower, firsts))
    return upper + lower > 0 and upper >= MIN_CAPITALISED_SHARE * (upper + lower)


def lowercase_words_off(spans: ChunkSpans, words: ChunkWords, texts: Sequence[str], codes: TagCodes,
                        place_types: Sequence[str]) -> tuple[ChunkSpans, list[tuple[int, int]]]:
    """The chunk's spans, in documents that capitalise names, with the leading words of place spans
    that are written in lowercase cut off ("eastern Ghouta" -> "Ghouta", "north-west Pakistan" ->
    "Pakistan"), and place spans written wholly in lowercase dropped. A word is what whitespace delimits
    ("north-west" is one). Also the (word_start, word_end) ranges cut or dropped, so that the tags the
    metrics score can say O there."""
    places = codes.type_indices(place_types)
    start, keep = spans.word_start.copy(), np.ones(len(spans.doc), bool)
    cut: list[tuple[int, int]] = []
    capitalised: dict[int, bool] = {}
    # most place spans begin with a capital: only the others are looked at word by word
    idx = np.flatnonzero(np.isin(spans.type, places)).tolist()
    firsts = [texts[d][c] for d, c in zip(spans.doc[idx].tolist(), words.starts[spans.word_start[idx]].tolist())]
    for i in (i for i, c in zip(idx, firsts) if not c.isupper()):
        d, a, b = int(spans.doc[i]), int(spans.word_start[i]), int(spans.word_end[i])
        text = texts[d]
        k = a
        while k < b:  # one whitespace-delimited word (one or more of the model's words) at a time
            m = k + 1
            while m < b and words.starts[m] == words.ends[m - 1]:
                m += 1
            if not written_in_lowercase(text[words.starts[k]:words.ends[m - 1]]):
                break
            k = m
        if k == a:
            continue
        if d not in capitalised:
            capitalised[d] = capitalises_names(text)
        if capitalised[d]:
            cut.append((a, k))
            start[i], keep[i] = k, k < b
    if not cut:
        return spans, []
    confidence, confidence_min = spans.confidence.copy(), spans.confidence_min.copy()
    for i in np.flatnonzero(keep & (start != spans.word_start)):  # a cut span's confidences over its words left
        confidence[i], confidence_min[i] = words.confidence_over(start[i], spans.word_end[i])
    return replace(spans, word_start=start, confidence=confidence, confidence_min=confidence_min).select(keep), cut


def tags_as_written(tags: np.ndarray, spans: ChunkSpans, cut: list[tuple[int, int]], codes: TagCodes) -> np.ndarray:
    """The chunk's label indices as the spans were written: the words cut off are O, and a span cut at
    its start begins (B-) at its first word left."""
    out = tags.copy()
    for a, b in cut:
        out[a:b] = codes.none
    names = codes.names.tolist()
    anew = {k for _, k in cut}
    for w, t in zip(spans.word_start.tolist(), spans.type.tolist()):
        if w in anew:
            out[w] = names.index(f"B-{codes.types[t]}")
    return out
