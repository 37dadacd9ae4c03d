"""Word segmentation with character offsets, and alignment of character spans to word tags.

Words are what BERT's pre-tokenizer sees (whitespace and punctuation split), so training words and
runtime words agree. Offsets are Python character offsets into the original text:
`text[start:end] == word` always holds, whatever the script (emoji, CJK, combining marks).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Sequence

from tokenizers.pre_tokenizers import BertPreTokenizer

from .documents import Span

_PRE_TOKENIZER = BertPreTokenizer()

WordOffsets = list[tuple[int, int]]


def split_words(text: str) -> tuple[list[str], WordOffsets]:
    """Split text into words; returns the words and their (start, end) character offsets."""
    pieces = _PRE_TOKENIZER.pre_tokenize_str(text)
    words = [w for w, _ in pieces]
    offsets = [(s, e) for _, (s, e) in pieces]
    return words, offsets


def join_words(words: Sequence[str]) -> tuple[str, WordOffsets]:
    """Lay out pre-split words (GMB, CoNLL) as one text, single-spaced, with each word's offsets."""
    offsets: WordOffsets = []
    pos = 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), offsets


def tags_from_spans(offsets: WordOffsets, spans: Sequence[Span], default_label: str | None = None) -> list[str]:
    """IOB2 tags for words from character spans: a word overlapping a span takes its label.

    The first word a span touches gets B-, later ones I-. Spans without a label take `default_label`
    (e.g. GeoVirus toponyms carry none); spans that end up without a label are ignored.
    """
    tags = ["O"] * len(offsets)
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    # words laid out left to right (split_words, join_words): the words a span overlaps are found by
    # bisection, so a long document with many spans costs O((words + spans) log words), not words x spans
    ordered = all(a <= b for a, b in zip(starts, starts[1:])) and all(a <= b for a, b in zip(ends, ends[1:]))
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        label = span.label or default_label
        if not label:
            continue
        first = True
        i = bisect_right(ends, span.start) if ordered else 0
        for i in range(i, len(offsets)):
            s, e = offsets[i]
            if ordered and s >= span.end:
                break
            if e <= span.start or s >= span.end:
                continue
            if tags[i] != "O":  # overlapping gold spans: the earlier one keeps the word
                first = False
                continue
            tags[i] = f"{'B' if first else 'I'}-{label}"
            first = False
    return tags
