"""Span-annotated documents: an id, a text, and a list of `{start, end, label, ...}` per record.

Column names are options (`--id-column doc_id --spans-column toponyms` for the geoparsing corpora).
Spans without a label take `span_label`. Spans whose `type` is in `skip_types` (GeoWebNews marks
non-place expressions that way) and spans with impossible offsets are dropped and counted, not lost
silently: `SpanStats` says how many.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..documents import Span, SpanDocument
from ..errors import InputError

# GeoWebNews types that are not place names (see the corpus' guide); other corpora have no such types
DEFAULT_SKIP_TYPES = ("Literal_Expression", "Non_Lit_Expression", "Non_Toponym")


@dataclass
class SpanStats:
    documents: int = 0
    spans: int = 0
    skipped_type: int = 0
    skipped_bad_offsets: int = 0
    examples: list[str] = field(default_factory=list)


def parse_spans(
    raw: Any,
    text: str,
    span_label: str | None = None,
    skip_types: Iterable[str] = DEFAULT_SKIP_TYPES,
    stats: SpanStats | None = None,
) -> list[Span]:
    """Turn one record's spans value (list of dicts, or a JSON string of one) into `Span`s."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else []
    skip = set(skip_types or ())
    spans: list[Span] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        if item.get("type") in skip:
            if stats:
                stats.skipped_type += 1
            continue
        try:
            start, end = int(item["start"]), int(item["end"])
        except (KeyError, TypeError, ValueError):
            start, end = -1, -1
        if not (0 <= start < end <= len(text)):
            if stats:
                stats.skipped_bad_offsets += 1
            continue
        label = item.get("label") or span_label
        extra = {k: v for k, v in item.items() if k not in ("start", "end", "label")}
        spans.append(Span(start, end, label, extra))
        if stats:
            stats.spans += 1
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
            spans = parse_spans(rec.get(spans_column), text, span_label, skip_types, stats)
        if stats:
            stats.documents += 1
        yield SpanDocument(doc_id, text, spans)


def _iter_records(path: Path) -> Iterator[dict]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        with open(path, "r", encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path} line {lineno} is not JSON ({e.msg})", "give one JSON object per line") from None
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
        _iter_records(p), id_column, text_column, spans_column, span_label, skip_types, stats
    )
