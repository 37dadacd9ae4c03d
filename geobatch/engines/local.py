"""Streaming local engine: read chunk -> Pipeline.process -> commit, one chunk in memory at a time.

Order of work, so that a bad input or model never leaves a half-written OUT_DIR: load the model,
open every input's header/footer, build the pipeline, and only then lock and open OUT_DIR.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from ..commit import OutputDir
from ..corpus import Columns, check_input, id_prefixes, iter_chunks, resolve_inputs
from ..model_dir import load_model_dir
from ..pipeline import Pipeline
from ..progress import Progress
from ..stop import reports_interruption
from . import RunConfig, default_resolver
from .summary import finish_run


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
            "chunk_size": config.chunk_size, "location_labels": sorted(pipeline.location_labels),
            "resolve": pipeline.resolver is not None, "with_gold": o.with_gold,
            # a resumed job must not mix spans placed at their focus with spans left null
            "focus_fallback": pipeline.resolver is not None and config.focus_fallback,
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
    pipe = pipeline or Pipeline(model, config.pipeline, resolver=default_resolver(config.resolve, config.focus_fallback))
    identity = job_identity(config, model, inputs, pipe)
    total_rows = sum(i.rows for i in infos) if all(i.rows is not None for i in infos) else None
    progress = Progress(enabled=False if config.quiet else config.progress, total_rows=total_rows)
    session_stats = None
    read_s = write_s = 0.0  # this session's seconds reading chunks and committing part files
    with reports_interruption(config.output), OutputDir.open(config.output, identity, model.card, config.overwrite) as out:
        try:
            for n, (inp, info, prefix) in enumerate(zip(inputs, infos, id_prefixes(inputs, infos))):
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
        summary, report, text = finish_run(
            config, out, provider=pipe.provider, inputs_read=[i.path for i in inputs], session_stats=session_stats,
            wall=time.perf_counter() - t0, max_length=pipe.max_length, stride=pipe.stride,
            read_s=read_s, write_s=write_s, say=say)
    return RunSummary(summary["exit_code"], summary, report, text)
