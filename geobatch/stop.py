"""How `geobatch run` stops on Ctrl-C (SIGINT) or SIGTERM: one line saying what is kept, exit 130 / 143.

Python turns SIGINT into KeyboardInterrupt; SIGTERM would end the process at once, without closing
OUT_DIR (its journal not folded into manifest.json, its lock left for the next run to break), so
`sigterm_raises` turns it into `Terminated`. Both are BaseExceptions, so no `except Exception` that
records a bad row as an error row catches them. The engines let them unwind through `OutputDir`
(which folds the journal and releases the lock) and then raise `Interrupted`, whose message counts
the committed units as they are on disk and says that the same command resumes.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

EXIT_SIGINT = 128 + signal.SIGINT  # 130, what a shell reports for a job ended by Ctrl-C
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


class Terminated(BaseException):
    """SIGTERM arrived (raised by the handler `sigterm_raises` installs)."""


class Interrupted(Exception):
    """A run stopped by a signal after OUT_DIR was closed cleanly; `str()` is the line to print."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def _raise_terminated(signum, frame):  # noqa: ARG001 - the signal module's handler signature
    raise Terminated()


def sigterm_handler():
    """The SIGTERM handler now, to give `keep_sigterm_handler` (None outside the main thread)."""
    return signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None


def keep_sigterm_handler(before) -> None:
    """Put ours back if it was installed `before` and something replaced it since: Ray's `ray.init`
    installs its own, `sys.exit(15)`, which would end the run without the line and with exit 15."""
    if before is _raise_terminated and sigterm_handler() is not _raise_terminated:
        signal.signal(signal.SIGTERM, _raise_terminated)


@contextlib.contextmanager
def sigterm_raises():
    """While inside: SIGTERM raises `Terminated` in the main thread; the previous handler is restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def signals_held():
    """While inside: SIGINT and SIGTERM wait, and are handled as usual right after the block.

    For a few statements that must not be cut in two: a unit's journal line is its commit point, and
    a KeyboardInterrupt or Terminated raised between that line's fsync and the bookkeeping after it
    made the commit undo a unit the journal already holds (its part files were unlinked, and it was
    left out of manifest.json). Python runs signal handlers in the main thread only, so swapping them
    there holds the signals whichever thread the kernel delivers them to."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for s in dict.fromkeys(caught):  # each held signal once, in the order it came
            signal.raise_signal(s)


@contextlib.contextmanager
def reports_interruption(out_dir: str | Path):
    """Around `with OutputDir.open(...)`: a signal that unwinds through it becomes `Interrupted`,
    once OUT_DIR is closed (journal folded, lock released), so the count is what a rerun finds."""
    try:
        yield
    except (KeyboardInterrupt, Terminated) as e:
        raise interrupted(e, out_dir) from None


def signal_name(e: BaseException) -> tuple[str, int]:
    return ("SIGTERM", EXIT_SIGTERM) if isinstance(e, Terminated) else ("SIGINT", EXIT_SIGINT)


def interrupted(e: BaseException, out_dir: str | Path) -> Interrupted:
    """The one line for a run stopped by `e` (KeyboardInterrupt or Terminated) once OUT_DIR is closed."""
    from .io.commit import committed_units

    name, code = signal_name(e)
    units = committed_units(out_dir)
    if not units:
        return Interrupted(f"interrupted by {name}: no unit is committed in {out_dir} yet; "
                           "run the same command again to start the job", code)
    rows = sum(int(u.get("input_rows", 0)) for u in units.values())
    return Interrupted(f"interrupted by {name}: {len(units):,} unit{'s' if len(units) != 1 else ''} ({rows:,} input rows) "
                       f"committed in {out_dir} are kept; run the same command again to resume from them", code)


__all__ = ["EXIT_SIGINT", "EXIT_SIGTERM", "Interrupted", "Terminated", "interrupted", "keep_sigterm_handler", "reports_interruption",
           "signals_held", "sigterm_handler", "sigterm_raises"]
