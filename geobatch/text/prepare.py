"""Stage 1 of `Pipeline.process`: records -> `DocInput`s (words, character offsets, gold tags).

Raw texts are cut all at once by `split_texts` (the words of `split_words`); word-per-row records
(GMB, CoNLL sentences) are re-split by `resplit_words`, keeping the file's words to give the tags
back on (`FileWords`). A problem with one record makes that record an error row; the chunk goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from ..io.corpus import BadRecord
from ..io.documents import Sentence
from ..io.gold import LOCATION, gold_coordinates
from ..io.readers.spans import SpanShapeError, SpanStats, parse_spans
from ..io.readers.values import column_values, id_value, text_value
from .words import resplit_words, split_texts, tags_from_spans

if TYPE_CHECKING:
    from ..evaluate.gold_map import GoldMapper
    from ..pipeline import PipelineOptions

_NOT_TEXT = object()  # _document's second value for records that are not raw text (no words to split)


@dataclass
class DocInput:
    doc_id: str
    text: str = ""
    offsets: list = field(default_factory=list)
    words: list = field(default_factory=list)
    gold: list | None = None
    gold_places: list = field(default_factory=list)  # (start, end, lat, lon) of gold spans with coordinates
    error: str | None = None
    gold_spans: SpanStats | None = None  # what became of its gold spans (kept, skipped, doubtful, unreadable)
    # word-per-row input: the model reads `words` (the file's words cut as raw text is, so it sees what
    # it was trained on); tags, tokens and metrics are given back on the file's own words
    file_words: "FileWords | None" = None
    # raw text: the words' offsets as arrays (split_texts); `offsets` is filled only where gold spans need it
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None

    def offset_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self.starts is None:
            o = np.asarray(self.offsets, np.int64).reshape(-1, 2)
            self.starts, self.ends = o[:, 0], o[:, 1]
        return self.starts, self.ends


@dataclass
class FileWords:
    words: list
    offsets: list
    first_piece: np.ndarray  # index into DocInput.words of each file word's first piece, -1 for none

    def collapse(self, tags: list[str], conf: np.ndarray) -> tuple[list[str], np.ndarray]:
        """A file word takes the tag and confidence of its first piece."""
        has = self.first_piece >= 0
        idx = np.where(has, self.first_piece, 0)
        out_tags = [tags[i] if h else "O" for i, h in zip(idx.tolist(), has.tolist())]
        out_conf = np.where(has, conf[idx] if len(conf) else np.nan, np.nan).astype(np.float32)
        return out_tags, out_conf

    def collapse_codes(self, tags: np.ndarray, conf: np.ndarray, none: int) -> tuple[np.ndarray, np.ndarray]:
        """`collapse` on label indices (`none`: the "O" of a word without a prediction)."""
        has = self.first_piece >= 0
        idx = np.where(has, self.first_piece, 0)
        out_tags = np.where(has, tags[idx] if len(tags) else none, none)
        out_conf = np.where(has, conf[idx] if len(conf) else np.nan, np.nan).astype(np.float32)
        return out_tags, out_conf


def to_documents(records: Any, o: "PipelineOptions", map_gold: "GoldMapper", row_start: int = 0, has_id: bool = True,
                 id_prefix: str = "") -> list[DocInput]:
    """One DocInput per record (an error row for a bad one): words, offsets and gold tags."""
    docs: list[DocInput] = []

    def fallback_id(i: int) -> str:
        return f"{id_prefix}{row_start + i}"

    if isinstance(records, (pa.Table, pa.RecordBatch)):
        names = records.schema.names
        col = lambda name: column_values(records.column(name)) if name and name in names else [None] * records.num_rows  # noqa: E731
        rows = [
            {o.text_column: t, "__id": i, "__spans": s}
            for t, i, s in zip(col(o.text_column), col(o.id_column if has_id else None), col(o.spans_column))
        ]
    else:
        rows = list(records)
    pending: list[tuple[int, Any]] = []  # raw-text documents (their number, raw gold spans), split together below
    for i, rec in enumerate(rows):
        try:
            doc, raw_spans = _document(rec, o, map_gold, fallback_id(i), has_id)
        except Exception as e:  # one bad record must not stop the chunk
            doc, raw_spans = DocInput(fallback_id(i), error=f"{type(e).__name__}: {e}"), None
        if raw_spans is not _NOT_TEXT:
            pending.append((len(docs), raw_spans))
        docs.append(doc)
    _split(docs, [k for k, _ in pending])
    if o.spans_column:
        for k, raw_spans in pending:
            if docs[k].error is None:
                try:
                    _gold(docs[k], raw_spans, o, map_gold)
                except Exception as e:
                    docs[k] = DocInput(docs[k].doc_id, error=f"{type(e).__name__}: {e}")
    return docs

def _split(docs: list[DocInput], which: list[int]) -> None:
    """Words of the raw-text documents, all at once (`split_texts`: the words of `split_words`)."""
    todo = [k for k in which if docs[k].error is None and docs[k].text.strip()]
    try:
        split = split_texts([docs[k].text for k in todo])
    except Exception:  # a text the pre-tokenizer refuses: find it, the others go on
        split = []
        for k in todo:
            try:
                split += split_texts([docs[k].text])
            except Exception as e:
                docs[k].error = f"{type(e).__name__}: {e}"
                split.append(([], np.zeros(0, np.int64), np.zeros(0, np.int64)))
    for k, (words, starts, ends) in zip(todo, split):
        docs[k].words, docs[k].starts, docs[k].ends = words, starts, ends

def _document(rec: Any, o: "PipelineOptions", map_gold, fallback: str, has_id: bool) -> tuple[DocInput, Any]:
    """The document of a record, before its words; with the raw gold spans of a raw-text one (`_NOT_TEXT` otherwise)."""
    if isinstance(rec, BadRecord):
        return DocInput(fallback, error=rec.message), _NOT_TEXT
    if isinstance(rec, Sentence):
        r = resplit_words(rec.words)
        gold = map_gold(list(rec.tags), list(rec.words)) if rec.tags is not None else None
        first = np.full(len(rec.words), -1, np.int64)
        for i in range(len(r.owner) - 1, -1, -1):
            first[r.owner[i]] = i
        return DocInput(rec.id or fallback, r.text, r.offsets, r.words, gold,
                        file_words=FileWords(list(rec.words), r.file_offsets, first)), _NOT_TEXT
    if "__id" in rec:  # from an Arrow table
        raw_id, raw_text, raw_spans = rec["__id"], rec[o.text_column], rec["__spans"]
    else:
        raw_id = rec.get(o.id_column) if (o.id_column and has_id) else None
        raw_text, raw_spans = rec.get(o.text_column), rec.get(o.spans_column) if o.spans_column else None
    doc_id = id_value(raw_id) or fallback
    text, err = text_value(raw_text)
    if err:
        return DocInput(doc_id, error=err), _NOT_TEXT
    return DocInput(doc_id, text or "", starts=np.zeros(0, np.int64), ends=np.zeros(0, np.int64)), raw_spans

def _gold(doc: DocInput, raw_spans: Any, o: "PipelineOptions", map_gold) -> None:
    """Gold tags of a raw-text document from its spans column (its words are known by now)."""
    counted = SpanStats(documents=1)  # parse_spans counts every span it does not keep, by reason
    try:
        spans = parse_spans(raw_spans, doc.text, o.span_label, stats=counted, doc_id=doc.doc_id)
    except (ValueError, SpanShapeError) as e:  # this row's error, under its own id, and counted as unreadable
        if isinstance(e, SpanShapeError):  # a number or object where a list belongs, a label that is not text
            what = (f"holds {e.kind}, not a list of spans" if e.span_index is None
                    else f"has a span that cannot be read ({e.problem})")
        else:
            what = f"is not valid JSON ({e})"
        doc.words, doc.error = [], f"spans column {o.spans_column!r} {what}"
        doc.gold_spans = SpanStats(unreadable=1, examples={"unreadable": [doc.doc_id]})
        return
    doc.offsets = list(zip(doc.starts.tolist(), doc.ends.tolist()))
    doc.gold = map_gold(tags_from_spans(doc.offsets, spans, default_label=LOCATION))
    doc.gold_places = [(s.start, s.end, *p) for s in spans if (p := gold_coordinates(s.extra)) is not None]
    doc.gold_spans = counted
