"""Training data: read annotated files into word-level sentences and encode them as wordpieces.

No TensorFlow here. Reading reuses geobatch.io.readers. Every sentence is cut into words by
geobatch.text.words.split_words, the function `geobatch run` cuts raw text with: span documents directly,
word-per-row files (GMB, CoNLL) through `resplit_words` (their words laid out as text and cut again, a
file word's tag spread over its pieces), so the model trains on exactly the words it sees at run time. Encoding uses first-subword labelling: the first
wordpiece of each word carries the word's label; every other position gets IGNORE (-100), so the
loss and the metrics only ever see one prediction per word.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tokenizers import Tokenizer

from geobatch.errors import InputError
from geobatch.io.documents import Sentence, Span
from geobatch.io.inputs import format_for
from geobatch.io.readers import read_conll, read_gmb
from geobatch.io.readers.spans import SpanStats, iter_records, span_documents_from_records
from geobatch.labels import ANY_PLACE, OUTSIDE, UNTAUGHT, LabelScheme, entity_type, label_list
from geobatch.text.case_types import word_case_types
from geobatch.text.demonyms import retype_demonyms
from geobatch.text.words import resplit_words, spread_tags, split_words, tags_from_spans

from .untaught import COMPOUND_PIECE


IGNORE = -100
# An untaught word's first piece ("?" in a corpus mapping, e.g. GMB's organisations): no gold loss,
# but a teacher's distribution is still learnt there (distillation), so it is not IGNORE. Every gold
# loss reads only labels >= 0.
UNTAUGHT_LABEL = -101
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
    type_field: str | None = None          # span key that holds the span's type (GeoWebNews, TUD-Loc: "type")
    types: dict[str, str] | None = None    # source type -> model type ("O" drops); every type must be named
    keep_document: Callable[[str], bool] | None = None  # False: the document is held back (evaluation only)
    skip_bad_spans: bool = False           # spans whose offsets do not slice the text: skip them, not refuse the file
    untaught_compounds: bool = False       # word-per-row files: the pieces of an O word that splits are untaught
    compound_places: bool = False          # ... or marked COMPOUND_PIECE, for teach_compound_places (training/untaught.py)


def check_type_map(path: Path, types: dict[str, str] | None, seen: dict[str, int]) -> None:
    """A type map must name every type the corpus has (an unnamed one would silently become O) and
    only those (a misspelt key would silently map nothing)."""
    if types is None:
        return
    missing = sorted(set(seen) - set(types))
    if missing:
        raise InputError(f"{path}: its types {', '.join(missing)} are not in the corpus's type map",
                         'map each to a model type, "*" (any place type) or "O" (not a place)')
    unused = sorted(set(types) - set(seen))
    if unused:
        raise InputError(f"{path}: the type map names {', '.join(unused)}, which the corpus never has",
                         f"fix the spelling or remove it (its types: {', '.join(sorted(seen)) or 'none'})")


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
    so = spans or SpanOptions()
    if fmt in ("gmb", "conll"):
        read = read_gmb if fmt == "gmb" else read_conll
        sentences = list(read(p, max_sentences=max_sentences))
        if so.types is not None:
            seen_types: dict[str, int] = {}
            for sent in sentences:
                for t in sent.tags or ():
                    if (et := entity_type(t)) is not None:
                        seen_types[et] = seen_types.get(et, 0) + 1
            check_type_map(p, so.types, seen_types)
            sentences = apply_scheme(sentences, LabelScheme(f"map:{p.name}", so.types))
        keep = so.keep_document or (lambda _id: True)
        mark = COMPOUND_PIECE if so.compound_places else UNTAUGHT if so.untaught_compounds else None
        return [as_runtime_words(s, mark) for s in sentences if keep(s.id)]
    for key in ("untaught_compounds", "compound_places"):
        if getattr(so, key):
            raise InputError(f"{p}: {key} is for word-per-row files (GMB, CoNLL), and this one has spans",
                             f"leave {key} out for this corpus")
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
    seen_types: dict[str, int] = {}

    def model_label(span) -> str | None:
        # "label" is the span's own label (the reader keeps it out of extra): type_field = "label" meant it
        source = span.extra.get(so.type_field) if so.type_field and so.type_field != "label" else span.label
        source = source if source is not None else so.span_label
        if so.types is None or source is None:
            return source
        seen_types[source] = seen_types.get(source, 0) + 1
        target = so.types.get(source, OUTSIDE)
        return None if target == OUTSIDE else target

    for doc in docs:
        spans = [Span(s.start, s.end, model_label(s), s.extra) for s in doc.spans or []]
        if so.keep_document is not None and not so.keep_document(doc.id):
            continue
        if max_sentences is not None and len(out) >= max_sentences:
            continue  # read on: the type map is checked against the whole corpus
        words, offsets = split_words(doc.text)
        if not words:
            continue
        out.append(Sentence(doc.id, words, tags_from_spans(offsets, spans)))
    check_type_map(p, so.types, seen_types)
    for what, option, column in (("text", "--text-column", so.text_column), ("spans", "--spans-column", so.spans_column)):
        if seen["records"] and not seen[what]:
            raise InputError(f"{p}: no record has a {what} column {column!r} (columns: {', '.join(seen['columns'] or [])})",
                             f"pass {option} with the right column name")
    # after the column checks: a misnamed text column makes every span look out of range
    bad = stats.skipped_bad_offsets + stats.surface_mismatch
    if bad and not so.skip_bad_spans:
        # a span that does not slice its text teaches the model a wrong word as a place (or none)
        example = (stats.examples.get("skipped_bad_offsets") or stats.examples.get("surface_mismatch") or ["?"])[0]
        raise InputError(f"{p}: {bad} span(s) have offsets that do not slice the text (e.g. document {example})",
                         "fix the offsets, or set skip_bad_spans = true for this corpus in a --spec file to leave them out")
    if stats.spans and out and not any(t != "O" for s in out for t in s.tags):
        raise InputError(f"{p}: none of its {stats.spans} spans carries a label", "pass --span-label (e.g. --span-label geo)")
    return out


def as_runtime_words(sentence: Sentence, compound_mark: str | None = None) -> Sentence:
    """A word-per-row sentence as `geobatch run` sees it: its words cut again by split_words.

    With a `compound_mark` (UNTAUGHT for `untaught_compounds`, COMPOUND_PIECE for `compound_places`), each
    piece of a file word tagged O that splits ("U.S.-led" -> U.S. - led) is a span of that type, not O:
    the corpus judged the compound, not the place inside it (GMB writes "U.S.-led" and "Paris-based" O;
    the news corpora tag the place). Each piece is a span of its own so a demonym piece still stands
    alone ("Syrian-backed": tag_demonyms). `untaught_scope = "place-names"` turns every untaught piece
    that names no place back into O, and `teach_compound_places` every COMPOUND_PIECE one (training/untaught.py)."""
    r = resplit_words(sentence.words)
    if sentence.tags is None:
        return Sentence(sentence.id, r.words, None)
    tags = spread_tags(sentence.tags, r.owner)
    if compound_mark is not None:
        pieces = Counter(r.owner)  # file word -> how many words it split into
        tags = [f"B-{compound_mark}" if t == OUTSIDE and pieces[o] > 1 else t for t, o in zip(tags, r.owner)]
    return Sentence(sentence.id, r.words, tags)


def model_labels(sentences: Sequence[Sentence]) -> list[str]:
    """The labels the model predicts: the tags' types, less "*" (any place: a set of labels, not one)
    and "?" (untaught: no label at all)."""
    return label_list(t for s in sentences for t in (s.tags or ()) if entity_type(t) not in (ANY_PLACE, UNTAUGHT))


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


def same_content(paths) -> Callable[[str, str], bool]:
    """A test of whether two of `paths` are the same file by content (a copy counts; files that do not
    exist are compared by path and left to the readers' own errors). Sizes first: hashes only on a tie."""
    sizes = {}
    for p in paths:
        try:
            sizes[p] = Path(p).stat().st_size
        except OSError:
            sizes[p] = None
    digests: dict = {}

    def digest(p):
        if p not in digests:
            digests[p] = sha256_file(p)
        return digests[p]

    def same(a, b) -> bool:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return sizes.get(a) is not None and sizes.get(a) == sizes.get(b) and digest(a) == digest(b)
    return same


def sha256_file(path: str | Path) -> str:
    """The runtime's file hash (the same digest a run's manifest records; an unreadable file is one line)."""
    from geobatch.io.fingerprint import content_sha256

    return content_sha256(str(path))


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
    labels: np.ndarray             # int32 [n_pieces], IGNORE except first pieces (UNTAUGHT_LABEL: untaught word)
    first_piece: np.ndarray        # int32 [n_words]: position of each word's first piece, -1 if it has none
    gold_tags: list[str]           # the words' tags (after the scheme)
    sentence: int                  # index of the source sentence (several when a long one was split)
    token_types: np.ndarray | None = None  # int32 [n_pieces]: the casing channel (geobatch/text/case_types.py); None: zeros


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
    markers: Sequence[int] | None = None,
    case_types: bool = False,
    case_zero_share: float = 0.0,
    seed: int = 0,
) -> tuple[list[Encoded], EncodeStats]:
    """Encode sentences; those longer than max_length are split at word boundaries (nothing is dropped).

    `markers`: one token id per sentence, placed right after [CLS] (its convention's marker, training/spec.py);
    it counts toward max_length, as at run time (geobatch.text.batching).
    `case_types`: token types from the words' capitals (geobatch/text/case_types.py), as `geobatch run` gives
    them; `case_zero_share` of the sentences, drawn with `seed`, get zeros instead (text without case)."""
    tok = runtime_tokenizer(tokenizer)
    n_marker = 0 if markers is None else 1
    if markers is not None and len(markers) != len(sentences):
        raise ValueError("markers: one per sentence")
    n_special = len(tok.encode([], is_pretokenized=True, add_special_tokens=True).ids)
    max_length -= n_marker  # the rest is laid out as without a marker, which is inserted last
    budget = max_length - n_special
    if budget < 1:
        raise InputError(f"--max-length {max_length + n_marker} leaves no room for words", "use at least 16")
    stats = EncodeStats(sentences=len(sentences))
    out: list[Encoded] = []
    batch = tok.encode_batch([list(s.words) for s in sentences], is_pretokenized=True, add_special_tokens=True)
    zeroed = random.Random(seed)
    for si, (sent, enc) in enumerate(zip(sentences, batch)):
        tags = list(sent.tags or ["O"] * len(sent.words))
        word_types = None
        if case_types:
            word_types = word_case_types(sent.words)
            if case_zero_share and zeroed.random() < case_zero_share:
                word_types[:] = 0
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
            if n_marker:
                ids, wids = [ids[0], int(markers[si]), *ids[1:]], [wids[0], None, *wids[1:]]
            labels = np.full(len(ids), IGNORE, dtype=np.int32)
            first = np.full(b - a, -1, dtype=np.int32)
            prev = None
            for pos, w in enumerate(wids):
                if w is not None and w != prev:
                    first[w] = pos
                    tag = tags[a + w]
                    if entity_type(tag) == UNTAUGHT:  # no gold loss either way
                        labels[pos] = UNTAUGHT_LABEL
                    else:
                        if tag not in label_to_id:
                            stats.unknown_tags[tag] = stats.unknown_tags.get(tag, 0) + 1
                            tag = "O"
                        labels[pos] = label_to_id[tag]
                prev = w
            stats.words_without_pieces += int((first < 0).sum())
            types = None
            if word_types is not None:
                types = np.array([0 if w is None else word_types[a + w] for w in wids], dtype=np.int32)
            out.append(Encoded(np.asarray(ids, dtype=np.int32), labels, first, tags[a:b], si, types))
    stats.inputs = len(out)
    return out, stats


def word_predictions(encoded: Encoded, piece_label_ids: np.ndarray, id_to_label: Sequence[str]) -> list[str]:
    """Per-word predicted tags from per-piece label ids (first piece wins; words without pieces are O)."""
    return [id_to_label[int(piece_label_ids[p])] if p >= 0 else "O" for p in encoded.first_piece]


def tag_demonyms(sentence: Sentence, matcher: dict[str, list[list[str]]], dem_type: str) -> Sentence:
    """Tag demonyms ("French", "South Korean") as their own type wherever they stand alone (outside any
    span, or a whole span of their own): geobatch.text.demonyms, which run-time scoring maps gold with.

    Corpora disagree on them (GMB and GeoWebNews tag them as places, TUD-Loc-2013 and GeoVirus leave
    them out); one type of their own lets one model follow every corpus, and the runtime does not
    treat it as a place.
    """
    tags = retype_demonyms(sentence.words, sentence.tags or ["O"] * len(sentence.words), matcher, dem_type)
    return Sentence(sentence.id, sentence.words, tags)
