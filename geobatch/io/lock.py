"""The lock that keeps one writer per OUT_DIR: `.geobatch.lock` holding {"pid", "host", "create_time"}.

A lock whose owner is on this host and no longer running (pid gone, or reused by a younger
process) is broken; a lock from another host is never broken (we cannot see its processes).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from ..errors import GeobatchError
from .write import fsync_dir, unlink_quietly

LOCK = ".geobatch.lock"


def _process_alive(pid: int, create_time: float | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return False
        # a recycled pid belongs to a process started later than the lock's owner
        return create_time is None or abs(proc.create_time() - create_time) < 1.0
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True


class OutputLock:
    """An exclusive lock file; broken only when its owner (same host, pid gone) is dead.

    The file appears with its content already in it (written to a side file, then hard-linked onto
    the lock's name, which fails if the name exists), so a lock is never seen empty. Breaking a dead
    owner's lock renames it aside first and checks that what was renamed is still that dead owner's,
    so two processes breaking the same lock at once cannot both end up holding it.
    """

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / LOCK
        self.held = False

    def acquire(self) -> None:
        import psutil

        me = {"pid": os.getpid(), "host": socket.gethostname(), "create_time": psutil.Process().create_time(), "since": time.time()}
        payload = json.dumps(me).encode()
        for _ in range(5):
            if self._create(payload):
                self.held = True
                return
            raw = self._read()
            owner = _parse_owner(raw)
            if raw is not None and owner is None:
                # unreadable: garbage, or a writer of the fallback path between create and write
                time.sleep(0.2)
                raw = self._read()
                owner = _parse_owner(raw)
            if raw is None:
                continue  # released meanwhile
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
            self._break(raw)  # owner gone
        raise GeobatchError(f"cannot take the lock {self.path}", "another process keeps taking it; retry later")

    def _create(self, payload: bytes) -> bool:
        side = self.path.with_name(f"{LOCK}.new-{os.getpid()}")
        try:
            with open(side, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(side, self.path)
            except FileExistsError:
                return False
            except OSError:  # no hard links on this file system: create exclusively, then write
                try:
                    fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    return False
                with os.fdopen(fd, "wb") as f:
                    f.write(payload)
                    f.flush()
                    os.fsync(f.fileno())
            fsync_dir(self.path.parent)
            return True
        except OSError as e:
            raise GeobatchError(f"cannot create the lock {self.path}: {e.strerror or e}", "choose a writable --output") from None
        finally:
            unlink_quietly(side)

    def _read(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    def _break(self, seen: bytes) -> None:
        aside = self.path.with_name(f"{LOCK}.stale-{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except OSError:
            return  # someone else broke it first
        try:
            if aside.read_bytes() != seen:
                # between our read and our rename another process broke the dead lock and took it: give it back
                try:
                    os.link(aside, self.path)
                except OSError:
                    pass
        except OSError:
            pass
        unlink_quietly(aside)

    def release(self) -> None:
        if self.held:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.held = False


def _parse_owner(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "pid" in data else None


def remove_dead_lock_leftovers(out_dir: Path) -> None:
    """Side files of lock attempts by processes that were killed mid-attempt."""
    import psutil

    for p in out_dir.glob(f"{LOCK}.*-*"):
        try:
            pid = int(p.name.rsplit("-", 1)[1])
        except ValueError:
            continue
        if not psutil.pid_exists(pid):
            unlink_quietly(p)
