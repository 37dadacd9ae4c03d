"""Span-annotated documents: an id, a text, and a list of `{start, end, label, ...}` per record.

Column names are options (`--id-column doc_id --spans-column toponyms` for the geoparsing corpora).
Spans without a label take `span_label`. One rule for `geobatch run`, `geobatch resolve` and training:

- a spans value that is not a list of objects, or a label/type that is not text, is the user's
  mistake for that whole document (`SpanShapeError`; `span_items` checks it);
- a span whose `type` is in `skip_types` (GeoWebNews marks non-place expressions that way) is
  skipped and counted;
- a span whose start/end is missing, not a whole number (11.7, true) or not 0 <= start < end <=
  len(text) is skipped and counted (11.0 is taken as 11: JSON writers produce it);
- a span kept with a gold point that is there but unusable (`gold_coordinates_problem`), or with
  a `surface` that is not text[start:end], is counted as doubtful.

`SpanStats` holds those counts with a few example documents per reason; it adds up across chunks
(`merge`, `to_dict`/`from_dict`), and `span_warnings` words the same warnings for every command.
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ...errors import InputError
from ..gold import gold_coordinates_problem  # one definition of a usable gold point
from ..documents import Span, SpanDocument

# Span types that are not place names: GeoWebNews' expressions and non-toponyms (see the corpus' guide),
# TUD-Loc-2013's street numbers and postcodes
DEFAULT_SKIP_TYPES = ("Literal_Expression", "Non_Lit_Expression", "Non_Toponym", "STREETNR", "ZIP")
MAX_EXAMPLES = 5  # example documents kept per reason

SHAPE_FIX = "give each document's spans as a list of {start, end[, label]} objects, or as that list's JSON text"


class SpanShapeError(InputError):
    """A document's spans value is not a list of objects with text labels: `problem` says what;
    `span_index` is the bad span's position (None when the value as a whole is wrong) and `kind`
    what the value or span is instead."""

    def __init__(self, problem: str, fix: str, span_index: int | None, kind: str):
        super().__init__(problem, fix)
        self.span_index, self.kind = span_index, kind


def _kind(value) -> str:
    return "a JSON object" if isinstance(value, dict) else type(value).__name__


def span_items(raw: Any) -> list:
    """A record's spans value as a list of objects (JSON text, also as CSV bytes, is decoded first).

    Any other shape raises `SpanShapeError`, rather than vanishing uncounted (an object iterates as
    its keys) or being coerced (a label 5 becoming the type "5"). Raises ValueError for text that is
    not JSON.
    """
    if isinstance(raw, (bytes, bytearray)):
        raw = bytes(raw).decode("utf-8")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else None
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpanShapeError(f"spans are {_kind(raw)}, not a list", SHAPE_FIX, None, _kind(raw))
    for j, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise SpanShapeError(f"span {j} is {_kind(item)}, not an object", SHAPE_FIX, j, _kind(item))
        for key in ("label", "type"):
            value = item.get(key)
            if value is not None and not isinstance(value, str):
                raise SpanShapeError(
                    f"span {j} has a {key} of type {type(value).__name__}, not text",
                    f"give {key}s as strings" + (", or leave them out and pass --span-label" if key == "label" else ""),
                    j, type(value).__name__)
    return raw


def _offset(value: Any) -> int | None:
    """A character offset, or None: booleans and fractions are not offsets (int() would make True 1
    and 11.7 11); a float with no fraction (11.0) and a numeric string ("11") are taken."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # NaN and infinities are not integers either
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _span_offsets(item: Mapping, text_length: int) -> tuple[int, int] | None:
    """(start, end) when both are whole numbers with 0 <= start < end <= text_length, else None."""
    start, end = _offset(item.get("start")), _offset(item.get("end"))
    if start is None or end is None or not 0 <= start < end <= text_length:
        return None
    return start, end


# the kept-or-skipped problems reported per span, with example documents (metrics.json keys spans_<reason>)
PROBLEMS = ("skipped_bad_offsets", "bad_gold_coordinates", "surface_mismatch")
_COUNTS = ("documents", "spans", "skipped_type", "skipped_bad_offsets", "bad_gold_coordinates", "surface_mismatch",
           "unreadable")


@dataclass
class SpanStats:
    """What became of gold spans: kept (`spans`), skipped (by type, for bad offsets), kept but doubtful
    (gold point unusable, surface mismatch), and documents whose spans could not be read at all
    (`unreadable`: the runner's error rows). Examples per reason: the MAX_EXAMPLES smallest doc ids, so
    that the same documents are named whatever order chunks, Ray actors or resumed sessions merge in."""

    documents: int = 0
    spans: int = 0
    skipped_type: int = 0
    skipped_bad_offsets: int = 0
    bad_gold_coordinates: int = 0
    surface_mismatch: int = 0
    unreadable: int = 0  # documents
    examples: dict[str, list[str]] = field(default_factory=dict)  # reason -> doc ids

    def note(self, reason: str, doc_id: str | None) -> None:
        """Name `doc_id` as an example of `reason` (the count is kept by the caller)."""
        if doc_id is None:
            return
        ids = self.examples.setdefault(reason, [])
        if doc_id not in ids:
            self.examples[reason] = sorted([*ids, doc_id])[:MAX_EXAMPLES]

    def merge(self, other: "SpanStats") -> "SpanStats":
        for k in _COUNTS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        for reason, ids in other.examples.items():
            self.examples[reason] = sorted(set(self.examples.get(reason, [])) | set(ids))[:MAX_EXAMPLES]
        return self

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in _COUNTS}, "examples": {r: list(v) for r, v in sorted(self.examples.items())}}

    @classmethod
    def from_dict(cls, d: dict) -> "SpanStats":
        return cls(**{k: int(d.get(k, 0)) for k in _COUNTS}, examples={r: list(v) for r, v in d.get("examples", {}).items()})

    def metrics(self) -> dict:
        """The metrics.json keys `geobatch resolve` and `geobatch run` share."""
        return {
            "spans_skipped_type": self.skipped_type,
            **{k: v for r in PROBLEMS for k, v in ((f"spans_{r}", getattr(self, r)),
                                                        (f"spans_{r}_documents", self.examples.get(r, [])))},
        }


