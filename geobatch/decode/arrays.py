"""Decode a whole chunk with array operations: the tags, spans and Arrow columns of
`geobatch.decode.spans`, computed over every word of the chunk at once instead of one Python step
per word.

Tags travel as label indices (`TagCodes`: index `len(labels)` is the "O" of a word without a
wordpiece); spans follow `decode_spans`' lenient IOB2 exactly: a word continues the span before it
when it is I- of the same type, or of a place type after a place type ("South"/B-geo "Africa"/I-gpe
is one place that keeps the first word's type), the word before is inside a span of the same
document and no line break lies between the two; every other tagged word starts one.
tests/test_decode.py checks both against the per-word functions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import pyarrow as pa

from ..labels import split_tag
from .spans import LINE_BREAK

_O, _B, _I = 0, 1, 2


class TagCodes:
    """Per label index: its IOB prefix and entity type; the extra last index is the "O" of no prediction."""

    def __init__(self, labels: Sequence[str]):
        names = [*labels, "O"]
        split = [split_tag(t) for t in names]
        self.names = np.array(names, dtype=object)
        self.none = len(labels)
        self.types = sorted({t for _, t in split if t is not None})
        self.prefix = np.array([{"O": _O, "B": _B, "I": _I}[p] for p, _ in split], np.int8)
        self.type = np.array([-1 if t is None else self.types.index(t) for _, t in split], np.int64)

    def type_indices(self, types: Sequence[str]) -> list[int]:
        """The indices of those of `types` the labels have (e.g. the place types, for ChunkSpans.type)."""
        return [self.types.index(t) for t in types if t in self.types]


def word_labels(word_probs: np.ndarray, has_piece: np.ndarray, none: int) -> tuple[np.ndarray, np.ndarray]:
    """`decode_word_tags` as indices: argmax label and its probability; `none` and NaN without a wordpiece."""
    n = word_probs.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    best = word_probs.argmax(axis=-1)
    conf = word_probs[np.arange(n), best].astype(np.float32)
    best = np.where(has_piece, best, none)
    conf[~has_piece] = np.nan
    return best, conf


@dataclass
class ChunkWords:
    """Every word of a chunk's tagged documents, documents end to end (what decode works on)."""

    decoded: list[int]  # the documents (numbers in the chunk) whose words these are
    bounds: np.ndarray  # [n_docs + 1]: document k's words are bounds[k]:bounds[k + 1] (empty for the others)
    doc: np.ndarray  # each word's document
    tags: np.ndarray  # label indices (TagCodes)
    conf: np.ndarray  # float32, NaN without a wordpiece
    starts: np.ndarray  # character offsets in its document's text
    ends: np.ndarray

    def confidence_over(self, a: int, b: int) -> tuple[float, float]:
        """Mean and lowest confidence of words a..b (a span's), NaN when none has a wordpiece."""
        c = self.conf[a:b].astype(np.float64)
        c = c[~np.isnan(c)]
        return (float(c.mean()), float(c.min())) if c.size else (np.nan, np.nan)


@dataclass
class ChunkSpans:
    doc: np.ndarray  # the document (its number in the chunk) of each span
    word_start: np.ndarray  # chunk-wide word positions, [start, end)
    word_end: np.ndarray
    type: np.ndarray  # index into TagCodes.types
    confidence: np.ndarray  # float64, NaN when none of its words has a wordpiece
    confidence_min: np.ndarray

    def select(self, keep: np.ndarray) -> "ChunkSpans":
        """The spans where `keep` (a boolean mask over them) is true, in order."""
        return ChunkSpans(*(getattr(self, f.name)[keep] for f in fields(self)))


def line_break_before(texts: Sequence[str], words: ChunkWords) -> np.ndarray:
    """For each word of the chunk, whether a line break lies between it and the word before it in its
    document (`decode_spans` starts a new span there). Found by bisecting each document's breaks."""
    out = np.zeros(words.doc.size, bool)
    for k in words.decoded:
        a, b = int(words.bounds[k]), int(words.bounds[k + 1])
        if b - a < 2 or not LINE_BREAK.search(texts[k]):
            continue
        breaks = np.array([m.start() for m in LINE_BREAK.finditer(texts[k])], np.int64)
        out[a + 1:b] = np.searchsorted(breaks, words.starts[a + 1:b]) > np.searchsorted(breaks, words.ends[a:b - 1])
    return out


