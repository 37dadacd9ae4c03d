"""The output commit protocol: a lock, a manifest of finished units, resume.

OUT_DIR/
  .geobatch.lock        {"pid", "host", "create_time"}: one writer at a time
  manifest.json         job identity, model card, finished units with their parts and row counts
  docs/ tokens/ spans/  part-<unit>.parquet, one per finished unit and table
  metrics.json          when gold labels were present

A unit (one chunk of one input) is finished once the manifest, rewritten atomically after its part
files were renamed into place, lists it. A rerun with the same job identity (model sha256, inputs,
output-shaping settings) skips finished units and removes temporary files and part files no
finished unit owns; a different identity is refused unless `overwrite`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from .errors import GeobatchError
from .metrics import MetricsAccumulator
from .pipeline import ChunkResult, ChunkStats
from .write import TABLES, WriteError, remove_stale, write_atomic_bytes, write_part

MANIFEST = "manifest.json"
METRICS = "metrics.json"
LOCK = ".geobatch.lock"
FORMAT_VERSION = 1


def _process_alive(pid: int, create_time: float | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        # a recycled pid belongs to a process started later than the lock's owner
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


class OutputLock:
    """An exclusive lock file; broken only when its owner (same host, pid gone) is dead."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK
        self.held = False

    def acquire(self) -> None:
        import psutil

        me = {"pid": os.getpid(), "host": socket.gethostname(), "create_time": psutil.Process().create_time(), "since": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    # unreadable: a writer between create and write, or garbage; give it a moment
                    time.sleep(0.2)
                    owner = self._owner()
                if owner is not None and owner.get("host") != me["host"]:
                    raise GeobatchError(
                        f"{self.path.parent} is locked by pid {owner.get('pid')} on host {owner.get('host')}",
                        f"wait for that job, or delete {self.path} if it is certainly dead",
                    )
                if owner is not None and _process_alive(int(owner.get("pid", -1)), owner.get("create_time")):
                    raise GeobatchError(
                        f"{self.path.parent} is being written by another geobatch process (pid {owner['pid']})",
                        "wait for it to finish or choose another --output",
                    )
                try:  # owner gone: break the lock
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
                f.flush()
                os.fsync(f.fileno())
            self.held = True
            return
        raise GeobatchError(f"cannot take the lock {self.path}", "another process keeps taking it; retry later")

    def _owner(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) and "pid" in data else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.held = False


def _identity_diff(old: dict, new: dict) -> list[str]:
    out = []
    if old.get("model_sha256") != new.get("model_sha256"):
        out.append(f"model sha256 {str(old.get('model_sha256'))[:12]}… vs {str(new.get('model_sha256'))[:12]}…")
    if old.get("inputs") != new.get("inputs"):
        out.append("the inputs differ (paths, sizes or modification times)")
    if old.get("settings") != new.get("settings"):
        keys = sorted(k for k in set(old.get("settings", {})) | set(new.get("settings", {}))
                      if old.get("settings", {}).get(k) != new.get("settings", {}).get(k))
        out.append(f"settings differ ({', '.join(keys)})")
    return out


class OutputDir:
    """Open with `OutputDir.open(...)`; `done(unit)`, `commit(unit, result, info)`, `finish(...)`, `close()`."""

    def __init__(self, path: Path, manifest: dict, lock: OutputLock, removed: list[str]):
        self.path = path
        self.manifest = manifest
        self.lock = lock
        self.removed_stale = removed

    @classmethod
    def open(cls, out_dir: str | Path, identity: dict, model_card: dict, overwrite: bool = False) -> "OutputDir":
        path = Path(out_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GeobatchError(f"cannot create output directory {path}: {e.strerror}", "choose a writable --output") from None
        if not os.access(path, os.W_OK):
            raise GeobatchError(f"output directory {path} is not writable", "choose a writable --output")
        lock = OutputLock(path)
        lock.acquire()
        try:
            manifest = cls._load(path)
            if manifest is not None and not overwrite:
                diff = _identity_diff(manifest.get("job", {}), identity)
                if diff:
                    raise GeobatchError(
                        f"{path} holds the output of a different job: {'; '.join(diff)}",
                        "pass --overwrite to replace it, or choose another --output",
                    )
            elif manifest is None and not overwrite and any((path / t).exists() for t in TABLES):
                raise GeobatchError(f"{path} has docs/tokens/spans but no {MANIFEST}", "pass --overwrite to replace them, or choose another --output")
            if overwrite:
                for t in TABLES:
                    shutil.rmtree(path / t, ignore_errors=True)
                for f in (MANIFEST, METRICS):
                    (path / f).unlink(missing_ok=True)
                manifest = None
            resumed = manifest is not None
            if manifest is None:
                manifest = {"format_version": FORMAT_VERSION, "job": identity, "model_card": model_card, "units": {}, "sessions": []}
            manifest["complete"] = False
            keep = {p for u in manifest["units"].values() for p in u["parts"].values()}
            removed = remove_stale(path, keep)
            manifest["sessions"].append({"started": time.time(), "resumed": resumed, "removed_stale": len(removed)})
            out = cls(path, manifest, lock, removed)
            out._save()
            return out
        except BaseException:
            lock.release()
            raise

    @staticmethod
    def _load(path: Path) -> dict | None:
        f = path / MANIFEST
        if not f.exists():
            return None
        try:
            m = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise GeobatchError(f"cannot read {f}: {e}", "pass --overwrite to start this output over") from None
        if not isinstance(m, dict) or m.get("format_version") != FORMAT_VERSION or not isinstance(m.get("units"), dict):
            raise GeobatchError(f"{f} is not a geobatch manifest of this version", "pass --overwrite to start this output over")
        return m

    def _save(self) -> None:
        write_atomic_bytes(self.path / MANIFEST, json.dumps(self.manifest, indent=1, sort_keys=False).encode())

    @property
    def units(self) -> dict[str, dict]:
        return self.manifest["units"]

    def done(self, unit_id: str) -> bool:
        return unit_id in self.units

    def commit(self, unit_id: str, result: ChunkResult, info: dict[str, Any]) -> dict:
        """Write the unit's part files, then record it (the manifest rewrite is the commit point)."""
        if result.input_rows != result.docs.num_rows:
            raise RuntimeError(f"unit {unit_id}: {result.input_rows} input rows but {result.docs.num_rows} docs rows")
        parts = {name: write_part(self.path, name, unit_id, table) for name, table in result.tables().items()}
        status = result.docs.column("status").to_pylist()
        entry = {
            **info,
            "input_rows": result.input_rows,
            "parts": parts,
            "rows": {name: t.num_rows for name, t in result.tables().items()},
            "status": {s: status.count(s) for s in ("ok", "empty", "error")},
            "stats": result.stats.to_dict(),
            "metrics": result.metrics.to_dict() if result.metrics is not None else None,
            "committed_at": time.time(),
        }
        self.units[unit_id] = entry
        self._save()
        return entry

    def totals(self) -> dict:
        rows = {t: 0 for t in TABLES}
        status = {"ok": 0, "empty": 0, "error": 0}
        stats = ChunkStats()
        input_rows = 0
        for u in self.units.values():
            input_rows += u["input_rows"]
            for t in TABLES:
                rows[t] += u["rows"][t]
            for s in status:
                status[s] += u["status"].get(s, 0)
            stats.merge(ChunkStats.from_dict(u["stats"]))
        return {"input_rows": input_rows, "rows": rows, "status": status, "stats": stats, "reconciled": input_rows == rows["docs"]}

    def merged_metrics(self) -> MetricsAccumulator | None:
        parts = [u["metrics"] for u in self.units.values() if u.get("metrics")]
        if not parts:
            return None
        acc = MetricsAccumulator.from_dict(parts[0])
        for p in parts[1:]:
            acc.merge(MetricsAccumulator.from_dict(p))
        return acc

    def finish(self, summary: dict, metrics_report: dict | None) -> None:
        if metrics_report is not None:
            write_atomic_bytes(self.path / METRICS, json.dumps(metrics_report, indent=1).encode())
        self.manifest.update(summary)
        self.manifest["complete"] = True
        self._save()

    def close(self) -> None:
        self.lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["OutputDir", "OutputLock", "WriteError", "MANIFEST", "METRICS", "LOCK"]