def _documents(ids: list[str]) -> str:
    # fewer than MAX_EXAMPLES kept means those are all of them
    return ", ".join(ids) + (" and others" if len(ids) >= MAX_EXAMPLES else "")


_WARNINGS = (
    ("skipped_bad_offsets", "span(s) skipped: start/end missing, not whole numbers, or not 0 <= start < end <= len(text)",
     "fix those offsets (Python character offsets into the text, as integers)"),
    ("bad_gold_coordinates", "span(s) have gold coordinates that are not usable (missing half, not numbers, or out of range), "
     "so they are left out of the geo score", "give lat/lon (or latitude/longitude) as decimal degrees"),
    ("surface_mismatch", "span(s) have a surface that differs from text[start:end]",
     "check that start/end are Python character offsets (not bytes or UTF-16 units)"),
)


def span_warnings(m: Mapping) -> list[str]:
    """One warning line per kind of problem in a metrics dict holding `SpanStats.metrics()`'s keys."""
    return [f"warning: {m[f'spans_{r}']} {what} (documents {_documents(m[f'spans_{r}_documents'])}); {fix}"
            for r, what, fix in _WARNINGS if m.get(f"spans_{r}")]


def parse_spans(
    raw: Any,
    text: str,
    span_label: str | None = None,
    skip_types: Iterable[str] = DEFAULT_SKIP_TYPES,
    stats: SpanStats | None = None,
    doc_id: str | None = None,
) -> list[Span]:
    """Turn one record's spans value (list of dicts, or a JSON string of one) into `Span`s.

    Raises `SpanShapeError` for a value of the wrong shape and ValueError for text that is not JSON.
    Everything not kept is counted in `stats` (with `doc_id` as an example), as the module docstring says.
    """
    items = span_items(raw)
    skip = set(skip_types or ())
    spans: list[Span] = []
    st = stats if stats is not None else SpanStats()
    for item in items:
        if item.get("type") in skip:
            st.skipped_type += 1
            continue
        offsets = _span_offsets(item, len(text))
        if offsets is None:
            st.skipped_bad_offsets += 1
            st.note("skipped_bad_offsets", doc_id)
            continue
        start, end = offsets
        surface = item.get("surface")
        if isinstance(surface, str) and surface != text[start:end]:
            st.surface_mismatch += 1
            st.note("surface_mismatch", doc_id)
        if gold_coordinates_problem(item):
            st.bad_gold_coordinates += 1
            st.note("bad_gold_coordinates", doc_id)
        label = item.get("label") or span_label
        extra = {k: v for k, v in item.items() if k not in ("start", "end", "label")}
        spans.append(Span(start, end, label, extra))
        st.spans += 1
    return spans


def span_documents_from_records(
    records: Iterable[Mapping[str, Any]],
    id_column: str = "id",
    text_column: str = "text",
    spans_column: str | None = "spans",
    span_label: str | None = None,
    skip_types: Iterable[str] = DEFAULT_SKIP_TYPES,
    stats: SpanStats | None = None,
) -> Iterator[SpanDocument]:
    for n, rec in enumerate(records):
        text = rec.get(text_column)
        text = "" if text is None else str(text)
        doc_id = rec.get(id_column)
        doc_id = str(n) if doc_id is None else str(doc_id)
        spans = None
        if spans_column:
            try:
                spans = parse_spans(rec.get(spans_column), text, span_label, skip_types, stats, doc_id)
            except SpanShapeError as e:
                raise InputError(f"document {doc_id}: {e.problem}", e.fix) from None
        if stats:
            stats.documents += 1
        yield SpanDocument(doc_id, text, spans)


def iter_records(path: Path) -> Iterator[dict]:
    """The records of a JSONL or Parquet file of span documents, one dict each (training reads them too)."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path} line {lineno} is not JSON ({e.msg})", "give one JSON object per line") from None
                if not isinstance(rec, dict):  # a list or a string line failed later with AttributeError's traceback
                    raise InputError(f"{path} line {lineno} is a JSON {type(rec).__name__}, not an object", "give one JSON object per line")
                yield rec
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    else:
        raise InputError(f"cannot read spans from {path.name}", "give a .jsonl or .parquet file")


def read_span_documents(
    path: str | Path,
    id_column: str = "id",
    text_column: str = "text",
    spans_column: str = "spans",
    span_label: str | None = None,
    skip_types: Iterable[str] = DEFAULT_SKIP_TYPES,
    stats: SpanStats | None = None,
) -> Iterator[SpanDocument]:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p} does not exist", "check the path")
    yield from span_documents_from_records(
        iter_records(p), id_column, text_column, spans_column, span_label, skip_types, stats
    )