def chunk_spans(tags: np.ndarray, conf: np.ndarray, doc_of_word: np.ndarray, codes: TagCodes,
                place_types: Sequence[str] = (), broken: np.ndarray | None = None) -> ChunkSpans:
    """Spans of every document of the chunk: `tags` label indices of all words, documents end to end;
    `place_types` as in `decode_spans` (an I- of one place type continues a span of another); `broken`
    (`line_break_before`) marks the words a line break separates from the word before."""
    p = codes.prefix[tags]
    t = codes.type[tags]
    # a span's words are all of its type, or all of place types: comparing with the word before is
    # comparing with the span's type (what decode_spans does)
    is_place = np.r_[np.isin(codes.types, list(place_types)), False][t]  # t == -1 (O) reads the False
    same_doc = np.r_[False, doc_of_word[1:] == doc_of_word[:-1]]
    tagged = p != _O
    same_kind = (t == np.r_[-2, t[:-1]]) | (is_place & np.r_[False, is_place[:-1]])
    cont = (p == _I) & same_doc & np.r_[False, tagged[:-1]] & same_kind
    if broken is not None:
        cont &= ~broken
    ws = np.flatnonzero(tagged & ~cont)
    we = np.flatnonzero(tagged & ~np.r_[cont[1:], False]) + 1  # a span runs over its start and the words continuing it
    if not ws.size:
        z = np.zeros(0, np.int64)
        return ChunkSpans(z, z, z, z, np.zeros(0), np.zeros(0))
    # every tagged word is in exactly one span, so over the tagged words alone the spans lie end to end
    inside = np.flatnonzero(tagged)
    seg = np.searchsorted(inside, ws)
    c = conf[inside].astype(np.float64)
    valid = ~np.isnan(c)
    count = np.add.reduceat(valid.astype(np.int64), seg)
    total = np.add.reduceat(np.where(valid, c, 0.0), seg)
    low = np.minimum.reduceat(np.where(valid, c, np.inf), seg)
    has = count > 0
    mean = np.where(has, total / np.maximum(count, 1), np.nan)
    return ChunkSpans(doc_of_word[ws], ws, we, t[ws], mean, np.where(has, low, np.nan))


def span_dicts(spans: ChunkSpans, words: ChunkWords, texts: list[str], a: int, b: int, codes: TagCodes) -> list[dict]:
    """Spans a..b of the chunk as `decode_spans` gives them, for the resolver and the geo score."""
    out = []
    for i in range(a, b):
        ws, we = int(spans.word_start[i]), int(spans.word_end[i])
        base = int(words.bounds[words.doc[ws]])
        out.append({"start_char": int(words.starts[ws]), "end_char": int(words.ends[we - 1]),
                    "label": codes.types[spans.type[i]], "word_start": ws - base, "word_end": we - base,
                    "confidence": float(spans.confidence[i]), "confidence_min": float(spans.confidence_min[i]), "text": texts[i]})
    return out


def tokens_table(docs: list, words: ChunkWords, failed: np.ndarray, codes: TagCodes, schema: pa.Schema) -> pa.Table:
    """The tokens table of the chunk's decoded documents, less those that `failed` after decoding."""
    keep = ~np.isin(words.doc, failed) if failed.size else np.ones(words.doc.size, bool)
    doc = words.doc[keep]
    conf = words.conf[keep]
    cols = {
        "doc_id": dictionary_strings(doc, [d.doc_id for d in docs]),
        "word_index": pa.array((np.flatnonzero(keep) - words.bounds[doc]).astype(np.int32)),
        "word": pa.array([w for k in words.decoded if docs[k].error is None for w in docs[k].words], pa.string()),
        "start_char": pa.array(words.starts[keep].astype(np.int32)),
        "end_char": pa.array(words.ends[keep].astype(np.int32)),
        "tag": dictionary_strings(words.tags[keep], codes.names.tolist()),
        "confidence": pa.array(conf, pa.float32(), mask=np.isnan(conf)),  # NaN (no wordpiece) -> null
    }
    if "gold_tag" in schema.names:
        cols["gold_tag"] = pa.array([g for k in words.decoded if docs[k].error is None
                                     for g in (docs[k].gold if docs[k].gold is not None else [None] * len(docs[k].words))], pa.string())
    return pa.table(cols, schema=schema)


def dictionary_strings(codes: np.ndarray, values: list) -> pa.Array:
    """values[codes] as a string column, built in Arrow (a dictionary array, decoded) rather than one Python object per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(values, pa.string())).dictionary_decode()
