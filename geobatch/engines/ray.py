"""Ray Data engine: the same `Pipeline.process` in a pool of Ray actors, one ONNX Runtime session each.

    read (ray.data.read_parquet / read_csv / read_json, include_paths)
      -> number rows      one actor, fed in dataset order (preserve_order): input index + row number
      -> tag              actor pool (--workers, --gpus-per-worker): Pipeline.process per run of rows
      -> commit           driver (ray_commit.py): pieces of a unit -> one ChunkResult -> OutputDir.commit

Why a numbering actor: doc ids fall back to the row number when the id column is absent, and a
unit of work (part file, resume step) is `--chunk-size` rows of one input, exactly as in the local
engine. Ray's readers do not say where a row sits in its file; with `preserve_order` the dataset's
row order is each file's order, so one actor that runs its tasks in submission order
(`allow_out_of_order_execution=False`, not Ray Data's default) numbers them. It does no model work,
so one is enough for many GPUs. The driver checks that each input's row numbers only grow in the
(ordered) stream it receives, so a numbering that did not follow file order stops the job instead
of writing rows under other rows' ids.

Why the driver commits: the commit protocol (lock, atomic part files, manifest, resume) is
`geobatch.io.commit.OutputDir`, shared with the local engine. A Ray batch may hold the end of one
unit and the start of the next, so actors return *pieces* (Arrow IPC bytes) and the driver glues a
unit's pieces in row order before it commits; the part files, unit ids, doc ids and metric
partials are those the local engine writes, and a run can be resumed by either engine.

Word-per-row inputs (gmb, conll) are refused: a document spans many rows, which Ray's row-splitting
readers cannot keep together, and they are evaluation sets that the local engine handles.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import GeobatchError, InputError, first_line
from ..io.commit import MANIFEST, OutputDir
from ..io.inputs import Columns
from ..model.infer import _quiet_fd2
from ..pipeline import Pipeline, PipelineOptions
from ..progress import Progress
from ..stop import keep_sigterm_handler, reports_interruption, sigterm_handler
from . import RunConfig, default_resolver_available
from .local import RunSummary, job_identity
from .ray_commit import UnitAssembler
from .ray_inputs import Source, plan_sources, read_args
from .ray_stages import PATH_COL, PipelineActor, RowNumberer, model_payload
from .summary import finish_run

RAY_FIX = "pip install 'geobatch[ray]'"
# logical CPUs the local instance adds beyond the workers': Ray Data's file listing task takes one,
# the numbering actor and read tasks a fraction (without them the job waits forever for a slot)
SPARE_CPUS = 2
NUMBERER_CPUS = 0.25
READ_CPUS = 0.25


@dataclass
class RayOptions:
    address: str | None = None  # None: start a local Ray instance
    workers: int = 2
    gpus_per_worker: float = 0.0
    cpus_per_worker: float | None = None  # None: --threads, else 1
    object_store_mb: int = 512  # local instance only
    ship_model: bool | None = None  # send MODEL_DIR through the object store; None: when joining a cluster


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise GeobatchError("--engine ray needs Ray Data, which is not installed", RAY_FIX) from None
    _avoid_fsspec_http_race()
    return ray


def _avoid_fsspec_http_race() -> None:
    """Ray Data lists several paths in threads, each importing fsspec's HTTP filesystem to see whether
    a path is HTTP. Without aiohttp that import fails; two threads racing on the half-imported module
    get ImportError instead of ModuleNotFoundError, which Ray does not catch. Marking the module
    missing makes every thread get ModuleNotFoundError."""
    if "fsspec.implementations.http" in sys.modules:
        return
    try:
        import fsspec.implementations.http  # noqa: F401
    except ModuleNotFoundError:
        sys.modules["fsspec.implementations.http"] = None  # type: ignore[assignment]
    except ImportError:
        pass


# -- Ray session ----------------------------------------------------------------------------
def cpus_per_worker(opts: RayOptions, pipeline: PipelineOptions) -> float:
    return float(opts.cpus_per_worker or pipeline.threads or 1)


@dataclass
class RaySession:
    started: bool  # we started (or connected) and must shut down
    startup_s: float
    address: str


def start_ray(opts: RayOptions, pipeline: PipelineOptions, quiet: bool = True) -> RaySession:
    """Join `opts.address`, or start a quiet local instance sized for the workers. Reuses a running session."""
    ray = import_ray()
    # execution notices, and error reports of failures that reach the caller anyway (as a GeobatchError,
    # or as Ray's exception with the worker's traceback); our Progress shows progress
    logging.getLogger("ray.data").setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    if ray.is_initialized():
        return RaySession(False, 0.0, "existing session")
    ray_logger = logging.getLogger("ray")
    level = ray_logger.level
    ray_logger.setLevel(logging.ERROR)  # ray.init's notices (auth token, local instance started)
    try:
        if opts.address:
            ray.init(address=opts.address, log_to_driver=False, logging_level=logging.ERROR)
        else:
            # the driver's C++ core prints an error-level notice per actor whose constructor arguments sit
            # in the object store (Ray Data puts every UDF's there); our own instance stays quiet
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
            with _quiet_fd2():  # ...which itself announces the level it read, on stderr
                ray.init(
                    num_cpus=int(np.ceil(opts.workers * cpus_per_worker(opts, pipeline))) + SPARE_CPUS,
                    include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                    object_store_memory=opts.object_store_mb << 20,
                )
    except ConnectionError as e:
        raise GeobatchError(f"cannot join the Ray cluster at {opts.address}: {e}", "check --address (ray://HOST:10001 or HOST:6379) and that the cluster is up") from None
    finally:
        ray_logger.setLevel(level)
    return RaySession(True, time.perf_counter() - t0, opts.address or "local")


def _check_resources(ray, opts: RayOptions, pipeline: PipelineOptions) -> None:
    """A pool that cannot be placed makes Ray Data wait forever: say so instead."""
    res = ray.cluster_resources()
    need_cpu = opts.workers * cpus_per_worker(opts, pipeline) + NUMBERER_CPUS + 1
    if res.get("CPU", 0) < need_cpu:
        raise GeobatchError(
            f"the Ray cluster has {res.get('CPU', 0):g} CPUs; {opts.workers} workers x {cpus_per_worker(opts, pipeline):g} CPUs "
            f"plus reading and numbering need {need_cpu:g}", "lower --workers / --threads or add nodes")
    if opts.gpus_per_worker and res.get("GPU", 0) < opts.workers * opts.gpus_per_worker:
        raise GeobatchError(
            f"the Ray cluster has {res.get('GPU', 0):g} GPUs; {opts.workers} workers x --gpus-per-worker {opts.gpus_per_worker:g} "
            f"need {opts.workers * opts.gpus_per_worker:g}", "lower --workers or --gpus-per-worker, or join a cluster with GPUs (--address)")


# -- driver side: read, schedule, reassemble, commit -----------------------------------------------
def _csv_args(cols: Columns) -> dict:
    """The local engine's CSV options (geobatch.io.corpus.open_csv): wanted columns as binary, decoded
    per row so one bad byte sequence marks one row; quoted newlines allowed."""
    import pyarrow.csv as pcsv

    wanted = [c for c in (cols.text, cols.id, cols.spans) if c]
    return {
        "parse_options": pcsv.ParseOptions(newlines_in_values=True),
        "convert_options": pcsv.ConvertOptions(column_types={c: pa.binary() for c in wanted}, include_columns=wanted,
                                               include_missing_columns=True),
    }


def build_dataset(sources: list[Source], cols: Columns):
    """One Ray Data read over every input, in input order (one format per run). A Parquet file
    without the id column reads as nulls there, CSV likewise (include_missing_columns); the
    numbering actor ignores ids of files that have none (has_id is per file)."""
    import ray.data as rd

    paths = [s.inp.path for s in sources if not s.no_rows]
    fmt = sources[0].inp.format
    if fmt == "parquet":
        wanted = [c for c in (cols.text, cols.spans) if c] + ([cols.id] if any(s.info.has_id for s in sources) else [])
        return rd.read_parquet(paths, include_paths=True, num_cpus=READ_CPUS).select_columns([*wanted, PATH_COL])
    if fmt == "csv":
        return rd.read_csv(paths, include_paths=True, num_cpus=READ_CPUS, **_csv_args(cols), **read_args(sources))
    return rd.read_json(paths, include_paths=True, num_cpus=READ_CPUS, file_extensions=None, **read_args(sources))


def tagged_dataset(sources: list[Source], cols: Columns, config: RunConfig, o: PipelineOptions, opts: RayOptions,
                   model, done: frozenset[str]):
    """read -> RowNumberer (one actor) -> PipelineActor pool: a dataset of pieces."""
    import ray.data as rd

    ds = build_dataset(sources, cols)
    with warnings.catch_warnings():
        # Ray 2.60 flags every extra remote argument as deprecated, yet documents map_batches(...,
        # max_restarts=0) as the way to turn actor restarts off; there is no named parameter for it
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
        ds = ds.map_batches(
            RowNumberer, batch_format="pyarrow", batch_size=None, num_cpus=NUMBERER_CPUS,
            compute=rd.ActorPoolStrategy(size=1),
            # a restarted or retried numberer would count rows again from where it stopped: fail instead,
            # and let the rerun resume from the committed units
            max_restarts=0, max_task_retries=0,
            # Ray Data lets actor tasks run out of order by default (an actor need not wait for a task whose
            # block is late) and only reorders their *outputs*; rows would then be numbered in the order the
            # blocks arrived, not in file order. Submission order is dataset order (preserve_order)
            allow_out_of_order_execution=False,
            fn_constructor_kwargs={"keys": {s.key: s.index for s in sources}, "text_column": cols.text,
                                   "id_column": cols.id, "spans_column": cols.spans},
        )
    # an actor task takes whole blocks: blocks of one unit's size spread the work over the actors
    # (a small corpus is one block otherwise) and keep each task's output small
    ds = ds.repartition(target_num_rows_per_block=config.chunk_size)
    return ds.map_batches(
        PipelineActor, batch_format="pyarrow", batch_size=config.chunk_size,
        # two batches queued per actor keep it busy without piling the tail of the corpus onto one actor
        compute=rd.ActorPoolStrategy(size=opts.workers, max_tasks_in_flight_per_actor=2),
        num_cpus=cpus_per_worker(opts, o), num_gpus=opts.gpus_per_worker or None,
        fn_constructor_kwargs={
            "model": model_payload(model, opts.ship_model if opts.ship_model is not None else bool(opts.address)),
            "options": o, "resolve": config.resolve, "focus_fallback": config.focus_fallback, "chunk_size": config.chunk_size,
            "sources": [(s.info.use_ids, s.prefix) for s in sources], "done_units": done,
        },
    )


def _unwrap(e: BaseException) -> BaseException:
    """The GeobatchError inside a Ray task error, if any (e.g. --provider cuda on a worker without CUDA)."""
    seen = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, GeobatchError):
            return x
        stack += [getattr(x, "cause", None), x.__cause__, x.__context__]
    return e


def run_ray(config: RunConfig, opts: RayOptions | None = None) -> RunSummary:
    opts = opts or RayOptions()
    if opts.workers < 1:
        raise GeobatchError("--workers must be at least 1", "pass a positive number of Ray workers")
    if opts.gpus_per_worker < 0:
        raise GeobatchError("--gpus-per-worker cannot be negative", "pass 0 (CPU), a fraction such as 0.5, or a whole number")
    t0 = time.perf_counter()
    say = (lambda *a, **k: None) if config.quiet else (lambda msg: print(msg, file=sys.stderr))
    ray = import_ray()
    model, sources, cols = plan_sources(config, say)
    o = replace(config.pipeline)
    if o.threads is None:  # ORT's default takes every core of the node, once per actor
        o.threads = max(1, int(cpus_per_worker(opts, o)))
    if opts.gpus_per_worker and o.provider == "auto":
        # GPUs reserved for a worker that quietly falls back to CPU would be wasted: fail loudly instead
        o.provider = "cuda"
    resolve_planned = config.resolve and default_resolver_available()
    # built on the driver only to validate options and name the job; no session, no resolver index
    checker = Pipeline(model, o, resolver=(lambda text, spans: []) if resolve_planned else None, tagger=_NoSession())
    identity = job_identity(config, model, [s.inp for s in sources], checker)
    ours = sigterm_handler()
    session = start_ray(opts, o, config.quiet)
    keep_sigterm_handler(ours)  # ray.init replaced it
    total_rows = sum(s.info.rows for s in sources) if all(s.info.rows is not None for s in sources) else None
    progress = Progress(enabled=False if config.quiet else config.progress, total_rows=total_rows)
    ray_stats: dict[str, Any] = {"address": session.address, "workers": opts.workers, "gpus_per_worker": opts.gpus_per_worker,
                                 "cpus_per_worker": cpus_per_worker(opts, o), "threads_per_worker": o.threads,
                                 "startup_s": session.startup_s}
    import ray.data as rd

    ctx = rd.DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    existed = os.path.exists(config.output)
    try:
        _check_resources(ray, opts, o)
        ctx.execution_options.preserve_order = True  # the numbering actor relies on it
        ctx.enable_progress_bars = False
        with reports_interruption(config.output), OutputDir.open(config.output, identity, model.card, config.overwrite) as out:
            try:
                assembler = execute(out, sources, cols, config, o, opts, model, progress, ray_stats)
                summary, report, text = _finish(config, out, assembler, ray_stats, time.perf_counter() - t0, sources, say)
            except BaseException:
                _forget_if_nothing_committed(out, existed)
                raise
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved
        if session.started:
            ray.shutdown()
    return RunSummary(summary["exit_code"], summary, report, text)


def execute(out: OutputDir, sources: list[Source], cols: Columns, config: RunConfig, o: PipelineOptions, opts: RayOptions,
            model, progress: Progress, ray_stats: dict) -> "UnitAssembler":
    """Run the dataset and commit every unit as its pieces come back; timings go into `ray_stats`."""
    done = frozenset(out.units)
    for u in out.units.values():
        progress.skip(u["input_rows"])
    t_exec, exec_at = time.perf_counter(), time.time()
    # inputs with no rows (a CSV header alone) have no units, as in the local engine; nothing to read when all are
    ds = tagged_dataset(sources, cols, config, o, opts, model, done) if not all(s.no_rows for s in sources) else None
    assembler = UnitAssembler(out, sources, config.chunk_size, progress)
    first = None
    try:
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None, prefetch_batches=1) if ds is not None else ():
            if first is None and batch.num_rows:
                first = time.perf_counter() - t_exec
            for piece in batch.to_pylist():
                assembler.add(piece)
        assembler.finish()
    except Exception as e:  # noqa: BLE001 - a user error raised in a worker is still one line
        inner = _unwrap(e)
        if inner is not e:
            raise inner from None
        cause = getattr(e, "cause", None)
        which = sources[0].inp.path if len(sources) == 1 else f"one of the {len(sources)} inputs"
        if isinstance(cause, (pa.ArrowInvalid, json.JSONDecodeError, UnicodeDecodeError)):
            raise InputError(
                f"Ray could not read {which}: {type(cause).__name__}: {first_line(cause)}",
                "fix the file (a JSONL line must be one JSON object, a column one type throughout), "
                "or run it with --engine local, which records a bad line as one error row",
            ) from None
        if isinstance(cause, (OSError, EOFError)):  # a gzip cut short, a file that went away mid-job
            raise InputError(
                f"Ray could not read {which}: {type(cause).__name__}: {first_line(cause)}",
                "repair or replace the file (it may be truncated), then rerun; --engine local names the file and the row "
                "where it stops",
            ) from None
        raise
    finally:
        progress.close()
    ray_stats.update({
        "execution_s": time.perf_counter() - t_exec, "first_piece_s": first, "commit_s": assembler.commit_s,
        # per actor: seconds from the start of execution until its process reached our code
        "actor_start_delay_s": sorted(w["started_at"] - exec_at for w in assembler.workers.values()),
        "actors": assembler.workers,
    })
    return assembler


def _forget_if_nothing_committed(out: OutputDir, existed: bool) -> None:
    """A job that failed before its first unit (e.g. --provider cuda on a worker without CUDA, found only
    there) leaves OUT_DIR as it found it, as the local engine does by checking before it opens OUT_DIR."""
    if out.units or len(out.manifest.get("sessions", [])) > 1:
        return  # something was committed, now or in an earlier session: keep it for resume
    (out.path / MANIFEST).unlink(missing_ok=True)  # still under our lock
    out.close()
    if not existed:
        try:
            out.path.rmdir()
        except OSError:
            pass


class _NoSession:
    """Stands in for the ONNX session in the driver's option-checking Pipeline (the workers open theirs)."""

    provider = "none (driver)"


def _finish(config: RunConfig, out: OutputDir, asm: "UnitAssembler", ray_stats: dict, wall: float,
            sources: list[Source], say) -> tuple[dict, dict | None, str]:
    """The local engine's summary and closing paragraph, plus the Ray figures; reading happens inside
    Ray (not timed), writing is the driver's commits."""
    workers = ray_stats["workers"]
    settings = out.manifest["job"]["settings"]
    return finish_run(
        config, out, provider=", ".join(sorted(asm.providers)) or "none (nothing left to do)",
        inputs_read=[s.inp.path for s in sources], session_stats=asm.session_stats, wall=wall,
        max_length=settings["max_length"], stride=settings["stride"], read_s=None, write_s=asm.commit_s, say=say,
        engine="ray", extra={"ray": ray_stats},
        headline=f"geobatch run (ray, {workers} worker{'s' if workers != 1 else ''})",
        rate_note=f"; Ray startup {ray_stats['startup_s']:.1f} s")


__all__ = ["RayOptions", "run_ray", "start_ray", "PipelineActor", "RowNumberer", "import_ray"]
