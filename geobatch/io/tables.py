"""The output tables of one chunk (docs/, tokens/, spans/): their schemas, and the `ChunkResult` every
engine hands to `OutputDir.commit`, with the chunk's `ChunkStats`.

The schemas are the output contract (README, "Output"): `Pipeline` builds tables of them, `OutputDir`
checks committed parts against them, and the engines move `ChunkResult`s between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from ..evaluate.metrics import MetricsAccumulator

RESOLVER_COLUMNS = {
    "geonameid": pa.int64(),
    "resolved_name": pa.string(),
    "feature": pa.string(),
    "country_code": pa.string(),
    "admin1_code": pa.string(),
    "latitude": pa.float64(),
    "longitude": pa.float64(),
    "population": pa.int64(),
    "resolution_score": pa.float32(),
    "resolved_by": pa.string(),  # gazetteer / document_focus / null; geonameid is set exactly for gazetteer
}
# the document's focus (from the resolver result's `.focus`); null without a resolver or a resolved place
FOCUS_COLUMNS = {
    "focus_country_code": pa.string(),
    "focus_admin1_code": pa.string(),
    "focus_latitude": pa.float64(),
    "focus_longitude": pa.float64(),
}

DOCS_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("status", pa.string()), ("error", pa.string()), ("n_words", pa.int32()),
    ("n_tokens", pa.int32()), ("n_windows", pa.int32()), ("n_spans", pa.int32()), *FOCUS_COLUMNS.items(),
])
SPANS_SCHEMA = pa.schema([
    ("doc_id", pa.string()), ("span_index", pa.int32()), ("start_char", pa.int32()), ("end_char", pa.int32()),
    ("text", pa.string()), ("label", pa.string()), ("confidence", pa.float32()), ("confidence_min", pa.float32()),
    *RESOLVER_COLUMNS.items(),
])


def tokens_schema(with_gold: bool) -> pa.Schema:
    fields = [
        ("doc_id", pa.string()), ("word_index", pa.int32()), ("word", pa.string()), ("start_char", pa.int32()),
        ("end_char", pa.int32()), ("tag", pa.string()), ("confidence", pa.float32()),
    ]
    if with_gold:
        fields.append(("gold_tag", pa.string()))
    return pa.schema(fields)


@dataclass
class ChunkStats:
    docs: int = 0
    ok: int = 0
    empty: int = 0
    error: int = 0
    words: int = 0
    real_tokens: int = 0  # wordpieces incl. [CLS]/[SEP] that the model saw
    padded_slots: int = 0  # batch cells, padding included
    windows: int = 0
    batches: int = 0
    # wall seconds per stage (perf_counter around each; a few calls per chunk, so the timers cost nothing)
    prepare_s: float = 0.0  # records -> documents (split_words, gold tags)
    tokenize_s: float = 0.0  # wordpieces, windows, padded batches
    infer_s: float = 0.0  # the model calls only (tagger.run)
    decode_s: float = 0.0  # softmax, word tags, spans, output rows and Arrow tables
    resolve_s: float = 0.0  # the resolver hook
    score_s: float = 0.0  # metrics against gold tags (only with gold)
    total_s: float = 0.0

    def merge(self, o: "ChunkStats") -> "ChunkStats":
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(o, k))
        return self

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict) -> "ChunkStats":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


@dataclass
class ChunkResult:
    docs: pa.Table
    tokens: pa.Table
    spans: pa.Table
    metrics: MetricsAccumulator | None
    stats: ChunkStats
    input_rows: int

    def tables(self) -> dict[str, pa.Table]:
        return {"docs": self.docs, "tokens": self.tokens, "spans": self.spans}

    # what OutputDir.commit reads (an EncodedUnit from a --workers process answers the same)
    def parts(self) -> dict[str, pa.Table]:
        return self.tables()

    def row_counts(self) -> dict[str, int]:
        return {name: t.num_rows for name, t in self.tables().items()}

    def status_counts(self) -> dict[str, int]:
        status = self.docs.column("status").to_pylist()
        return {s: status.count(s) for s in ("ok", "empty", "error")}
