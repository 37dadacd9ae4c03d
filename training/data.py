"""Training data: read annotated files into word-level sentences and encode them as wordpieces.

No TensorFlow here. Reading reuses geobatch.readers; span documents become word tags through
geobatch.words (the same split the runtime uses). Encoding uses first-subword labelling: the first
wordpiece of each word carries the word's label; every other position gets IGNORE (-100), so the
loss and the metrics only ever see one prediction per word.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

from geobatch.corpus import format_for
from geobatch.documents import Sentence
from geobatch.errors import InputError
from geobatch.labels import LabelScheme
from geobatch.readers import read_conll, read_gmb
from geobatch.readers.spans import SpanStats, iter_records, span_documents_from_records
from geobatch.words import split_words, tags_from_spans

IGNORE = -100
FORMATS = ("gmb", "conll", "spans")
_EXTENSIONS = {
    ".csv": "gmb",
    ".conll": "conll", ".conllu": "conll", ".iob": "conll", ".bio": "conll", ".tsv": "conll", ".txt": "conll",
    ".jsonl": "spans", ".ndjson": "spans", ".json": "spans", ".parquet": "spans",
}


@dataclass
class SpanOptions:
    id_column: str = "id"
    text_column: str = "text"
    spans_column: str = "spans"
    span_label: str | None = None


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    return format_for(str(path), fmt, FORMATS, _EXTENSIONS)


def read_sentences(
    path: str | Path,
    fmt: str | None = None,
    max_sentences: int | None = None,
    spans: SpanOptions | None = None,
) -> list[Sentence]:
    """Word-level sentences with gold tags (as in the file; the label scheme is applied later)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist", "check the path")
    fmt = detect_format(p, fmt)
    if fmt == "gmb":
        return list(read_gmb(p, max_sentences=max_sentences))
    if fmt == "conll":
        return list(read_conll(p, max_sentences=max_sentences))
    so = spans or SpanOptions()
    stats = SpanStats()
    out: list[Sentence] = []
    # the reader reads a missing text column as "" and a missing spans column as no spans: for
    # training that is a file of unlabelled sentences taught as all-O, so a misnamed column is refused
    seen = {"records": 0, "text": 0, "spans": 0, "columns": None}

    def counted(records):
        for rec in records:
            seen["records"] += 1
            seen["text"] += so.text_column in rec
            seen["spans"] += so.spans_column in rec
            if seen["columns"] is None:
                seen["columns"] = sorted(rec)
            yield rec

    if not p.is_file():
        raise InputError(f"{p} is not a file", "give a JSONL or Parquet file of span documents")
    docs = span_documents_from_records(counted(iter_records(p)), so.id_column, so.text_column, so.spans_column,
                                       so.span_label, stats=stats)
    for doc in docs:
        words, offsets = split_words(doc.text)
        if not words:
            continue
        out.append(Sentence(doc.id, words, tags_from_spans(offsets, doc.spans or [], so.span_label)))
        if max_sentences is not None and len(out) >= max_sentences:
            break
    for what, option, column in (("text", "--text-column", so.text_column), ("spans", "--spans-column", so.spans_column)):
        if seen["records"] and not seen[what]:
            raise InputError(f"{p}: no record has a {what} column {column!r} (columns: {', '.join(seen['columns'] or [])})",
                             f"pass {option} with the right column name")
    if stats.spans and not any(t != "O" for s in out for t in s.tags):
        raise InputError(f"{p}: none of its {stats.spans} spans carries a label", "pass --span-label (e.g. --span-label geo)")
    return out


def apply_scheme(sentences: Sequence[Sentence], scheme: LabelScheme) -> list[Sentence]:
    return [Sentence(s.id, s.words, scheme.map_tags(s.tags or ["O"] * len(s.words))) for s in sentences]


def holdout_split(sentences: Sequence[Sentence], fraction: float, seed: int) -> tuple[list[Sentence], list[Sentence]]:
    """Fixed-seed random hold-out: (train, validation)."""
    if not 0 < fraction < 1:
        raise InputError(f"--validation-fraction {fraction} is outside (0, 1)", "use e.g. 0.05")
    order = list(range(len(sentences)))
    random.Random(seed).shuffle(order)
    n_val = max(1, int(round(len(sentences) * fraction)))
    if n_val >= len(sentences):
        raise InputError(f"only {len(sentences)} sentences: nothing left to train on after the hold-out", "give more data or --validation FILE")
    val = sorted(order[:n_val])
    keep = sorted(order[n_val:])
    return [sentences[i] for i in keep], [sentences[i] for i in val]


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def runtime_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """A copy with truncation and padding off: the caller (training or the runtime) controls both."""
    tok = Tokenizer.from_str(tokenizer.to_str())
    tok.no_truncation()
    tok.no_padding()
    return tok


