"""An append-only journal of finished units (`units.jsonl`), so committing a unit costs O(1).

Rewriting `manifest.json` after every unit made a job quadratic in its unit count (the JSON of all
earlier units was re-encoded and fsynced each time). Instead each finished unit appends one line,
`{"unit": ID, "entry": {...}}\\n`, written with a single `write()` on an O_APPEND descriptor and
fsynced: the fsync of that line is the unit's commit point. `manifest.json` is rewritten only when a
session opens (folding in what the journal holds), when it finishes or stops, and then the journal
is removed. Folding is idempotent (units are keyed by id), so a kill between the manifest rewrite
and the journal's removal only replays the same lines again.

A line counts only if it ends with a newline: a kill or power loss mid-append can leave a torn
piece after the last newline, which is ignored (that unit is redone). A complete line that does not
parse cannot come from an interrupted append (each line is fsynced before the next is written), so
it is reported as corruption.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import GeobatchError
from .write import WriteError, fsync_dir

JOURNAL = "units.jsonl"


def replay(out_dir: str | Path) -> dict[str, dict]:
    """Finished units recorded in the journal ({} when there is none)."""
    path = Path(out_dir) / JOURNAL
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise GeobatchError(f"cannot read {path}: {e.strerror or e}", "fix its permissions, or pass --overwrite to start this output over") from None
    units: dict[str, dict] = {}
    lines = data.split(b"\n")  # the piece after the last newline is a torn append (or b"")
    for n, line in enumerate(lines[:-1], 1):
        try:
            rec = json.loads(line)
            units[str(rec["unit"])] = rec["entry"]
        except (ValueError, KeyError, TypeError):
            raise GeobatchError(f"{path} is corrupt at line {n}", "pass --overwrite to start this output over") from None
    return units


class Journal:
    """Appends finished units; `remove()` once they are folded into manifest.json."""

    def __init__(self, out_dir: str | Path):
        self.path = Path(out_dir) / JOURNAL
        self._fd: int | None = None
        self.broken = False
        self.lines = 0  # appended by this session, not yet folded

    def append(self, unit_id: str, entry: dict) -> None:
        if self.broken:
            raise WriteError(f"cannot append to {self.path} after an earlier write failure", "rerun the job: finished units are kept")
        line = (json.dumps({"unit": unit_id, "entry": entry}, separators=(",", ":")) + "\n").encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                fsync_dir(self.path.parent)  # the journal's own name must survive a crash
            view = memoryview(line)
            while view:  # one write() in practice; loop only on a short write
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError as e:
            self.broken = True  # a partial line may be on disk: never append after it
            raise WriteError(f"cannot write {self.path}: {e.strerror or e}", "free disk space / fix permissions and rerun: finished units are kept") from None
        self.lines += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Delete the journal once manifest.json holds its units (strict: a journal left behind with a
        torn tail would glue the next session's first line onto it)."""
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise WriteError(f"cannot remove {self.path}: {e.strerror or e}", "fix the output directory's permissions and rerun") from None
        else:
            fsync_dir(self.path.parent)
        self.lines = 0
