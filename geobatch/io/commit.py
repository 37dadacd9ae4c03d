"""The output commit protocol: a lock, a manifest of finished units, resume.

OUT_DIR/
  .geobatch.lock        {"pid", "host", "create_time"}: one writer at a time
  manifest.json         job identity, model card, finished units with their parts and row counts
  units.jsonl           while a session runs: one line per unit finished since manifest.json was written
  docs/ tokens/ spans/  part-<unit>.parquet, one per finished unit and table (part-empty.parquet
                        when the job has no unit: 0 input rows)
  metrics.json          when gold labels were present

Committing a unit: each part file is written under a hidden temporary name, fsynced, renamed onto
its final name (which depends only on the unit) and its directory fsynced; then one line naming
the unit, its parts and row counts is appended to `units.jsonl` and fsynced: that fsync is the
commit point (see `geobatch.io.journal`). `manifest.json` (written atomically: temp, fsync, rename) is
rewritten only when a session opens, finishes or stops, folding the journal in, so committing stays
O(1) per unit. A rerun with the same job identity (model sha256; inputs by path, size and content
hash, see `geobatch.io.fingerprint`; output-shaping settings) replays the journal, skips finished units
whose part files are all present, removes temporary files and part files no finished unit owns, and
redoes the rest; a different identity is refused unless `overwrite`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GeobatchError
from ..evaluate.metrics import MetricsAccumulator
from ..stop import signals_held
from .fingerprint import inputs_differ, with_content_hashes
from .journal import JOURNAL, Journal, replay
from .tables import DOCS_SCHEMA, SPANS_SCHEMA, ChunkResult, ChunkStats, tokens_schema
from .lock import LOCK, OutputLock, remove_dead_lock_leftovers
from .write import EMPTY_UNIT, TABLES, WriteError, file_in_the_way, remove_stale, unlink_quietly, write_atomic_bytes, write_part

if TYPE_CHECKING:
    from ..engines.workers import EncodedUnit

MANIFEST = "manifest.json"
METRICS = "metrics.json"
FORMAT_VERSION = 1


def clashes_with_output(out_dir, path) -> str | None:
    """Why writing another file (a report) at `path` would damage the run output in out_dir: it is
    the folder itself, one of geobatch's own files there, or inside docs/, tokens/ or spans/ (the next
    run refuses files it did not write there). None when it is harmless (e.g. OUT_DIR/report.html)."""
    from .journal import JOURNAL
    from .lock import LOCK

    out, target = Path(out_dir).resolve(), Path(path).resolve()
    if target == out:
        return "is the run's output folder"
    if out not in target.parents:
        return None
    first = target.relative_to(out).parts[0]
    if first in TABLES:
        return f"lies in the run's {first}/ folder"
    if target.parent == out and first in (MANIFEST, METRICS, JOURNAL, LOCK):
        return f"is the run's own {first}"
    return None


def _parts_intact(path: Path, entry: dict) -> bool:
    """A finished unit's part files are all there, of the size they were committed at (units of older
    outputs record none), and end in Parquet's magic bytes: a truncated or overwritten part is redone
    on resume instead of being trusted (the resumed output was unreadable)."""
    sizes = entry.get("part_bytes") or {}
    for name, rel in entry["parts"].items():
        p = path / rel
        try:
            size = p.stat().st_size
            if name in sizes and size != sizes[name]:
                return False
            with open(p, "rb") as f:
                f.seek(max(size - 4, 0))
                if f.read(4) != b"PAR1":
                    return False
        except OSError:
            return False
    return True


def foreign_files(path: Path, tables=TABLES, show: int = 3) -> list[str]:
    """Entries of docs/ tokens/ spans/ that are not geobatch's parts (part-*.parquet, or a temporary
    .part-*.tmp-PID left by a crash): a user's own files, which replacing the output would delete."""
    found = []
    for t in tables:
        d = path / t
        if not d.is_dir():
            if d.exists():
                found.append(f"{t} (a file)")
            continue
        for p in sorted(d.iterdir()):
            if not (p.is_file() and (p.name.startswith("part-") and p.name.endswith(".parquet") or p.name.startswith(".part-"))):
                found.append(f"{t}/{p.name}")
    return found[:show] + ([f"{len(found) - show} more"] if len(found) > show else [])


