"""What runs inside Ray workers: the numbering actor, the pipeline actor, and how pieces travel.

`RowNumberer` (one actor, fed in dataset order) gives every row its input's index and its row
number in that input. `PipelineActor` holds one `Pipeline` (one ONNX Runtime session) and runs
`Pipeline.process`, the local engine's per-chunk function, on each run of consecutive rows of one
unit in a batch; each run comes back to the driver as one *piece* row (tables as Arrow IPC bytes,
stats and metric partials as JSON).
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import GeobatchError, InputError
from ..io.corpus import Chunk
from ..io.readers.values import id_value
from ..model.model_dir import REQUIRED_FILES, ModelDir, load_model_dir
from ..pipeline import Pipeline, PipelineOptions
from . import default_resolver

INPUT_COL, ROW_COL, PATH_COL = "__geobatch_input", "__geobatch_row", "path"
BAD_COL = "__geobatch_bad"  # why Ray's reading of a row cannot be used (null when it can)
BAD_ROW_FIX = "fix the file (save it as UTF-8), or run the job with --engine local, which records such a line as one error row"
PIECE_SCHEMA = pa.schema([
    ("unit_id", pa.string()), ("input_index", pa.int32()), ("chunk_index", pa.int64()), ("row_start", pa.int64()),
    ("n_rows", pa.int64()), ("docs", pa.large_binary()), ("tokens", pa.large_binary()), ("spans", pa.large_binary()),
    ("stats", pa.string()), ("metrics", pa.string()), ("provider", pa.string()), ("worker", pa.string()),
    ("started_at", pa.float64()), ("init_s", pa.float64()), ("process_s", pa.float64()), ("serialize_s", pa.float64()),
    ("error", pa.string()),  # JSON {type, problem, fix} of a GeobatchError met on the worker; the rest is null
])


def error_piece(e: GeobatchError, worker: str) -> pa.Table:
    row = {name: [None] for name in PIECE_SCHEMA.names}
    row.update(worker=[worker], n_rows=[0], error=[json.dumps({"type": type(e).__name__, "problem": e.problem, "fix": e.fix})])
    return pa.table(row, schema=PIECE_SCHEMA)


def raise_piece_error(piece: dict) -> None:
    """Re-raise on the driver the GeobatchError a worker met (same class where it is one of ours)."""
    from .. import errors

    err = json.loads(piece["error"])
    cls = getattr(errors, err["type"], None)
    cls = cls if isinstance(cls, type) and issubclass(cls, GeobatchError) else GeobatchError
    raise cls(f"{err['problem']} (on Ray worker {piece['worker']})", err["fix"])


def model_payload(model: ModelDir, ship: bool) -> Any:
    """The MODEL_DIR path (shared filesystem) or its files' bytes, put in the object store once."""
    if not ship:
        return str(model.path)
    import ray

    return [ray.put({name: (model.path / name).read_bytes() for name in REQUIRED_FILES}), model.sha256]


def _materialize_model(payload: Any) -> str:
    if isinstance(payload, str):
        return payload
    import ray

    ref, sha = payload
    files = ray.get(ref)
    d = Path(tempfile.mkdtemp(prefix="geobatch-model-"))
    for name, data in files.items():
        (d / name).write_bytes(data)
    got = load_model_dir(d).sha256
    if got != sha:
        raise GeobatchError(f"the model shipped to a Ray worker has sha256 {got[:12]}…, not {sha[:12]}…", "rerun the job")
    return str(d)


class RowNumberer:
    """Numbers each input's rows from 0 in the order it receives them (one actor, preserve_order).

    Also gives every batch the same columns: the id column as strings (the pipeline's own id
    rendering; null where a file has none), so files with and without ids can share a stream."""

    def __init__(self, keys: dict[str, int], text_column: str, id_column: str | None, spans_column: str | None):
        self.keys = keys
        self.next_row: dict[int, int] = defaultdict(int)
        self.text_column, self.id_column, self.spans_column = text_column, id_column, spans_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        paths = batch.column(PATH_COL).to_pylist()
        bad = _first_invalid_row(batch)
        if bad is not None:  # nothing of this batch is used: the job stops on it (PipelineActor)
            batch = pa.table({PATH_COL: batch.column(PATH_COL)})
        inputs = np.empty(len(paths), np.int32)
        rows = np.empty(len(paths), np.int64)
        for i, p in enumerate(paths):
            n = self.keys.get(p)
            if n is None:
                raise RuntimeError(f"Ray read a file the job did not list: {p}")
            inputs[i] = n
            rows[i] = self.next_row[n]
            self.next_row[n] += 1
        names = batch.schema.names
        # a JSONL block whose lines all lack a column has no such column: null, as the local reader's .get()
        column = lambda c: batch.column(c) if c in names else pa.nulls(len(paths))  # noqa: E731
        cols = {self.text_column: column(self.text_column)}
        if self.id_column:
            cols[self.id_column] = pa.array([id_value(v) for v in column(self.id_column).to_pylist()], pa.string())
        if self.spans_column:
            cols[self.spans_column] = column(self.spans_column)
        cols[INPUT_COL] = pa.array(inputs)
        cols[ROW_COL] = pa.array(rows)
        problem = None
        if bad is not None:  # the local engine makes such a line one error row; Ray's rows cannot say which line
            n, name = bad
            problem = f"{paths[n]}: record {rows[n] + 1} has a {name!r} value that is not valid UTF-8, which Ray's JSON reader does not check"
        cols[BAD_COL] = pa.array([problem] * len(paths), pa.string())
        return pa.table(cols)


