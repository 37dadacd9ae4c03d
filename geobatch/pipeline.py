"""Process one chunk of records into docs/tokens/spans Arrow tables: the function every engine calls.

    pipe = Pipeline(model_dir, PipelineOptions(...), resolver=None)
    result = pipe.process(records, row_start=0, has_id=True)   # -> ChunkResult

Stages, each a function of its own module: `prepare` (records -> `DocInput`s: the chunk's texts cut
by `split_texts`, or `resplit_words` for word-per-row input, gold tags when present) -> `tokenize`
(+ `sliding_windows`) -> `batching` -> `infer` -> `decode.arrays` (every word of the chunk at once)
-> `decode.joins` (a name written in two pieces, "Sri"/geo "Lanka"/gpe, joined) -> `decode.states` ("W.Va."
in "Wheeling, W.Va." a place, as "Ga." in "Dalton, Ga.") -> `decode.edges` (no
dash, comma or "&" at a span's edge) -> `decode.casing` (lowercase "places" dropped, lowercase leading
words cut off) -> `decode.titles`
(no place right after "Mr", "Dr") -> resolver hook ->
Arrow tables. A problem with one record makes that record's docs/ row `error` (with the message) and
the chunk goes on; every record yields exactly one docs/ row.

Resolver seam: `resolver(text, spans) -> list[dict | None]`, one entry per span (dicts keyed by
`RESOLVER_COLUMNS`); without one those columns are null. The place spans come first, then any the
model's demonym type tagged, marked `context_only`: they tell the resolver which countries the
document is about, and their entries are not kept. A `focus` attribute on the returned
sequence (dict keyed by `FOCUS_COLUMNS`, or None) fills the docs/ row's focus columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pyarrow as pa

from .decode.arrays import (ChunkSpans, ChunkWords, TagCodes, chunk_spans, line_break_before, span_dicts, tokens_table,
                            word_labels)
from .decode.casing import lowercase_words_off, tags_as_written
from .decode.edges import edge_punctuation_off
from .decode.joins import joined_names, tags_as_joined
from .decode.spans import softmax
from .decode.states import states_after_places
from .decode.titles import titled_names_off
from .errors import GeobatchError
from .evaluate.gold_map import gold_mapper
from .evaluate.metrics import LOCATION, MetricsAccumulator
from .io.corpus import one_line
from .io.tables import (  # noqa: F401 - ChunkResult, ChunkStats, schemas: re-exported for callers of this module
    DOCS_SCHEMA, FOCUS_COLUMNS, RESOLVER_COLUMNS, SPANS_SCHEMA, ChunkResult, ChunkStats, tokens_schema,
)
from .labels import entity_types, place_types
from .model.model_dir import ModelDir, load_model_dir
from .text.batching import make_batches
from .text.case_types import piece_case_types, word_case_types
from .text.prepare import DocInput, FileWords, to_documents  # noqa: F401 - FileWords: part of this module's interface
from .text.tokenize import SPECIAL_TOKENS, WordpieceEncoder, best_windows, sliding_windows

Resolver = Callable[[str, list[dict]], Sequence["dict | None"]]


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
    convention: str | None = None  # the annotation convention to follow (model card's); None: the card's default


class Pipeline:
    def __init__(
        self,
        model_dir: str | Path | ModelDir,
        options: PipelineOptions | None = None,
        resolver: Resolver | None = None,
        tagger=None,
    ):
        from .model.infer import OnnxTagger

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
        # `is None`, not `or`: --max-length 0 ran silently with the card's value
        self.max_length = int(self.model.max_length if self.options.max_length is None else self.options.max_length)
        self.convention, self.markers = self._convention()
        # a window holds max_length wordpieces in all: [CLS], the convention's marker, content, [SEP]
        self.window_length = self.max_length - len(self.markers)
        budget = self.window_length - SPECIAL_TOKENS
        if budget < 1:  # said before the stride, which the user may not have given
            raise GeobatchError(f"--max-length {self.max_length} leaves no room for a wordpiece beside [CLS] and [SEP]"
                                + (" and the convention's marker" if self.markers else ""),
                                f"use --max-length >= {3 + len(self.markers)}, or leave it out for the model's {self.model.max_length}")
        self.stride = budget // 4 if self.options.stride is None else int(self.options.stride)
        if not 0 <= self.stride < budget:
            raise GeobatchError(
                f"--max-length {self.max_length} / --stride {self.stride} leave no room to advance",
                f"use --max-length >= {3 + len(self.markers)} and 0 <= --stride < {budget} (the window's room for wordpieces)",
            )
        if self.options.batch_size < 1:
            raise GeobatchError("--batch-size must be at least 1", "pass a positive number")
        self.encoder = WordpieceEncoder(self.model.tokenizer_path)
        self.tagger = tagger or OnnxTagger(self.model, self.options.provider, self.options.threads)
        if self.max_length > self.model.max_length:
            self._try_window_length()
        self.resolver = resolver
        # gold is retyped as training retyped it under the convention followed (not where it kept demonyms)
        self.map_gold = gold_mapper(self.model.gold_scheme, entity_types(self.labels), self.model.demonym_type_under(self.convention))
        dem = self.model.demonym_type
        # the model's demonym type, unless the user counts it as a place: decode joins it with the rest of a
        # name ("Saudi" + "Arabia"), and its spans go to the resolver as context only ("French border checks at Calais")
        self.demonym_label = dem if dem and dem in types and dem not in self.location_labels else None
        self.context_labels = (dem,) if self.demonym_label else ()
        self.tokens_schema = tokens_schema(self.options.with_gold)
        self.codes = TagCodes(self.labels)

    def _convention(self) -> tuple[str | None, list[int]]:
        """The convention followed and its marker ids: --convention, else the card's default."""
        known = self.model.conventions
        asked = self.options.convention
        if not known:
            if asked is not None:
                raise GeobatchError(f"--convention {asked}: model {self.model.path} was trained without conventions",
                                    "leave --convention out for this model")
            return None, []
        name = self.model.default_convention if asked is None else asked
        if name not in known:
            raise GeobatchError(f"--convention {name}: model {self.model.path} knows {', '.join(sorted(known))}",
                                f"use one of them (its default: {self.model.default_convention})")
        return name, [known[name]]

    @property
    def provider(self) -> str:
        return self.tagger.provider

    # -- stage 1: records -> documents (geobatch/text/prepare.py) --------------------------------
    def to_documents(self, records: Any, row_start: int = 0, has_id: bool = True, id_prefix: str = "") -> list[DocInput]:
        return to_documents(records, self.options, self.map_gold, row_start, has_id, id_prefix)

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
        window_types: list[np.ndarray] | None = [] if self.model.case_types else None
        plan: dict[int, tuple] = {}  # doc -> (encoded, windows, first window's number, best_win, best_pos)
        for k in live:
            enc = encoded[k]
            if isinstance(enc, Exception):
                docs[k].error = f"tokenizer failed: {enc}"
                continue
            wins = sliding_windows(enc.word_ntok, self.window_length, self.stride) if enc.n_tokens else []
            bw, bp = best_windows(enc, wins)
            bp[bp >= 0] += len(self.markers)  # positions after the marker
            plan[k] = (enc, wins, len(window_ids), bw, bp)
            window_ids += [enc.ids[w.tok_start:w.tok_end] for w in wins]
            if window_types is not None:  # as training gave them: from the document's own words
                types = piece_case_types(word_case_types(docs[k].words), enc.word_ntok)
                window_types += [types[w.tok_start:w.tok_end] for w in wins]

        # the logits of all batches as rows [position, label]; window w's position 0 is row window_row[w]
        logit_rows: list[np.ndarray] = []
        window_row = np.zeros(len(window_ids), np.int64)
        n_rows = 0
        batches = make_batches(window_ids, self.options.batch_size, self.encoder.cls_id, self.encoder.sep_id, self.encoder.pad_id,
                               self.markers, window_types)
        stats.tokenize_s = time.perf_counter() - t1
        for batch in batches:
            ti = time.perf_counter()
            logits = self.tagger.run(batch)
            tp = time.perf_counter()
            stats.infer_s += tp - ti
            b, width = logits.shape[0], logits.shape[1]
            logit_rows.append(logits.reshape(b * width, -1))
            window_row[batch.window_index] = n_rows + np.arange(b) * width
            n_rows += b * width
            stats.batches += 1
            stats.real_tokens += batch.real_tokens
            stats.padded_slots += batch.slots
            stats.decode_s += time.perf_counter() - tp
        stats.windows = len(window_ids)
        td = time.perf_counter()

        metrics = MetricsAccumulator(self.location_labels, entity_types(self.labels)) if self.options.with_gold else None
        flat = np.concatenate(logit_rows) if logit_rows else np.zeros((0, len(self.labels)), np.float32)
        words = self._decode_words(docs, plan, flat, window_row)
        texts = [d.text for d in docs]
        spans = chunk_spans(words.tags, words.conf, words.doc, self.codes, self.location_labels, line_break_before(texts, words))
        spans, joined = joined_names(spans, words, texts, self.codes, self.location_labels, self.demonym_label)
        spans, added = states_after_places(spans, words, texts, self.codes, self.location_labels)
        rewritten = joined + added  # spans decoding wrote over the model's tags: joined names, added states
        spans, cut = edge_punctuation_off(spans, words, texts)
        spans, lowered = lowercase_words_off(spans, words, texts, self.codes, self.location_labels)
        cut += lowered
        spans, titled = titled_names_off(spans, words, texts, self.codes, self.location_labels)
        cut += titled
        # the metrics score the spans written, not the words cut off, the pieces of a joined name nor a state's O
        scored_tags = tags_as_joined(words.tags, rewritten, self.codes) if rewritten and metrics is not None else words.tags
        scored_tags = tags_as_written(scored_tags, spans, cut, self.codes) if cut and metrics is not None else scored_tags
        span_texts = [texts[d][s:e] for d, s, e in zip(spans.doc.tolist(), words.starts[spans.word_start].tolist(),
                                                       words.ends[spans.word_end - 1].tolist())]
        span_bounds = np.searchsorted(spans.doc, np.arange(len(docs) + 1))
        resolved: list = [None] * len(span_texts)
        focus: dict[int, dict] = {}  # doc -> its focus (FOCUS_COLUMNS), from the resolver
        if self.resolver is not None or metrics is not None:  # the per-document stages
            for k in words.decoded:
                doc = docs[k]
                try:
                    a, b = int(span_bounds[k]), int(span_bounds[k + 1])
                    doc_spans = span_dicts(spans, words, span_texts, a, b, self.codes)
                    tr = time.perf_counter()
                    resolved[a:b], focus[k] = self._resolve(doc.text, doc_spans)
                    stats.resolve_s += time.perf_counter() - tr
                    if metrics is not None and doc.gold is not None:
                        ts = time.perf_counter()
                        w0, w1 = words.bounds[k], words.bounds[k + 1]
                        metrics.add(doc.gold, self.codes.names[scored_tags[w0:w1]].tolist())
                        if self.resolver is not None and doc.gold_places:  # geo score needs resolved spans
                            metrics.add_geo(doc.gold_places, doc_spans, resolved[a:b])
                        stats.score_s += time.perf_counter() - ts
                except Exception as e:  # keep the row, say why
                    doc.error = f"{type(e).__name__}: {e}"
        d_rows: dict[str, list] = {n: [] for n in DOCS_SCHEMA.names}
        for k, doc in enumerate(docs):
            n_tokens, n_windows, n_spans = 0, 0, 0
            if doc.error is None and k in plan:
                n_tokens, n_windows = plan[k][0].n_tokens, len(plan[k][1])
                n_spans = int(span_bounds[k + 1] - span_bounds[k])
            # every gold span is scored or counted with its reason (a row that failed later is an error row)
            if metrics is not None and doc.gold_spans is not None and (doc.error is None or doc.gold_spans.unreadable):
                metrics.add_gold_spans(doc.gold_spans)
            status = "error" if doc.error else ("ok" if doc.words else "empty")
            stats.docs += 1
            setattr(stats, status, getattr(stats, status) + 1)
            stats.words += len(doc.words) if status == "ok" else 0
            for name, v in zip(DOCS_SCHEMA.names, (doc.doc_id, status, doc.error, len(doc.words) if status == "ok" else 0,
                                                   n_tokens, n_windows, n_spans)):
                d_rows[name].append(v)
            for name in FOCUS_COLUMNS:
                d_rows[name].append(focus[k].get(name) if focus.get(k) and not doc.error else None)
        failed = np.array([k for k in words.decoded if docs[k].error is not None], np.int64)
        tables = (pa.table(d_rows, schema=DOCS_SCHEMA), tokens_table(docs, words, failed, self.codes, self.tokens_schema),
                  self._spans_table(docs, words, spans, span_texts, resolved, failed))
        end = time.perf_counter()
        stats.decode_s += end - td - stats.resolve_s - stats.score_s
        stats.total_s = end - t0
        return ChunkResult(*tables, metrics, stats, len(docs))

    def _try_window_length(self) -> None:
        """A --max-length above the card's may pass the graph's position embeddings, which only a
        model call finds; make that call once here, before any output exists, not mid-run."""
        from .model.infer import _quiet_fd2

        window = np.full(self.window_length - SPECIAL_TOKENS, self.encoder.sep_id, np.int64)
        try:
            with _quiet_fd2():  # ONNX Runtime logs the failure on stderr itself; the one line below says it
                self.tagger.run(make_batches([window], 1, self.encoder.cls_id, self.encoder.sep_id, self.encoder.pad_id, self.markers)[0])
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

    def _decode_words(self, docs: list[DocInput], plan: dict, logits: np.ndarray, window_row: np.ndarray) -> ChunkWords:
        """Tags and confidences of every word of the chunk's tagged documents, end to end (file words for
        word-per-row input): each word read at its first wordpiece in its best window, all words at once."""
        decoded = [k for k in plan if docs[k].error is None]
        rows, has = [], []
        for k in decoded:
            _, _, w0, bw, bp = plan[k]
            h = bw >= 0
            r = np.zeros(bw.size, np.int64)
            r[h] = window_row[w0 + bw[h]] + bp[h]
            rows.append(r)
            has.append(h)
        cat = lambda parts, dtype: np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)  # noqa: E731
        has_piece = cat(has, bool)
        word_probs = np.zeros((has_piece.size, len(self.labels)), np.float32)
        if has_piece.any():  # softmax of the rows read only, not of every position of every window
            word_probs[has_piece] = softmax(logits[cat(rows, np.int64)[has_piece]])
        tags, conf = word_labels(word_probs, has_piece, self.codes.none)
        model_bounds = np.cumsum([0] + [plan[k][3].size for k in decoded]).tolist()
        if any(docs[k].file_words is not None for k in decoded):  # word-per-row input: back onto the file's words
            t_parts, c_parts = [], []
            for k, a, b in zip(decoded, model_bounds[:-1], model_bounds[1:]):
                t, c = tags[a:b], conf[a:b]
                if docs[k].file_words is not None:
                    t, c = docs[k].file_words.collapse_codes(t, c, self.codes.none)
                    docs[k].words, docs[k].offsets, docs[k].starts = docs[k].file_words.words, docs[k].file_words.offsets, None
                t_parts.append(t)
                c_parts.append(c)
            tags, conf = cat(t_parts, np.int64), cat(c_parts, np.float32)
        for k in decoded:
            docs[k].offset_arrays()
        counts = np.zeros(len(docs) + 1, np.int64)
        counts[1:][decoded] = [len(docs[k].words) for k in decoded]
        return ChunkWords(
            decoded, np.cumsum(counts), np.repeat(np.arange(len(docs)), counts[1:]), tags, conf,
            cat([docs[k].starts for k in decoded], np.int64), cat([docs[k].ends for k in decoded], np.int64))

    def _resolve(self, text: str, spans: list[dict]) -> tuple[list, dict | None]:
        """Resolver results for the place spans; None for the others (a `full` model's per/org spans:
        "Bush" the person must not get the coordinates of a town called Bush); and the document's focus."""
        places = [i for i, s in enumerate(spans) if s["label"] in self.location_labels]
        out: list = [None] * len(spans)
        if self.resolver is None or not places:
            return out, None
        context = [dict(s, context_only=True) for s in spans if s["label"] in self.context_labels]
        got = self.resolver(text, [spans[i] for i in places] + context)
        focus = getattr(got, "focus", None)
        got = list(got)
        if len(got) != len(places) + len(context):
            raise ValueError(f"resolver returned {len(got)} results for {len(places) + len(context)} spans")
        for i, r in zip(places, got):  # a context span's result, if the resolver gave one, is not kept
            out[i] = r
        return out, focus

    def _spans_table(self, docs: list[DocInput], words: ChunkWords, spans: ChunkSpans, texts: list[str], resolved: list,
                     failed: np.ndarray) -> pa.Table:
        keep = ~np.isin(spans.doc, failed) if failed.size else np.ones(spans.doc.size, bool)
        doc = spans.doc[keep]
        first_of_doc = np.searchsorted(doc, doc)  # spans are in document order
        ids = np.array([d.doc_id for d in docs], dtype=object)
        conf, low = spans.confidence[keep].astype(np.float32), spans.confidence_min[keep].astype(np.float32)
        ws, we = spans.word_start[keep], spans.word_end[keep]
        cols = {
            "doc_id": pa.array(ids[doc], pa.string()),
            "span_index": pa.array((np.arange(doc.size) - first_of_doc).astype(np.int32)),
            "start_char": pa.array(words.starts[ws].astype(np.int32)),
            "end_char": pa.array(words.ends[we - 1].astype(np.int32)),
            "text": pa.array([t for t, k in zip(texts, keep.tolist()) if k], pa.string()),
            "label": pa.array(np.array(self.codes.types, dtype=object)[spans.type[keep]] if doc.size else [], pa.string()),
            "confidence": pa.array(conf, pa.float32(), mask=np.isnan(conf)),
            "confidence_min": pa.array(low, pa.float32(), mask=np.isnan(low)),
        }
        kept = [r for r, k in zip(resolved, keep.tolist()) if k]
        for name, typ in RESOLVER_COLUMNS.items():
            cols[name] = pa.array([r.get(name) if r else None for r in kept], typ)
        return pa.table(cols, schema=SPANS_SCHEMA)

