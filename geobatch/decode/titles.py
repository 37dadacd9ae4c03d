"""A name after a personal title is a person's: "Mr Mandela", "Dr Richard" are not places.

GMB train tags 190 names after "Mr.", "Ms.", "Dr." as geo ("Mr. Karzai", "Ms. Merkel": slips of its
annotation), and a model trained on it wrote "Mr Mandela" as a place, which the resolver then put on a
map. None of the 6,054 gold place spans of the news and web corpora's training documents follows such a
title. So a place span right after a capitalised title (Mr, Mrs, Ms, Miss, Mx, Dr, Prof, with or
without a period) is not written, in documents that capitalise names (geobatch/decode/casing.py).
"St", "Mt", "Fort" and the like make place names and are not titles here.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .arrays import ChunkSpans, ChunkWords, TagCodes
from .casing import capitalises_names

TITLE_BEFORE = re.compile(r"(?<![\w.])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+$")


def titled_names_off(spans: ChunkSpans, words: ChunkWords, texts: Sequence[str], codes: TagCodes,
                     place_types: Sequence[str]) -> tuple[ChunkSpans, list[tuple[int, int]]]:
    """The chunk's spans without the place spans that follow a personal title, and the (word_start,
    word_end) ranges dropped (for the tags the metrics score)."""
    places = codes.type_indices(place_types)
    idx = np.flatnonzero(np.isin(spans.type, places))
    keep = np.ones(len(spans.doc), bool)
    dropped: list[tuple[int, int]] = []
    capitalised: dict[int, bool] = {}
    for i, d, c in zip(idx.tolist(), spans.doc[idx].tolist(), words.starts[spans.word_start[idx]].tolist()):
        if not TITLE_BEFORE.search(texts[d], max(0, c - 8), c):
            continue
        if d not in capitalised:
            capitalised[d] = capitalises_names(texts[d])
        if capitalised[d]:
            keep[i] = False
            dropped.append((int(spans.word_start[i]), int(spans.word_end[i])))
    if not dropped:
        return spans, []
    return spans.select(keep), dropped
