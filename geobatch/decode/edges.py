"""A span neither starts nor ends with a dash, an ampersand, a comma or a quote mark, and is never one alone.

The model sometimes runs a span over the punctuation beside a name ("Portugal &", "Chad -", "Washington,",
"Guillermo Garcia-") or tags a lone "&" or "-" (5 spans of about 17,000 in the selection-slice and held-back
runs of 2026-12-07, 14 more with such an edge): a consumer would map "Portugal &". Such words at a span's
edges are cut off (the metrics score the span written), and a span left without a letter or digit is not
written. Brackets and periods stay: "D.C." and "Congo (Kinshasa)" end with them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

import numpy as np

from .arrays import ChunkSpans, ChunkWords

EDGE = re.compile(r"[-\u2010-\u2015&,;:/|'\"\u2018-\u201f]+")
_HAS_WORD = re.compile(r"\w")


def edge_punctuation_off(spans: ChunkSpans, words: ChunkWords, texts: Sequence[str]) -> tuple[ChunkSpans, list[tuple[int, int]]]:
    """The chunk's spans with leading and trailing punctuation words cut off and spans without a letter or
    digit dropped; also the (word_start, word_end) ranges cut or dropped (for the tags the metrics score)."""
    start, end = spans.word_start.copy(), spans.word_end.copy()
    keep = np.ones(len(spans.doc), bool)
    cut: list[tuple[int, int]] = []

    def text_of(d: int, w: int) -> str:
        return texts[d][words.starts[w]:words.ends[w]]

    for i, (d, a, b) in enumerate(zip(spans.doc.tolist(), start.tolist(), end.tolist())):
        # most spans begin and end with a letter or digit: only the others are looked at word by word
        if texts[d][words.starts[a]].isalnum() and texts[d][words.ends[b - 1] - 1].isalnum():
            continue
        a0, b0 = a, b
        while a < b and EDGE.fullmatch(text_of(d, a)):
            a += 1
        while b > a and EDGE.fullmatch(text_of(d, b - 1)):
            b -= 1
        if a < b and not _HAS_WORD.search(texts[d][words.starts[a]:words.ends[b - 1]]):
            a = b
        if (a, b) == (a0, b0):
            continue
        if a == b:
            keep[i] = False
            cut.append((a0, b0))
            continue
        if a > a0:
            cut.append((a0, a))
        if b < b0:
            cut.append((b, b0))
        start[i], end[i] = a, b
    if not cut:
        return spans, []
    confidence, confidence_min = spans.confidence.copy(), spans.confidence_min.copy()
    for i in np.flatnonzero(keep & ((start != spans.word_start) | (end != spans.word_end))):
        confidence[i], confidence_min[i] = words.confidence_over(start[i], end[i])
    return replace(spans, word_start=start, word_end=end, confidence=confidence, confidence_min=confidence_min).select(keep), cut
