"""Logits -> per-word tags and confidences -> labelled character spans.

A word's tag is the argmax of its first wordpiece and its confidence that softmax probability.
Spans follow IOB2 leniently: an I- tag that does not continue a span of the same type starts a new
span (so a model's stray I-geo is still a place). A span never runs across a line break: the model
reads text without its whitespace, so "Vienna" ending one line and "Porgy & Bess" opening the next
reach it as one phrase, and it tagged them one place; no gold span of the news and web corpora here
crosses one. Span offsets index the original text, so `text[start_char:end_char]` is always the
span's text.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from ..labels import split_tag

# what str.splitlines() breaks at: a word after one of these starts a new span whatever its tag
LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def decode_word_tags(word_probs: np.ndarray, labels: Sequence[str], has_piece: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """word_probs: [n_words, n_labels] probabilities at each word's first wordpiece.

    Words without a wordpiece (`has_piece` False: e.g. a lone control character the tokenizer drops)
    are tagged O with a NaN confidence: no prediction was made for them.
    """
    n = word_probs.shape[0]
    if n == 0:
        return [], np.zeros(0, np.float32)
    best = word_probs.argmax(axis=-1)
    conf = word_probs[np.arange(n), best].astype(np.float32)
    tags = [labels[i] for i in best]
    if has_piece is not None:
        for i in np.flatnonzero(~has_piece):
            tags[i] = "O"
            conf[i] = np.nan
    return tags, conf


def decode_spans(
    text: str, offsets: Sequence[tuple[int, int]], tags: Sequence[str], confidences: Sequence[float],
    place_types: Sequence[str] = (),
) -> list[dict]:
    """Group tagged words into spans: dicts with start_char, end_char, text, label, confidence
    (mean over the span's words), confidence_min, word_start, word_end (word range, end exclusive).

    An I- tag of one place type after a span of another ("South"/B-geo "Africa"/I-gpe) continues the
    span, which keeps the first word's type: the words say one place continues, only its kind is in
    doubt, and two spans would hand the resolver two fragments ("South", "Africa"). A word after a line
    break starts a new span (the module's docstring says why)."""
    places = frozenset(place_types)
    spans: list[dict] = []
    cur: dict | None = None

    def close():
        if cur is not None:
            confs = np.asarray(confidences[cur["word_start"]:cur["word_end"]], dtype=np.float64)
            confs = confs[~np.isnan(confs)]
            cur["confidence"] = float(confs.mean()) if confs.size else float("nan")
            cur["confidence_min"] = float(confs.min()) if confs.size else float("nan")
            cur["text"] = text[cur["start_char"]:cur["end_char"]]
            spans.append(cur)

    for i, tag in enumerate(tags):
        prefix, etype = split_tag(tag)
        if prefix == "O":
            close()
            cur = None
        elif (prefix == "I" and cur is not None and (cur["label"] == etype or (etype in places and cur["label"] in places))
              and not LINE_BREAK.search(text, offsets[i - 1][1], offsets[i][0])):
            cur["end_char"] = offsets[i][1]
            cur["word_end"] = i + 1
        else:
            close()
            cur = {"start_char": offsets[i][0], "end_char": offsets[i][1], "label": etype, "word_start": i, "word_end": i + 1}
    close()
    return spans