def _identity_diff(old: dict, new: dict) -> list[str]:
    out = []
    if old.get("model_sha256") != new.get("model_sha256"):
        out.append(f"model sha256 {str(old.get('model_sha256'))[:12]}… vs {str(new.get('model_sha256'))[:12]}…")
    changed = inputs_differ(old.get("inputs") or [], new.get("inputs") or [])
    if changed:
        out.append(changed)
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
        self.journal = Journal(path)

    @classmethod
    def open(cls, out_dir: str | Path, identity: dict, model_card: dict, overwrite: bool = False) -> "OutputDir":
        path = Path(out_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            if path.exists() and not path.is_dir():
                raise GeobatchError(f"--output {path} is a file, not a directory", "choose a directory path for --output (new or geobatch's)") from None
            blocker = file_in_the_way(path)
            if blocker is not None:
                raise GeobatchError(f"cannot create output directory {path}: {blocker} is a file", "choose an --output whose parent folders are folders") from None
            raise GeobatchError(f"cannot create output directory {path}: {e.strerror}", "choose a writable --output") from None
        if not os.access(path, os.W_OK):
            raise GeobatchError(f"output directory {path} is not writable", "choose a writable --output")
        lock = OutputLock(path)
        lock.acquire()
        try:
            remove_dead_lock_leftovers(path)
            manifest = cls._load(path)
            if "inputs" in identity:  # by content: a file copied again unchanged is the same input
                recorded = (manifest or {}).get("job", {}).get("inputs") if not overwrite else None
                identity = {**identity, "inputs": with_content_hashes(identity["inputs"], recorded)}
            if manifest is not None and not overwrite:
                diff = _identity_diff(manifest.get("job", {}), identity)
                if diff:
                    raise GeobatchError(
                        f"{path} holds the output of a different job: {'; '.join(diff)}",
                        "pass --overwrite to replace it, or choose another --output",
                    )
            foreign = foreign_files(path)
            if foreign:  # --overwrite empties docs/ tokens/ spans/: never with files geobatch did not write there
                raise GeobatchError(f"{path} has files geobatch did not write where its tables go ({', '.join(foreign)})",
                                    "move them away, or choose another --output (--overwrite would delete them)")
            if manifest is None and not overwrite and ((path / JOURNAL).exists() or any(any((path / t).iterdir()) for t in TABLES if (path / t).is_dir())):
                raise GeobatchError(f"{path} has docs/tokens/spans but no {MANIFEST}", "pass --overwrite to replace them, or choose another --output")
            if overwrite:
                for t in TABLES:
                    shutil.rmtree(path / t, ignore_errors=True)
                for f in (MANIFEST, METRICS, JOURNAL):
                    (path / f).unlink(missing_ok=True)
                manifest = None
            resumed = manifest is not None
            if manifest is None:
                manifest = {"format_version": FORMAT_VERSION, "job": identity, "model_card": model_card, "units": {}, "sessions": []}
            else:
                manifest["units"].update(replay(path))
                manifest["job"] = identity  # the same job; its inputs' mtimes may be new (copied again)
            manifest["complete"] = False
            # a unit counts as finished only while all its part files are there; otherwise it is redone
            lost = [u for u, e in manifest["units"].items() if not _parts_intact(path, e)]
            for u in lost:
                del manifest["units"][u]
            keep = {p for u in manifest["units"].values() for p in u["parts"].values()}
            removed = remove_stale(path, keep)
            manifest["sessions"].append({"started": time.time(), "resumed": resumed, "removed_stale": len(removed),
                                         "redone_missing_parts": len(lost)})
            out = cls(path, manifest, lock, removed)
            out._save()  # the journal is folded in: only now may it go
            out.journal.remove()
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

    def commit(self, unit_id: str, result: "ChunkResult | EncodedUnit", info: dict[str, Any]) -> dict:
        """Write the unit's part files, then record it (the journal line's fsync is the commit point).

        On any failure the unit's part files written so far are removed again: the unit stays
        unfinished and leaves nothing behind.
        """
        rows = result.row_counts()
        if result.input_rows != rows["docs"]:
            raise RuntimeError(f"unit {unit_id}: {result.input_rows} input rows but {rows['docs']} docs rows")
        parts: dict[str, str] = {}
        try:
            for name, table in result.parts().items():
                parts[name] = write_part(self.path, name, unit_id, table)
            entry = {
                **info,
                "input_rows": result.input_rows,
                "parts": parts,
                "part_bytes": {name: (self.path / rel).stat().st_size for name, rel in parts.items()},
                "rows": rows,
                "status": result.status_counts(),
                "stats": result.stats.to_dict(),
                "metrics": result.metrics.to_dict() if result.metrics is not None else None,
                "committed_at": time.time(),
            }
            # a signal waits until the journal line and the bookkeeping agree (stop.signals_held)
            with signals_held():
                self.journal.append(unit_id, entry)
                self.units[unit_id] = entry
        except BaseException:
            if unit_id not in self.units:
                for rel in parts.values():
                    unlink_quietly(self.path / rel)
            raise
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

    def duplicate_ids(self, examples: int = 5) -> dict:
        """doc_id values that occur more than once across all finished units (all rows are kept).

        Memory is 8 bytes a row: pass 1 hashes every doc_id; pass 2 counts exactly only the ids whose
        hash was seen twice, so a hash collision never reports a false duplicate.
        """
        import numpy as np
        import pyarrow.parquet as pq

        def doc_ids():
            for u in self.units.values():
                yield pq.read_table(self.path / u["parts"]["docs"], columns=["doc_id"]).column(0).to_pylist()

        hashed = [np.fromiter(map(hash, ids), np.int64, len(ids)) for ids in doc_ids()]
        found = {"duplicate_rows": 0, "duplicated_ids": 0, "examples": []}
        h = np.sort(np.concatenate(hashed)) if hashed else np.empty(0, np.int64)
        twice = h[1:][h[1:] == h[:-1]]
        if not twice.size:
            return found
        suspects = set(twice.tolist())
        counts: dict[str, int] = {}
        for ids in doc_ids():
            for i in ids:
                if hash(i) in suspects:
                    counts[i] = counts.get(i, 0) + 1
        dups = {i: n for i, n in counts.items() if n > 1}
        found.update(duplicate_rows=sum(n - 1 for n in dups.values()), duplicated_ids=len(dups), examples=sorted(dups)[:examples])
        return found

    def finish(self, summary: dict, metrics_report: dict | None) -> None:
        if not self.units:
            self._write_empty_tables()
        if metrics_report is not None:
            write_atomic_bytes(self.path / METRICS, json.dumps(metrics_report, indent=1).encode())
        self.manifest.update(summary)
        self.manifest["complete"] = True
        self._save()
        self.journal.remove()

    def _write_empty_tables(self) -> None:
        """A job of 0 input rows has no unit, hence no part file: without these, pd.read_parquet(OUT/'docs')
        and pyarrow.dataset raised FileNotFoundError. `part-empty.parquet` is owned by no unit; a rerun
        keeps it while no unit is finished (`remove_stale`) and rewrites it when it finishes."""
        with_gold = bool(self.manifest["job"].get("settings", {}).get("with_gold"))
        for name, schema in (("docs", DOCS_SCHEMA), ("tokens", tokens_schema(with_gold)), ("spans", SPANS_SCHEMA)):
            write_part(self.path, name, EMPTY_UNIT, schema.empty_table())

    def close(self) -> None:
        """Release the lock; a session that stopped early first folds its journal into manifest.json."""
        try:
            if self.journal.lines:
                try:
                    self._save()
                    self.journal.remove()
                except WriteError:
                    self.journal.close()  # the journal keeps the finished units; the next run replays it
        finally:
            self.lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def committed_units(out_dir: str | Path) -> dict[str, dict]:
    """The units a rerun would find finished, as on disk: manifest.json's plus the journal's
    ({} when there are none or they cannot be read; the rerun then says why)."""
    path = Path(out_dir)
    try:
        manifest = OutputDir._load(path)
        units = dict(manifest["units"]) if manifest is not None else {}
        units.update(replay(path))
    except GeobatchError:
        return {}
    return units


__all__ = ["OutputDir", "committed_units", "OutputLock", "WriteError", "MANIFEST", "METRICS", "LOCK", "JOURNAL"]
