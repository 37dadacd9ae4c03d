"""Parquet part files, written so a reader never sees half of one.

Each part goes to a hidden temporary name in its table directory (`.part-....tmp-<pid>`; Arrow's
dataset discovery skips names starting with '.'), is flushed and fsynced, then `os.replace`d onto
its final name, which depends only on the unit of work (a unit redone after a crash overwrites its
own earlier file instead of adding a second copy), and the directory is fsynced so the rename
survives a power loss before the unit is recorded as finished (`geobatch.io.journal`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import GeobatchError

TABLES = ("docs", "tokens", "spans")
TMP_MARK = ".tmp-"
# the part a table gets when its job has no unit at all (an input of 0 rows): readers still find the
# table with its columns instead of a missing directory
EMPTY_UNIT = "empty"


class WriteError(GeobatchError):
    """OUT_DIR could not be written (disk full, permissions): the job stops, finished units are kept."""

    exit_code = 1


def file_in_the_way(path: str | Path) -> Path | None:
    """The nearest parent of `path` that exists and is a file, not a folder (mkdir's "File exists" does
    not say which part of the path is wrong), or None."""
    return next((d for d in Path(path).parents if d.exists() and not d.is_dir()), None)


def part_name(unit_id: str) -> str:
    return f"part-{unit_id}.parquet"


def fsync_dir(path: str | Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durably(final: Path, write) -> None:
    """Temp name → write → fsync → rename → fsync the directory; no temp file survives a failure."""
    tmp = final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except OSError as e:
        unlink_quietly(tmp)
        raise WriteError(f"cannot write {final}: {e.strerror or e}", "free disk space / fix permissions and rerun: finished units are kept") from None
    except BaseException:
        unlink_quietly(tmp)
        raise
    fsync_dir(final.parent)  # the rename itself must be durable before anything records it as done


def write_atomic_bytes(path: str | Path, data: bytes) -> None:
    """Write a small file (manifest, metrics) atomically."""
    _write_durably(Path(path), lambda f: f.write(data))


def parquet_bytes(table: pa.Table) -> bytes:
    """A part file's content, encoded where the table was made (a --workers process), written by the parent."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def write_part(out_dir: str | Path, table_name: str, unit_id: str, table: pa.Table | bytes) -> str:
    """Write one part file atomically (a table, or its `parquet_bytes`); returns its path relative to out_dir."""
    directory = Path(out_dir) / table_name
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / part_name(unit_id)
    if isinstance(table, bytes):
        _write_durably(final, lambda f: f.write(table))
    else:
        _write_durably(final, lambda f: pq.write_table(table, f, compression="zstd"))
    return f"{table_name}/{final.name}"


def remove_stale(out_dir: str | Path, keep: set[str]) -> list[str]:
    """Remove temporary files and part files that no finished unit owns (left by a killed run). The
    empty part of a job with no unit is its own, not a leftover, while no unit is finished."""
    removed = []
    out = Path(out_dir)
    candidates = [p for p in out.glob(f".*{TMP_MARK}*")]
    for t in TABLES:
        d = out / t
        if d.is_dir():
            candidates += [p for p in d.iterdir() if TMP_MARK in p.name or (
                p.name.startswith("part-") and f"{t}/{p.name}" not in keep and (keep or p.name != part_name(EMPTY_UNIT)))]
    for p in candidates:
        if unlink_quietly(p):
            removed.append(str(p.relative_to(out)))
    return removed


def unlink_quietly(p: str | Path) -> bool:
    try:
        os.unlink(p)
        return True
    except OSError:
        return False
