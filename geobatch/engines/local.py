"""Streaming local engine: read chunk -> Pipeline.process -> commit, one chunk in memory at a time.

Order of work, so that a bad input or model never leaves a half-written OUT_DIR: load the model,
open every input's header/footer, build the pipeline, and only then lock and open OUT_DIR.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..commit import OutputDir
from ..corpus import Columns, check_input, iter_chunks, resolve_inputs
from ..metrics import format_report
from ..model_dir import load_model_dir
from ..pipeline import Pipeline
from ..progress import Progress
from . import RunConfig, default_resolver


@dataclass
class RunSummary:
    exit_code: int
    manifest: dict
    metrics: dict | None
    text: str


def job_identity(config: RunConfig, model, inputs, pipeline: Pipeline) -> dict:
    o = config.pipeline
    return {
        "model_sha256": model.sha256,
        "inputs": [i.identity() for i in inputs],
        "settings": {
            "text_column": o.text_column, "id_column": o.id_column, "spans_column": o.spans_column,
            "span_label": o.span_label, "max_length": pipeline.max_length, "stride": pipeline.stride,
            "chunk_size": config.chunk_size, "location_labels": sorted(o.location_labels),
            "resolve": pipeline.resolver is not None, "with_gold": o.with_gold,
        },
    }


def prepare(config: RunConfig, note=print):
    """Validate everything that can stop the job, before OUT_DIR is touched."""
    model = load_model_dir(config.model)
    inputs = resolve_inputs(config.inputs, config.format)
    o = config.pipeline
    cols = Columns(o.text_column, o.id_column, o.spans_column)
    infos = [check_input(i, cols) for i in inputs]
    if o.id_column:
        no_id = [i for i, info in zip(inputs, infos) if not info.has_id]
        if no_id:
            note(f"note: no id column {o.id_column!r} in {no_id[0].path}" + (f" and {len(no_id) - 1} more input(s)" if len(no_id) > 1 else "")
                 + "; doc_id is the row number" + (" prefixed with the file name" if len(inputs) > 1 else ""))
    if any(i.format in ("gmb", "conll") for i in inputs) or o.spans_column:
        o.with_gold = True
    return model, inputs, infos, cols


def run_local(config: RunConfig, pipeline: Pipeline | None = None) -> RunSummary:
    t0 = time.perf_counter()
    say = (lambda *a, **k: None) if config.quiet else (lambda msg: print(msg, file=sys.stderr))
    model, inputs, infos, cols = prepare(config, say)
    pipe = pipeline or Pipeline(model, config.pipeline, resolver=default_resolver(config.resolve))
    identity = job_identity(config, model, inputs, pipe)
    total_rows = sum(i.rows for i in infos) if all(i.rows is not None for i in infos) else None
    progress = Progress(enabled=False if config.quiet else config.progress, total_rows=total_rows)
    session_stats = None
    read_s = write_s = 0.0  # this session's seconds reading chunks and committing part files
    with OutputDir.open(config.output, identity, model.card, config.overwrite) as out:
        try:
            for n, (inp, info) in enumerate(zip(inputs, infos)):
                prefix = f"{Path(inp.path).name}:" if len(inputs) > 1 and not info.has_id else ""
                chunks = iter_chunks(inp, n, config.chunk_size, cols)
                while True:
                    tr = time.perf_counter()
                    chunk = next(chunks, None)
                    read_s += time.perf_counter() - tr
                    if chunk is None:
                        break
                    if out.done(chunk.unit_id):
                        progress.skip(chunk.n_rows)
                        continue
                    result = pipe.process(chunk.records, chunk.row_start, info.use_ids, prefix)
                    tw = time.perf_counter()
                    out.commit(chunk.unit_id, result, {
                        "input": inp.path, "input_index": n, "chunk_index": chunk.index,
                        "row_start": chunk.row_start, "row_end": chunk.row_start + chunk.n_rows,
                    })
                    write_s += time.perf_counter() - tw
                    session_stats = result.stats if session_stats is None else session_stats.merge(result.stats)
                    progress.update(result.stats.docs, result.stats.real_tokens)
        finally:
            progress.close()
        wall = time.perf_counter() - t0
        totals = out.totals()
        acc = out.merged_metrics()
        report = acc.report() if acc is not None else None
        st = totals["stats"]
        errors = totals["status"]["error"]
        error_rate = errors / totals["input_rows"] if totals["input_rows"] else 0.0
        exit_code = 1 if error_rate > config.max_error_rate else 0
        dups = out.duplicate_ids()
        if dups["duplicate_rows"]:
            say(f"warning: {dups['duplicate_rows']:,} rows repeat an earlier doc_id ({dups['duplicated_ids']:,} ids occur more than once, "
                f"e.g. {', '.join(map(repr, dups['examples']))}); all rows are kept, so join on doc_id with care "
                f"or pass --id-column naming a unique column")
        ss = session_stats
        summary = {
            "provider": pipe.provider,
            "inputs_read": [i.path for i in inputs],
            "input_rows": totals["input_rows"],
            "rows": totals["rows"],
            "status": totals["status"],
            "reconciled": totals["reconciled"],
            "duplicate_ids": dups,
            "error_rate": error_rate,
            "max_error_rate": config.max_error_rate,
            "exit_code": exit_code,
            "finished_units": len(out.units),
            "wall_time_s": wall,
            "docs_this_session": ss.docs if ss else 0,
            "docs_per_s": (ss.docs / wall) if ss else 0.0,
            "real_tokens_per_s": (ss.real_tokens / wall) if ss else 0.0,
            "padding_fraction": (1 - st.real_tokens / st.padded_slots) if st.padded_slots else 0.0,
            "windows": st.windows,
            "real_tokens": st.real_tokens,
            "batch_slots": st.padded_slots,
            "max_length": pipe.max_length,
            "stride": pipe.stride,
            "batch_size": config.pipeline.batch_size,
            "chunk_size": config.chunk_size,
            "stage_seconds": {"read": read_s, **({k[:-2]: getattr(ss, k) for k in ("prepare_s", "tokenize_s", "infer_s", "decode_s",
                                                                                    "resolve_s", "score_s")} if ss else {}),
                              "write": write_s},
        }
        out.session_summary = summary
        out.manifest["sessions"][-1].update({"wall_time_s": wall, "docs": summary["docs_this_session"]})
        out.finish(summary, report)
    text = (
        f"geobatch run: {summary['input_rows']:,} input rows -> {totals['rows']['docs']:,} docs "
        f"({totals['status']['ok']:,} ok, {totals['status']['empty']:,} empty, {errors:,} error), "
        f"{totals['rows']['tokens']:,} tokens, {totals['rows']['spans']:,} spans in {config.output}. "
        f"This session processed {summary['docs_this_session']:,} docs in {wall:.1f} s "
        f"({summary['docs_per_s']:,.1f} docs/s, {summary['real_tokens_per_s']:,.0f} real tokens/s) on {pipe.provider}; "
        f"padding {100 * summary['padding_fraction']:.1f}% of {st.windows:,} windows."
        + (f" {dups['duplicate_rows']:,} rows repeat an earlier doc_id (kept)." if dups["duplicate_rows"] else "")
        + (f" {errors:,} rows errored (rate {error_rate:.4f} > --max-error-rate {config.max_error_rate}): exit 1." if exit_code else "")
    )
    if report is not None:
        text += "\n" + format_report(report)
    return RunSummary(exit_code, summary, report, text)
