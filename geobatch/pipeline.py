"""Process one chunk of records into docs/tokens/spans Arrow tables: the function every engine calls.

    pipe = Pipeline(model_dir, PipelineOptions(...), resolver=None)
    result = pipe.process(records, row_start=0, has_id=True)   # -> ChunkResult

Stages, each a function of its own module: records -> `DocInput`s (words from `split_words`, or
`resplit_words` for word-per-row input, gold tags when present) -> `tokenize` (+ `sliding_windows`)
-> `batching` -> `infer` -> `decode` -> resolver hook -> Arrow tables. A problem with one record
makes that record's docs/ row `error` (with the message) and the chunk goes on; every record yields
exactly one docs/ row.

Resolver seam: `resolver(text, spans) -> list[dict | None]`, one entry per span (dicts keyed by
`RESOLVER_COLUMNS`); without one those columns are null. A `focus` attribute on the returned
sequence (dict keyed by `FOCUS_COLUMNS`, or None) fills the docs/ row's focus columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from .batching import make_batches
from .corpus import BadRecord, one_line
from .decode import decode_spans, decode_word_tags, softmax
from .documents import Sentence
from .errors import GeobatchError
from .labels import LabelScheme, entity_types, place_types, split_tag
from .metrics import LOCATION, MetricsAccumulator
from .metrics_geo import gold_coordinates
from .model_dir import ModelDir, load_model_dir
from .readers.spans import SpanShapeError, SpanStats, parse_spans
from .readers.values import column_values, id_value, text_value
from .tokenize import SPECIAL_TOKENS, WordpieceEncoder, best_windows, sliding_windows
from .words import resplit_words, split_words, tags_from_spans

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
Resolver = Callable[[str, list[dict]], Sequence["dict | None"]]

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
class PipelineOptions:
    text_column: str = "text"
    id_column: str | None = "id"
    spans_column: str | None = None  # gold spans (list of {start, end, label}) or a JSON string of one
    span_label: str | None = None  # label for gold spans without one (else they count as `location`)
    batch_size: int = 32
    max_length: int | None = None  # None: the model card's
    stride: int | None = None  # overlap between windows, wordpieces; None: a quarter of a window
    provider: str = "auto"
    threads: int | None = None
    location_labels: Sequence[str] | None = None  # None: the model's place types (labels.place_types)
    with_gold: bool = False  # tokens/ gets gold_tag and metrics are kept (gmb/conll, or spans_column)


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


def gold_mapper(scheme: LabelScheme) -> Callable[[list[str]], list[str]]:
    """Map gold tags onto what the model predicts (`ModelDir.gold_scheme`: its scheme or label map);
    IOB2 repaired after. The synthetic `location` type (gold spans without a label) is kept for location scoring."""

    def mapped(tags: list[str]) -> list[str]:
        out, prev = [], None
        for t in tags:
            prefix, etype = split_tag(t)
            if etype != LOCATION:
                prefix, etype = split_tag(scheme.map_tag(t))
            if prefix == "I" and etype != prev:
                prefix = "B"
            out.append("O" if etype is None else f"{prefix}-{etype}")
            prev = etype
        return out

    return mapped


class Pipeline:
    def __init__(
        self,
        model_dir: str | Path | ModelDir,
        options: PipelineOptions | None = None,
        resolver: Resolver | None = None,
        tagger=None,
    ):
        from .infer import OnnxTagger

        self.model = model_dir if isinstance(model_dir, ModelDir) else load_model_dir(model_dir)
        self.options = options or PipelineOptions()
        self.labels = self.model.labels
        self.location_labels = tuple(self.options.location_labels or place_types(self.labels))
        types = entity_types(self.labels)
        unknown = sorted(set(self.location_labels) - set(types) - {LOCATION})
        if unknown:
            raise GeobatchError(
                f"--location-labels {','.join(unknown)}: the model predicts no such type (its types: {', '.join(types)})",
                "name types the model has, or leave --location-labels out to use its place types",
            )
        self.max_length = int(self.options.max_length or self.model.max_length)
        budget = self.max_length - SPECIAL_TOKENS
        self.stride = budget // 4 if self.options.stride is None else int(self.options.stride)
        if budget < 1 or not 0 <= self.stride < budget:
            raise GeobatchError(
                f"--max-length {self.max_length} / --stride {self.stride} leave no room to advance",
                f"use --max-length >= 3 and 0 <= --stride < max_length - 2 ({budget})",
            )
        if self.options.batch_size < 1:
            raise GeobatchError("--batch-size must be at least 1", "pass a positive number")
        self.encoder = WordpieceEncoder(self.model.tokenizer_path)
        self.tagger = tagger or OnnxTagger(self.model, self.options.provider, self.options.threads)
        if self.max_length > self.model.max_length:
            self._try_window_length()
        self.resolver = resolver
        self.map_gold = gold_mapper(self.model.gold_scheme)
        self.tokens_schema = tokens_schema(self.options.with_gold)

    @property
    def provider(self) -> str:
        return self.tagger.provider

    # -- stage 1: records -> documents -----------------------------------------------------
    def to_documents(self, records: Any, row_start: int = 0, has_id: bool = True, id_prefix: str = "") -> list[DocInput]:
        o = self.options
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
        for i, rec in enumerate(rows):
            try:
                docs.append(self._document(rec, fallback_id(i), has_id))
            except Exception as e:  # one bad record must not stop the chunk
                docs.append(DocInput(fallback_id(i), error=f"{type(e).__name__}: {e}"))
        return docs

    def _document(self, rec: Any, fallback: str, has_id: bool) -> DocInput:
        o = self.options
        if isinstance(rec, BadRecord):
            return DocInput(fallback, error=rec.message)
        if isinstance(rec, Sentence):
            r = resplit_words(rec.words)
            gold = self.map_gold(list(rec.tags)) if rec.tags is not None else None
            first = np.full(len(rec.words), -1, np.int64)
            for i in range(len(r.owner) - 1, -1, -1):
                first[r.owner[i]] = i
            return DocInput(rec.id or fallback, r.text, r.offsets, r.words, gold,
                            file_words=FileWords(list(rec.words), r.file_offsets, first))
        if "__id" in rec:  # from an Arrow table
            raw_id, raw_text, raw_spans = rec["__id"], rec[o.text_column], rec["__spans"]
        else:
            raw_id = rec.get(o.id_column) if (o.id_column and has_id) else None
            raw_text, raw_spans = rec.get(o.text_column), rec.get(o.spans_column) if o.spans_column else None
        doc_id = id_value(raw_id) or fallback
        text, err = text_value(raw_text)
        if err:
            return DocInput(doc_id, error=err)
        text = text or ""
        words, offsets = split_words(text) if text.strip() else ([], [])
        gold = None
        if o.spans_column:
            counted = SpanStats(documents=1)  # parse_spans counts every span it does not keep, by reason
            try:
                spans = parse_spans(raw_spans, text, o.span_label, stats=counted, doc_id=doc_id)
            except (ValueError, SpanShapeError) as e:  # this row's error, under its own id, and counted as unreadable
                if isinstance(e, SpanShapeError):  # a number or object where a list belongs, a label that is not text
                    what = (f"holds {e.kind}, not a list of spans" if e.span_index is None
                            else f"has a span that cannot be read ({e.problem})")
                else:
                    what = f"is not valid JSON ({e})"
                return DocInput(doc_id, text, error=f"spans column {o.spans_column!r} {what}",
                                gold_spans=SpanStats(unreadable=1, examples={"unreadable": [doc_id]}))
            gold = self.map_gold(tags_from_spans(offsets, spans, default_label=LOCATION))
            places = [(s.start, s.end, *p) for s in spans if (p := gold_coordinates(s.extra)) is not None]
            return DocInput(doc_id, text, offsets, words, gold, places, gold_spans=counted)
        return DocInput(doc_id, text, offsets, words, gold)

    # -- stages 2-6 --------------------------------------------------------------------------
    def process(self, records: Any, row_start: int = 0, has_id: bool = True, id_prefix: str = "") -> ChunkResult:
        t0 = time.perf_counter()
        stats = ChunkStats()
        docs = self.to_documents(records, row_start, has_id, id_prefix)
        t1 = time.perf_counter()
        stats.prepare_s = t1 - t0
        live = [k for k, d in enumerate(docs) if d.error is None and d.words]
        encoded = dict(zip(live, self._encode([docs[k].words for k in live])))

        # windows of every document in the chunk, batched together
        window_ids: list[np.ndarray] = []
        plan: dict[int, tuple] = {}  # doc -> (encoded, windows, first window's number, best_win, best_pos)
        for k in live:
            enc = encoded[k]
            if isinstance(enc, Exception):
                docs[k].error = f"tokenizer failed: {enc}"
                continue
            wins = sliding_windows(enc.word_ntok, self.max_length, self.stride) if enc.n_tokens else []
            bw, bp = best_windows(enc, wins)
            plan[k] = (enc, wins, len(window_ids), bw, bp)
            window_ids += [enc.ids[w.tok_start:w.tok_end] for w in wins]

        probs: list[np.ndarray | None] = [None] * len(window_ids)
        batches = make_batches(window_ids, self.options.batch_size, self.encoder.cls_id, self.encoder.sep_id, self.encoder.pad_id)
        stats.tokenize_s = time.perf_counter() - t1
        for batch in batches:
            ti = time.perf_counter()
            logits = self.tagger.run(batch)
            tp = time.perf_counter()
            stats.infer_s += tp - ti
            p = softmax(logits)
            for row, w in enumerate(batch.window_index):
                probs[w] = p[row, : len(window_ids[w]) + SPECIAL_TOKENS]
            stats.batches += 1
            stats.real_tokens += batch.real_tokens
            stats.padded_slots += batch.slots
            stats.decode_s += time.perf_counter() - tp
        stats.windows = len(window_ids)
        td = time.perf_counter()

        metrics = MetricsAccumulator(self.location_labels) if self.options.with_gold else None
        d_rows: dict[str, list] = {n: [] for n in DOCS_SCHEMA.names}
        t_rows: dict[str, list] = {n: [] for n in self.tokens_schema.names}
        s_rows: dict[str, list] = {n: [] for n in SPANS_SCHEMA.names}
        for k, doc in enumerate(docs):
            n_tokens = n_windows = 0
            spans: list[dict] = []
            focus = None
            if doc.error is None and k in plan:
                try:
                    enc, wins, w0, bw, bp = plan[k]
                    n_tokens, n_windows = enc.n_tokens, len(wins)
                    tags, conf = self._word_tags(probs, w0, bw, bp)
                    if doc.file_words is not None:
                        tags, conf = doc.file_words.collapse(tags, conf)
                        doc.words, doc.offsets = doc.file_words.words, doc.file_words.offsets
                    spans = decode_spans(doc.text, doc.offsets, tags, conf, self.location_labels)
                    tr = time.perf_counter()
                    resolved, focus = self._resolve(doc.text, spans)
                    stats.resolve_s += time.perf_counter() - tr
                    self._add_tokens(t_rows, doc, tags, conf)
                    self._add_spans(s_rows, doc.doc_id, spans, resolved)
                    if metrics is not None and doc.gold is not None:
                        ts = time.perf_counter()
                        metrics.add(doc.gold, tags)
                        if self.resolver is not None and doc.gold_places:  # geo score needs resolved spans
                            metrics.add_geo(doc.gold_places, spans, resolved)
                        stats.score_s += time.perf_counter() - ts
                except Exception as e:  # keep the row, say why
                    doc.error = f"{type(e).__name__}: {e}"
                    spans = []
            # every gold span is scored or counted with its reason (a row that failed later is an error row)
            if metrics is not None and doc.gold_spans is not None and (doc.error is None or doc.gold_spans.unreadable):
                metrics.add_gold_spans(doc.gold_spans)
            status = "error" if doc.error else ("ok" if doc.words else "empty")
            stats.docs += 1
            setattr(stats, status, getattr(stats, status) + 1)
            stats.words += len(doc.words) if status == "ok" else 0
            for name, v in zip(DOCS_SCHEMA.names, (doc.doc_id, status, doc.error, len(doc.words) if status == "ok" else 0,
                                                   n_tokens, n_windows, len(spans))):
                d_rows[name].append(v)
            for name in FOCUS_COLUMNS:
                d_rows[name].append(focus.get(name) if focus and not doc.error else None)
        tables = (pa.table(d_rows, schema=DOCS_SCHEMA), pa.table(t_rows, schema=self.tokens_schema),
                  pa.table(s_rows, schema=SPANS_SCHEMA))
        end = time.perf_counter()
        stats.decode_s += end - td - stats.resolve_s - stats.score_s
        stats.total_s = end - t0
        return ChunkResult(*tables, metrics, stats, len(docs))

    def _try_window_length(self) -> None:
        """A --max-length above the card's may pass the graph's position embeddings, which only a
        model call finds; make that call once here, before any output exists, not mid-run."""
        from .infer import _quiet_fd2

        window = np.full(self.max_length - SPECIAL_TOKENS, self.encoder.sep_id, np.int64)
        try:
            with _quiet_fd2():  # ONNX Runtime logs the failure on stderr itself; the one line below says it
                self.tagger.run(make_batches([window], 1, self.encoder.cls_id, self.encoder.sep_id, self.encoder.pad_id)[0])
        except Exception as e:
            raise GeobatchError(f"model.onnx cannot take windows of {self.max_length} wordpieces ({one_line(e)})",
                                f"use --max-length {self.model.max_length} (the model card's) or no more than the base model's position embeddings") from None

    def _encode(self, words: list[list[str]]) -> list:
        try:
            return self.encoder.encode(words)
        except Exception:  # find the document that broke the batch; the others go on
            out = []
            for w in words:
                try:
                    out.append(self.encoder.encode([w])[0])
                except Exception as e:
                    out.append(e)
            return out

    def _word_tags(self, probs, w0, bw, bp) -> tuple[list[str], np.ndarray]:
        n = bw.shape[0]
        has = bw >= 0
        word_probs = np.zeros((n, len(self.labels)), np.float32)
        idx = np.flatnonzero(has)
        idx = idx[np.argsort(bw[idx], kind="stable")]  # words grouped by window: one fancy-index per window,
        wins, first = np.unique(bw[idx], return_index=True)  # found once, not by a mask over all words per window
        for w, a, b in zip(wins.tolist(), first.tolist(), [*first[1:].tolist(), idx.size]):
            sel = idx[a:b]
            word_probs[sel] = probs[w0 + w][bp[sel]]
        return decode_word_tags(word_probs, self.labels, has)

    def _resolve(self, text: str, spans: list[dict]) -> tuple[list, dict | None]:
        """Resolver results for the place spans; None for the others (a `full` model's per/org spans:
        "Bush" the person must not get the coordinates of a town called Bush); and the document's focus."""
        places = [i for i, s in enumerate(spans) if s["label"] in self.location_labels]
        out: list = [None] * len(spans)
        if self.resolver is None or not places:
            return out, None
        got = self.resolver(text, [spans[i] for i in places])
        focus = getattr(got, "focus", None)
        got = list(got)
        if len(got) != len(places):
            raise ValueError(f"resolver returned {len(got)} results for {len(places)} spans")
        for i, r in zip(places, got):
            out[i] = r
        return out, focus

    def _add_tokens(self, rows: dict, doc: DocInput, tags: list[str], conf: np.ndarray) -> None:
        n = len(doc.words)
        rows["doc_id"] += [doc.doc_id] * n
        rows["word_index"] += range(n)
        rows["word"] += doc.words
        rows["start_char"] += [s for s, _ in doc.offsets]
        rows["end_char"] += [e for _, e in doc.offsets]
        rows["tag"] += tags
        rows["confidence"] += [None if c != c else c for c in conf.tolist()]  # NaN (no wordpiece) -> null
        if "gold_tag" in rows:
            rows["gold_tag"] += doc.gold if doc.gold is not None else [None] * n

    @staticmethod
    def _add_spans(rows: dict, doc_id: str, spans: list[dict], resolved: list) -> None:
        for i, (s, r) in enumerate(zip(spans, resolved)):
            rows["doc_id"].append(doc_id)
            rows["span_index"].append(i)
            for k in ("start_char", "end_char", "text", "label"):
                rows[k].append(s[k])
            for k in ("confidence", "confidence_min"):
                rows[k].append(None if np.isnan(s[k]) else s[k])
            for k in RESOLVER_COLUMNS:
                rows[k].append(r.get(k) if r else None)