def _first_invalid_row(batch: pa.Table) -> tuple[int, str] | None:
    """(row, column) of the first row holding text that is not valid UTF-8. Arrow's JSON reader stores
    such bytes in string columns without checking; converting them to Python then fails mid-job.
    The full check is cheap next to the model; rows are looked at one by one only when it fails."""
    for name in batch.schema.names:
        if name == PATH_COL:
            continue
        col = batch.column(name)
        try:
            col.validate(full=True)
        except pa.ArrowInvalid:
            for i in range(len(col)):
                try:
                    col.slice(i, 1).validate(full=True)
                except pa.ArrowInvalid:
                    return i, name
    return None


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def unit_id(input_index: int, chunk_index: int) -> str:
    return Chunk(input_index, chunk_index, 0, None, 0).unit_id  # the local engine's unit naming


class PipelineActor:
    """One `Pipeline` (one ONNX Runtime session) per actor; `__call__` runs `Pipeline.process` on
    each run of consecutive rows of one unit in the batch and returns one piece row per run.

    A failure to build the pipeline is kept for the first batch (raised in `__init__`, Ray would
    restart the actor again and again). A user error (GeobatchError: a model or provider that does
    not work on this worker) comes back as a piece carrying only `error`, so the driver can say it in
    one line; Ray does not carry an exception's cause across processes."""

    def __init__(self, model: Any, options: PipelineOptions, resolve: bool, chunk_size: int,
                 sources: list[tuple[bool, str]], done_units: frozenset[str], focus_fallback: bool = False):
        self.started_at = time.time()  # when the actor's process got to our code (spawn + imports before it)
        t0 = time.perf_counter()
        self.chunk_size = chunk_size
        self.sources = sources
        self.done = done_units
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.error: BaseException | None = None
        try:
            self.pipe = Pipeline(_materialize_model(model), options, resolver=default_resolver(resolve, focus_fallback))
        except Exception as e:  # noqa: BLE001 - re-raised with the first batch
            self.error = e
        self.init_s = time.perf_counter() - t0
        self.reported_init = False

    def __call__(self, batch: pa.Table) -> pa.Table:
        if isinstance(self.error, GeobatchError):
            return error_piece(self.error, self.worker)
        if self.error is not None:
            raise self.error
        bad = batch.column(BAD_COL).drop_null()
        if len(bad):
            return error_piece(InputError(bad[0].as_py(), BAD_ROW_FIX), self.worker)
        inputs = batch.column(INPUT_COL).to_numpy()
        rows = batch.column(ROW_COL).to_numpy()
        units = rows // self.chunk_size
        n = len(rows)
        cuts = (np.flatnonzero((inputs[1:] != inputs[:-1]) | (units[1:] != units[:-1]) | (rows[1:] != rows[:-1] + 1)) + 1).tolist()
        out: dict[str, list] = {name: [] for name in PIECE_SCHEMA.names}
        for a, b in zip([0, *cuts], [*cuts, n]):
            if a == b:
                continue
            src, chunk = int(inputs[a]), int(units[a])
            uid = unit_id(src, chunk)
            if uid in self.done:
                continue
            has_id, prefix = self.sources[src]
            t0 = time.perf_counter()
            result = self.pipe.process(batch.slice(a, b - a), int(rows[a]), has_id, prefix)
            t1 = time.perf_counter()
            blobs = [to_ipc(t) for t in (result.docs, result.tokens, result.spans)]
            metrics = json.dumps(result.metrics.to_dict()) if result.metrics is not None else None
            t2 = time.perf_counter()
            for k, v in (("unit_id", uid), ("input_index", src), ("chunk_index", chunk), ("row_start", int(rows[a])),
                         ("n_rows", result.input_rows), ("docs", blobs[0]), ("tokens", blobs[1]), ("spans", blobs[2]),
                         ("stats", json.dumps(result.stats.to_dict())), ("metrics", metrics), ("provider", self.pipe.provider),
                         ("worker", self.worker), ("started_at", self.started_at), ("init_s", 0.0 if self.reported_init else self.init_s),
                         ("process_s", t1 - t0), ("serialize_s", t2 - t1), ("error", None)):
                out[k].append(v)
            self.reported_init = True
        return pa.table(out, schema=PIECE_SCHEMA)
