"""Streaming local engine: read chunk -> Pipeline.process -> commit, one chunk in memory at a time
(with --workers N: N chunks being tagged in worker processes, engines/workers.py).

Order of work, so that a bad input or model never leaves a half-written OUT_DIR: load the model,
open every input's header/footer, build the pipeline, and only then lock and open OUT_DIR.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from ..errors import GeobatchError
from ..io.check import check_input
from ..io.commit import OutputDir
from ..io.corpus import iter_chunks
from ..io.inputs import Columns, id_prefixes, resolve_inputs
from ..model.model_dir import load_model_dir
from ..io.tables import ChunkStats
from ..pipeline import Pipeline
from ..progress import Progress
from ..stop import reports_interruption
from . import RunConfig, default_resolver, default_resolver_available
from .summary import finish_run
from .workers import Task


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
            "convention": pipeline.convention,  # the model card's annotation convention followed (None: it has none)
            # a resumed job must not mix spans placed at their focus with spans left null
            "focus_fallback": pipeline.resolver is not None and config.focus_fallback,
        },
    }


def prepare(config: RunConfig, note=print):
    """Validate everything that can stop the job, before OUT_DIR is touched."""
    model = load_model_dir(config.model)
    inputs = resolve_inputs(config.inputs, config.format, config.output)
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
    """One process (`config.workers` 1), or N worker processes that tag while this one reads and commits."""
    t0 = time.perf_counter()
    say = (lambda *a, **k: None) if config.quiet else (lambda msg: print(msg, file=sys.stderr))
    if config.workers < 1:
        raise GeobatchError("--workers must be at least 1", "pass a positive number of worker processes")
    model, inputs, infos, cols = prepare(config, say)
    pool = None
    try:
        if config.workers > 1 and pipeline is None:
            from .workers import start_pool

            pool = start_pool(config.workers, config.model, config.pipeline, config.resolve, config.focus_fallback)
            # built here (while the workers load the model) only to check the options and name the job
            resolver = (lambda text, spans: []) if config.resolve and default_resolver_available() else None
            pipe = Pipeline(model, config.pipeline, resolver=resolver, tagger=_Workers(pool))
            pool.wait_ready()  # before OUT_DIR: a worker that cannot load the model stops the job here
        else:
            pipe = pipeline or Pipeline(model, config.pipeline, resolver=default_resolver(config.resolve, config.focus_fallback))
        return _run(config, t0, say, model, inputs, infos, cols, pipe, pool)
    finally:
        if pool is not None:
            pool.close()


def _run(config: RunConfig, t0: float, say, model, inputs, infos, cols, pipe: Pipeline, pool) -> RunSummary:
    identity = job_identity(config, model, inputs, pipe)
    total_rows = sum(i.rows for i in infos) if all(i.rows is not None for i in infos) else None
    progress = Progress(enabled=False if config.quiet else config.progress, total_rows=total_rows)
    done = _Committed()
    with reports_interruption(config.output), OutputDir.open(config.output, identity, model.card, config.overwrite) as out:

        def tasks():
            for n, (inp, info, prefix) in enumerate(zip(inputs, infos, id_prefixes(inputs, infos))):
                for chunk in iter_chunks(inp, n, config.chunk_size, cols):
                    if out.done(chunk.unit_id):
                        progress.skip(chunk.n_rows)
                        continue
                    yield Task(chunk.unit_id, chunk.records, chunk.row_start, info.use_ids, prefix, {
                        "input": inp.path, "input_index": n, "chunk_index": chunk.index,
                        "row_start": chunk.row_start, "row_end": chunk.row_start + chunk.n_rows})

        def commit(task: Task, result) -> None:
            tw = time.perf_counter()
            out.commit(task.unit_id, result, task.info)
            done.write_s += time.perf_counter() - tw
            done.stats = result.stats if done.stats is None else done.stats.merge(result.stats)
            progress.update(result.stats.docs, result.stats.real_tokens)

        try:
            if pool is not None:
                from .workers import tag_units

                read_s = tag_units(pool, tasks(), commit)
            else:
                read_s = 0.0  # this session's seconds reading chunks
                todo = tasks()
                while True:
                    tr = time.perf_counter()
                    task = next(todo, None)
                    read_s += time.perf_counter() - tr
                    if task is None:
                        break
                    commit(task, pipe.process(task.records, task.row_start, task.has_id, task.id_prefix))
        finally:
            progress.close()
        n = config.workers if pool is not None else 1
        summary, report, text = finish_run(
            config, out, provider=pipe.provider, inputs_read=[i.path for i in inputs], session_stats=done.stats,
            wall=time.perf_counter() - t0, max_length=pipe.max_length, stride=pipe.stride,
            read_s=read_s, write_s=done.write_s, say=say,
            **({"extra": {"workers": pool.stats()}, "headline": f"geobatch run ({n} workers)"} if pool is not None else {}))
    return RunSummary(summary["exit_code"], summary, report, text)


@dataclass
class _Committed:
    stats: ChunkStats | None = None  # this session's, merged over its units (stage seconds summed over workers)
    write_s: float = 0.0  # seconds committing part files


class _Workers:
    """Stands in for the ONNX session in the parent's option-checking Pipeline (the workers hold theirs)."""

    def __init__(self, pool):
        self.pool = pool

    @property
    def provider(self) -> str:
        return self.pool.provider

    def run(self, batch):  # the window-length probe already ran in every worker
        return None
