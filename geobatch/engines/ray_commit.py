"""The Ray engine's commit stage, on the driver: pieces of a unit back into one ChunkResult, committed.

A Ray batch may hold the end of one unit and the start of the next, so actors return pieces (Arrow IPC
bytes, engines/ray_stages.py) and this glues a unit's pieces in row order, checks no row went missing
or came out of file order, and commits through the same `OutputDir` as the local engine.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict

import pyarrow as pa

from ..evaluate.metrics import MetricsAccumulator
from ..io.commit import OutputDir
from ..io.tables import ChunkResult, ChunkStats
from ..progress import Progress
from .ray_inputs import Source
from .ray_stages import from_ipc, raise_piece_error


class UnitAssembler:
    """Collects pieces per unit and commits a unit once all its rows are there (or at the end)."""

    def __init__(self, out: OutputDir, sources: list[Source], chunk_size: int, progress: Progress):
        self.out, self.sources, self.chunk_size, self.progress = out, sources, chunk_size, progress
        self.pending: dict[str, list[dict]] = defaultdict(list)
        self.session_stats = ChunkStats()
        self.providers: set[str] = set()
        self.workers: dict[str, dict] = {}
        self.commit_s = 0.0
        self.rows_seen = 0
        self.next_row: dict[int, int] = {}  # per input: where the stream got to (its rows come in file order)

    def expected_rows(self, src: int, chunk: int) -> int | None:
        known = self.sources[src].info.rows
        start = chunk * self.chunk_size
        return min(self.chunk_size, known - start) if known is not None else None

    def add(self, piece: dict) -> None:
        if piece["error"] is not None:
            raise_piece_error(piece)
        self.rows_seen += piece["n_rows"]
        self.providers.add(piece["provider"])
        w = self.workers.setdefault(piece["worker"], {"started_at": piece["started_at"], "init_s": 0.0, "process_s": 0.0,
                                                      "serialize_s": 0.0, "pieces": 0, "rows": 0})
        for k in ("init_s", "process_s", "serialize_s"):
            w[k] += piece[k]
        w["pieces"] += 1
        w["rows"] += piece["n_rows"]
        src, start = piece["input_index"], piece["row_start"]
        if start < self.next_row.get(src, 0):
            # with preserve_order the stream is in file order, so numbers that go back were given out of
            # order: the ids and units of this job cannot be trusted (nothing numbered after this is committed)
            raise RuntimeError(f"{self.sources[src].inp.path}: Ray numbered rows out of file order (row {start} after row "
                               f"{self.next_row[src] - 1}); rerun with --overwrite, or with --engine local")
        self.next_row[src] = start + piece["n_rows"]
        uid = piece["unit_id"]
        self.pending[uid].append(piece)
        got = sum(p["n_rows"] for p in self.pending[uid])
        expected = self.expected_rows(piece["input_index"], piece["chunk_index"])
        if got == self.chunk_size or got == expected:
            self._commit(uid, last=False)

    def _commit(self, uid: str, last: bool) -> None:
        t0 = time.perf_counter()
        pieces = sorted(self.pending.pop(uid), key=lambda p: p["row_start"])
        src, chunk = pieces[0]["input_index"], pieces[0]["chunk_index"]
        start = chunk * self.chunk_size
        pos = start
        for p in pieces:
            if p["row_start"] != pos:
                raise RuntimeError(f"unit {uid}: rows {pos}..{p['row_start'] - 1} never came back from the Ray workers")
            pos += p["n_rows"]
        n_rows = pos - start
        if not last and n_rows != self.chunk_size and n_rows != self.expected_rows(src, chunk):
            raise RuntimeError(f"unit {uid}: {n_rows} of {self.chunk_size} rows came back from the Ray workers")
        stats = ChunkStats()
        metrics = None
        for p in pieces:
            stats.merge(ChunkStats.from_dict(json.loads(p["stats"])))
            if p["metrics"] is not None:
                m = MetricsAccumulator.from_dict(json.loads(p["metrics"]))
                metrics = m if metrics is None else metrics.merge(m)
        tables = [pa.concat_tables([from_ipc(p[name]) for p in pieces]) for name in ("docs", "tokens", "spans")]
        result = ChunkResult(*tables, metrics, stats, n_rows)
        self.out.commit(uid, result, {
            "input": self.sources[src].inp.path, "input_index": src, "chunk_index": chunk,
            "row_start": start, "row_end": start + n_rows,
        })
        self.session_stats.merge(stats)
        self.progress.update(stats.docs, stats.real_tokens)
        self.commit_s += time.perf_counter() - t0

    def finish(self) -> None:
        """Commit the last, shorter unit of each input; check no unit of any input is missing."""
        last_chunk: dict[int, int] = {}
        for u in self.out.units.values():
            i = u["input_index"]
            last_chunk[i] = max(last_chunk.get(i, -1), u["chunk_index"])
        for pieces in self.pending.values():
            i = pieces[0]["input_index"]
            last_chunk[i] = max(last_chunk.get(i, -1), pieces[0]["chunk_index"])
        for uid in sorted(self.pending):
            p = self.pending[uid][0]
            if p["chunk_index"] != last_chunk[p["input_index"]]:
                raise RuntimeError(f"unit {uid} is incomplete but is not its input's last unit: rows were lost")
            self._commit(uid, last=True)
        for s in self.sources:
            have = {u["chunk_index"] for u in self.out.units.values() if u["input_index"] == s.index}
            missing = sorted(set(range(last_chunk.get(s.index, -1) + 1)) - have)
            if missing:
                raise RuntimeError(f"{s.inp.path}: units {missing[:5]} never came back from the Ray workers")
            if s.info.rows is not None:
                rows = sum(u["input_rows"] for u in self.out.units.values() if u["input_index"] == s.index)
                if rows != s.info.rows:
                    raise RuntimeError(f"{s.inp.path} has {s.info.rows} rows but {rows} were committed")
