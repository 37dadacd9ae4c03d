"""Worker processes for the local engine (`geobatch run --workers N`): N processes run
`Pipeline.process` on whole units; this process keeps the output protocol.

Why processes: on a GPU host the Python around the model (words, wordpieces, windows, tags, spans,
Arrow) is the bottleneck of one process, and the GIL keeps threads from sharing it out.

How the work is shared:
- Each worker builds its own Pipeline (ONNX Runtime session, tokenizer, resolver) in the child: ORT
  sessions and their thread pools do not survive a fork, and the parent builds no session at all.
  On CPU, workers are forked where that is safe (`start_method`: Linux, no other Python thread, no
  CUDA): the child starts in ~0.1 s with every module imported. Otherwise they are spawned (a fresh
  interpreter, ~1 s of imports each), always for CUDA. A forked child closes the parent's ends of the
  other workers' pipes, so each pipe still closes when the parent dies. The pool starts before the
  lock and journal are opened, so no worker holds their descriptors. The parent waits until every
  worker has loaded the model before it touches OUT_DIR, so a model a worker cannot load stops the
  job with one line and no output, as with one process.
- The parent reads the units (as one process does), sends each to an idle worker over that worker's
  own pipe (no queue shared between workers: a worker killed mid-message breaks only its own pipe)
  and gets back the three part files already encoded as Parquet (`EncodedUnit`: encoding is most of
  writing, so it runs in the workers side by side), the metrics and the stats.
- Only the parent writes: part files, journal, manifest and lock are exactly as with one process,
  and units are committed in the order they were read (results that come back early wait), so the
  journal lists units in the same order too. A worker never writes a byte under OUT_DIR, so one that
  dies leaves its unit unfinished, never half-written; the parent commits what it already received,
  stops the others and says which unit died (`WorkerFailed`, exit 1). A rerun redoes that unit.
- Workers ignore SIGINT: a Ctrl-C reaches the whole process group, and the parent decides. It stops
  the workers (SIGTERM: they only compute, nothing of theirs needs saving) while it unwinds through
  OutputDir, so the run ends with the usual one resume line and exit 130/143. A parent killed with
  SIGKILL closes the pipes; a worker then sees EOF and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait
from typing import Any, Iterator

from ..errors import GeobatchError
from ..evaluate.metrics import MetricsAccumulator
from ..io.write import parquet_bytes
from ..io.tables import ChunkResult, ChunkStats
from ..pipeline import PipelineOptions

READY_TIMEOUT_S = 600.0  # a worker that has not loaded the model by then is taken as hung


class WorkerFailed(GeobatchError):
    """A worker process died or raised while tagging a unit: the job stops, committed units are kept."""

    exit_code = 1


@dataclass
class Task:
    unit_id: str
    records: Any
    row_start: int
    has_id: bool
    id_prefix: str
    info: dict  # what the journal records about the unit (input, rows)


def threads_per_worker(threads: int | None, workers: int, provider: str) -> int | None:
    """ORT intra-op threads of each worker: on CPU the total (--threads, else every core) divided among
    the workers, at least one each; on CUDA the model runs on the GPU, so the user's value (or ORT's)."""
    if provider == "cuda":
        return threads
    total = threads or os.cpu_count() or 1
    return max(1, total // workers)


def start_method(provider: str) -> str:
    """fork where it is safe, else spawn; GEOBATCH_WORKER_START=fork|spawn overrides.

    Safe: Linux, no other Python thread alive (one could hold a lock the child would inherit locked),
    and not CUDA (a CUDA context must never cross a fork; spawn is what CUDA supports). The idle native
    pools that imports start (OpenBLAS, jemalloc, ORT's) hold no Python lock and their libraries
    re-arm themselves in the child; no ORT session exists yet in this process.
    """
    forced = os.environ.get("GEOBATCH_WORKER_START", "")
    if forced in ("fork", "spawn"):
        return forced
    safe = threading.active_count() == 1 and provider != "cuda" and "fork" in mp.get_all_start_methods()
    if provider == "auto":
        from ..model.infer import cuda_usable

        safe = safe and not cuda_usable()
    return "fork" if safe else "spawn"


# -- the child ------------------------------------------------------------------------------------
@dataclass
class EncodedUnit:
    """A unit as a worker returns it: the part files already encoded (Parquet bytes), with what the
    journal line records. The parent only writes the bytes (temp name, fsync, rename) and commits,
    so encoding, the costliest part of writing, runs in the workers side by side."""

    encoded: dict[str, bytes]
    rows: dict[str, int]
    status: dict[str, int]
    stats: ChunkStats
    metrics: MetricsAccumulator | None
    input_rows: int

    def parts(self) -> dict[str, bytes]:
        return self.encoded

    def row_counts(self) -> dict[str, int]:
        return self.rows

    def status_counts(self) -> dict[str, int]:
        return self.status


def encode_result(result: ChunkResult) -> dict:
    t = time.perf_counter()
    parts = {k: parquet_bytes(t) for k, t in result.tables().items()}
    return {"parts": parts, "rows": result.row_counts(), "encode_s": time.perf_counter() - t,
            "status": result.status_counts(), "metrics": result.metrics.to_dict() if result.metrics is not None else None,
            "stats": result.stats.to_dict(), "input_rows": result.input_rows}


def decode_result(msg: dict) -> EncodedUnit:
    metrics = MetricsAccumulator.from_dict(msg["metrics"]) if msg["metrics"] is not None else None
    return EncodedUnit(msg["parts"], msg["rows"], msg["status"], ChunkStats.from_dict(msg["stats"]), metrics, msg["input_rows"])


def worker_main(conn, model: str, options: PipelineOptions, resolve: bool, focus_fallback: bool, parent_ends: list) -> None:
    """A worker's life: build the Pipeline, say ready, then tag each unit it is sent until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a forked child inherits the parent's handler that unwinds a run
    for c in parent_ends:  # forked: without this a pipe would stay open after the parent's death
        c.close()
    from ..pipeline import Pipeline
    from . import default_resolver

    try:
        pipe = Pipeline(model, options, resolver=default_resolver(resolve, focus_fallback))
    except GeobatchError as e:
        _send(conn, ("error", e.problem, e.fix))
        return
    except Exception as e:  # noqa: BLE001 - said by the parent as one line
        _send(conn, ("error", f"a worker could not build the pipeline: {type(e).__name__}: {e}", None))
        return
    if not _send(conn, ("ready", pipe.provider)):
        return
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone: we only compute, nothing to save
            return
        if task is None:
            return
        try:
            reply = ("done", task.unit_id, encode_result(pipe.process(task.records, task.row_start, task.has_id, task.id_prefix)))
        except Exception as e:  # noqa: BLE001 - process() keeps bad rows; anything else stops the job, named
            reply = ("crash", task.unit_id, f"{type(e).__name__}: {e}")
        if not _send(conn, reply):
            return


def _send(conn, msg) -> bool:
    """False when the parent is gone or has stopped listening (it stops the job on another worker's error)."""
    try:
        conn.send(msg)
        return True
    except OSError:
        return False


# -- the parent -----------------------------------------------------------------------------------
@dataclass
class Worker:
    number: int
    process: Any
    conn: Any
    task: Task | None = None
    busy_s: float = 0.0  # seconds between handing out a unit and getting it back
    encode_s: float = 0.0  # of which encoding its Parquet part files (the parent's "write" is the rest of writing)
    given_at: float = 0.0
    units: int = 0


@contextlib.contextmanager
def _sigint_ignored():
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class WorkerPool:
    """N worker processes: `start()` launches them, `wait_ready()` waits until each has its model loaded."""

    n: int
    model: str
    options: PipelineOptions
    resolve: bool
    focus_fallback: bool = False  # the resolver's opt-in focus placement (issue 17)
    workers: list[Worker] = field(default_factory=list)
    provider: str = ""
    startup_s: float = 0.0
    start_method: str = ""
    _started_at: float = 0.0

    def start(self) -> "WorkerPool":
        t0 = time.perf_counter()
        self.start_method = start_method(self.options.provider)
        ctx = mp.get_context(self.start_method)
        for i in range(self.n):
            here, there = ctx.Pipe(duplex=True)
            inherited = [w.conn for w in self.workers] + [here] if self.start_method == "fork" else []
            p = ctx.Process(target=worker_main, args=(there, self.model, self.options, self.resolve, self.focus_fallback, inherited),
                            name=f"geobatch-worker-{i + 1}", daemon=True)
            with _sigint_ignored():  # inherited (across exec too): a Ctrl-C while a spawned child imports prints no traceback
                p.start()
            there.close()
            self.workers.append(Worker(i + 1, p, here))
        self._started_at = t0
        return self

    def wait_ready(self) -> None:
        """Until every worker has its model loaded (the caller can do its own checks meanwhile)."""
        for w in self.workers:
            msg = self._first_message(w)
            if msg[0] == "error":
                raise GeobatchError(msg[1], msg[2])
            self.provider = msg[1]
        self.startup_s = time.perf_counter() - self._started_at

    def _first_message(self, w: Worker):
        ready = wait([w.conn, w.process.sentinel], timeout=READY_TIMEOUT_S)
        if w.conn in ready or w.conn.poll():
            try:
                return w.conn.recv()
            except (EOFError, OSError):
                pass
        w.process.join(1)
        raise WorkerFailed(f"worker {w.number} (pid {w.process.pid}) {_how_it_ended(w.process.exitcode)} while loading the model",
                           "see the lines above; check the model directory and memory, or run with --workers 1")

    def give(self, w: Worker, task: Task) -> None:
        w.task, w.given_at = task, time.perf_counter()
        try:
            w.conn.send(task)
        except OSError:  # it died while idle (its end of the pipe is closed)
            w.process.join(5)
            raise _WorkersDied([], [(w, _how_it_ended(w.process.exitcode))]) from None

    def wait_any(self) -> list[tuple[Task, EncodedUnit]]:
        """Block until at least one busy worker answers; its results. A worker that died or raised: WorkerFailed."""
        busy = [w for w in self.workers if w.task is not None]
        by_handle = {**{w.conn: w for w in busy}, **{w.process.sentinel: w for w in busy}}
        got: list[tuple[Task, EncodedUnit]] = []
        failed: list[tuple[Worker, str]] = []
        for h in wait(list(by_handle)):
            w = by_handle[h]
            if w.task is None or any(f[0] is w for f in failed):
                continue  # both its handles were ready
            try:
                if not w.conn.poll():
                    raise EOFError
                msg = w.conn.recv()
            except (EOFError, OSError):
                w.process.join(5)
                failed.append((w, _how_it_ended(w.process.exitcode)))
                continue
            if msg[0] == "crash":
                failed.append((w, f"raised {msg[2]}"))
                continue
            w.busy_s += time.perf_counter() - w.given_at
            w.encode_s += msg[2]["encode_s"]
            w.units += 1
            got.append((w.task, decode_result(msg[2])))
            w.task = None
        if failed:
            raise _WorkersDied(got, failed)
        return got

    def close(self) -> None:
        """Stop every worker: tell the idle ones, terminate the busy ones (they only compute), reap all."""
        for w in self.workers:
            try:
                if w.task is None and w.process.is_alive():
                    w.conn.send(None)
                else:
                    w.process.terminate()
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.process.join(5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join(1)
            w.conn.close()

    def stats(self) -> dict:
        return {"workers": self.n, "threads_per_worker": self.options.threads, "start_method": self.start_method, "startup_s": self.startup_s,
                "units": [w.units for w in self.workers], "busy_s": [w.busy_s for w in self.workers],
                "encode_s": [w.encode_s for w in self.workers]}


class _WorkersDied(Exception):
    def __init__(self, got, failed):
        super().__init__("worker failed")
        self.got, self.failed = got, failed


def start_pool(n: int, model: str, options: PipelineOptions, resolve: bool, focus_fallback: bool = False) -> WorkerPool:
    o = replace(options, threads=threads_per_worker(options.threads, n, options.provider))
    return WorkerPool(n, model, o, resolve, focus_fallback).start()


def tag_units(pool: WorkerPool, tasks: Iterator[Task], commit) -> float:
    """Hand `tasks` out to the workers and `commit(task, result)` each unit in the order read.

    Returns the seconds spent reading tasks. When a worker dies or raises, the units already returned
    are committed (in reading order; resume does not need them contiguous) before `WorkerFailed`
    names the lost unit.
    """
    order: deque[Task] = deque()  # handed out, not yet committed, in reading order
    back: dict[str, EncodedUnit] = {}
    read_s = 0.0

    def next_task() -> Task | None:
        nonlocal read_s
        t = time.perf_counter()
        task = next(tasks, None)
        read_s += time.perf_counter() - t
        return task

    upcoming = next_task()  # read ahead, so an idle worker never waits for the reader
    try:
        while True:
            for w in pool.workers:  # give idle workers work first: they tag while this process writes
                # at most 2 units a worker outstanding: results waiting for an earlier, slow unit stay bounded in memory
                if w.task is None and upcoming is not None and len(order) < 2 * len(pool.workers):
                    order.append(upcoming)
                    pool.give(w, upcoming)
                    upcoming = next_task()
            while order and order[0].unit_id in back:
                task = order.popleft()
                commit(task, back.pop(task.unit_id))
            if not order:
                if upcoming is None:  # every unit read, handed out and committed
                    return read_s
                continue  # the cap held units back: hand them out now
            for task, result in pool.wait_any():
                back[task.unit_id] = result
    except _WorkersDied as e:
        for task, result in e.got:
            back[task.unit_id] = result
        for task in list(order):  # every whole result, also those behind the lost unit
            if task.unit_id in back:
                commit(task, back.pop(task.unit_id))
        w, how = e.failed[0]
        t = w.task
        where = f"{t.info.get('input')} rows {t.info.get('row_start')}-{t.info.get('row_end', 0) - 1}"
        raise WorkerFailed(
            f"worker {w.number} (pid {w.process.pid}) {how} while tagging unit {t.unit_id} ({where}); that unit is not "
            f"written, the units returned before it are committed",
            "rerun the same command to resume (the unit is redone); if it fails again, check memory (dmesg) or lower "
            "--workers / --chunk-size") from None


__all__ = ["Task", "WorkerFailed", "WorkerPool", "start_pool", "tag_units", "threads_per_worker"]