@dataclass
class Encoded:
    """One model input: wordpiece ids with labels on first pieces, and its words' gold tags."""

    input_ids: np.ndarray          # int32 [n_pieces], with special tokens
    labels: np.ndarray             # int32 [n_pieces], IGNORE except first pieces
    first_piece: np.ndarray        # int32 [n_words]: position of each word's first piece, -1 if it has none
    gold_tags: list[str]           # the words' tags (after the scheme)
    sentence: int                  # index of the source sentence (several when a long one was split)


@dataclass
class EncodeStats:
    sentences: int = 0
    inputs: int = 0
    split_sentences: int = 0       # longer than max_length: cut into several inputs at word boundaries
    words_without_pieces: int = 0  # words the tokenizer turns into nothing (control chars): predicted O
    unknown_tags: dict = field(default_factory=dict)


def _encode_one(tokenizer: Tokenizer, words: list[str]):
    enc = tokenizer.encode(words, is_pretokenized=True, add_special_tokens=True)
    return enc.ids, enc.word_ids


def _chunks_by_pieces(piece_counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive word ranges whose wordpieces fit `budget` (a single over-long word stands alone)."""
    out, start, used = [], 0, 0
    for i, n in enumerate(piece_counts):
        if used + n > budget and i > start:
            out.append((start, i))
            start, used = i, 0
        used += n
    if start < len(piece_counts):
        out.append((start, len(piece_counts)))
    return out


def encode_sentences(
    sentences: Sequence[Sentence],
    tokenizer: Tokenizer,
    label_to_id: dict[str, int],
    max_length: int,
) -> tuple[list[Encoded], EncodeStats]:
    """Encode sentences; those longer than max_length are split at word boundaries (nothing is dropped)."""
    tok = runtime_tokenizer(tokenizer)
    n_special = len(tok.encode([], is_pretokenized=True, add_special_tokens=True).ids)
    budget = max_length - n_special
    if budget < 1:
        raise InputError(f"--max-length {max_length} leaves no room for words", "use at least 16")
    stats = EncodeStats(sentences=len(sentences))
    out: list[Encoded] = []
    batch = tok.encode_batch([list(s.words) for s in sentences], is_pretokenized=True, add_special_tokens=True)
    for si, (sent, enc) in enumerate(zip(sentences, batch)):
        tags = list(sent.tags or ["O"] * len(sent.words))
        if len(enc.ids) <= max_length:
            pieces = [(enc.ids, enc.word_ids, 0, len(sent.words))]
        else:
            stats.split_sentences += 1
            counts = [0] * len(sent.words)
            for w in enc.word_ids:
                if w is not None:
                    counts[w] += 1
            pieces = []
            for a, b in _chunks_by_pieces(counts, budget):
                ids, wids = _encode_one(tok, list(sent.words[a:b]))
                if len(ids) > max_length:  # one word longer than the budget: keep its first pieces
                    ids, wids = ids[: max_length - 1] + ids[-1:], wids[: max_length - 1] + wids[-1:]
                pieces.append((ids, wids, a, b))
        for ids, wids, a, b in pieces:
            labels = np.full(len(ids), IGNORE, dtype=np.int32)
            first = np.full(b - a, -1, dtype=np.int32)
            prev = None
            for pos, w in enumerate(wids):
                if w is not None and w != prev:
                    first[w] = pos
                    tag = tags[a + w]
                    if tag not in label_to_id:
                        stats.unknown_tags[tag] = stats.unknown_tags.get(tag, 0) + 1
                        tag = "O"
                    labels[pos] = label_to_id[tag]
                prev = w
            stats.words_without_pieces += int((first < 0).sum())
            out.append(Encoded(np.asarray(ids, dtype=np.int32), labels, first, tags[a:b], si))
    stats.inputs = len(out)
    return out, stats


def word_predictions(encoded: Encoded, piece_label_ids: np.ndarray, id_to_label: Sequence[str]) -> list[str]:
    """Per-word predicted tags from per-piece label ids (first piece wins; words without pieces are O)."""
    return [id_to_label[int(piece_label_ids[p])] if p >= 0 else "O" for p in encoded.first_piece]
