"""A one-line progress display on stderr (only when it is a terminal and not --quiet)."""

from __future__ import annotations

import sys
import time


def _fmt_s(s: float) -> str:
    s = int(max(s, 0))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    def __init__(self, enabled: bool | None = None, total_rows: int | None = None, stream=None, interval: float = 0.25):
        self.stream = stream or sys.stderr
        self.enabled = (self.stream.isatty() if enabled is None else enabled)
        self.total_rows = total_rows
        self.interval = interval
        self.start = time.perf_counter()
        self.docs = 0  # processed this session
        self.skipped = 0  # already finished before (resume)
        self.tokens = 0
        self._last = 0.0
        self._shown = False

    def skip(self, rows: int) -> None:
        self.skipped += rows
        self._draw()

    def update(self, docs: int, tokens: int) -> None:
        self.docs += docs
        self.tokens += tokens
        self._draw()

    def line(self) -> str:
        el = max(time.perf_counter() - self.start, 1e-9)
        done = self.docs + self.skipped
        parts = [f"{done:,} docs" + (f"/{self.total_rows:,}" if self.total_rows else "")]
        if self.total_rows:
            parts[0] += f" ({100 * done / self.total_rows:.0f}%)"
        parts.append(f"{self.docs / el:,.1f} docs/s")
        parts.append(f"{self.tokens / el:,.0f} tokens/s")
        if self.total_rows and self.docs:
            parts.append(f"ETA {_fmt_s((self.total_rows - done) * el / self.docs)}")
        parts.append(f"elapsed {_fmt_s(el)}")
        return "  ".join(parts)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.stream.write("\r\x1b[2K" + self.line())
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            self._draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
