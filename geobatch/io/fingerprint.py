"""Inputs identified by content: the sha256 of every byte of each input file.

A resumed job must know whether its inputs are the ones its finished units were read from. Size and
modification time alone called an unchanged file copied again (a nightly job that re-downloads its
inputs) "a different job", and resuming then needed --overwrite, which threw finished work away.

Why the whole file and not a sample: a sample (the Parquet footer, or a few blocks) misses an edit
of the same size in a part it does not read, e.g. one document's text corrected in place, and the
job would then silently resume onto output read from other text. Hashing every byte is the only
check that cannot mix two files' output, and it is cheap next to the job: this function hashed a
512 MiB file at 1.44 GB/s on one core (docs/RELIABILITY.md), while the CPU model tags 27-38 k
characters a second (docs/OPTIMIZE.md), so hashing a file costs far under a thousandth of the job's
pass over it.

A file that still has the size and modification time (in ns) recorded with its hash is not read
again: a plain rerun hashes nothing. Only a file whose mtime changed (copied again, touched, edited)
is hashed, and then its hash decides.
"""

from __future__ import annotations

import hashlib

from ..errors import InputError

_BLOCK = 1 << 20


def content_sha256(path: str) -> str:
    """sha256 of the file's bytes; local paths and object-storage URIs (through pyarrow.fs)."""
    h = hashlib.sha256()
    try:
        if "://" in path:
            from pyarrow.fs import FileSystem

            fs, p = FileSystem.from_uri(path)
            with fs.open_input_stream(p, compression=None) as f:
                while block := f.read(_BLOCK):
                    h.update(block)
        else:
            with open(path, "rb") as f:
                while block := f.read(_BLOCK):
                    h.update(block)
    except OSError as e:
        raise InputError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}", "check the file and the disk it is on") from None
    return h.hexdigest()


def _same_file_state(a: dict, b: dict) -> bool:
    return all(a.get(k) == b.get(k) for k in ("path", "format", "size", "mtime_ns"))


def with_content_hashes(inputs: list[dict], recorded: list[dict] | None = None) -> list[dict]:
    """`inputs` (path, format, size, mtime_ns) with "sha256" added: taken from `recorded` (the
    finished job's inputs) where the file's path, size and mtime are unchanged, else computed."""
    known = [r for r in recorded or [] if isinstance(r, dict) and r.get("sha256")]
    out = []
    for inp in inputs:
        if inp.get("sha256"):
            out.append(inp)
            continue
        same = next((r for r in known if _same_file_state(r, inp)), None)
        out.append({**inp, "sha256": same["sha256"] if same is not None else content_sha256(inp["path"])})
    return out


def inputs_differ(old: list[dict], new: list[dict]) -> str | None:
    """None when `new` are the same inputs as `old`, else what differs, to quote in one line.

    Compared: paths, formats, sizes and content hashes, not modification times. An entry recorded
    before inputs were hashed (no "sha256") is compared by its modification time, as then."""
    if [i.get("path") for i in old] != [i.get("path") for i in new]:
        return "the input files differ (other paths, or another number of them)"
    for o, n in zip(old, new):
        if o.get("format") != n.get("format"):
            return f"input {n['path']} is read as {n.get('format')}, not {o.get('format')} as before"
        if o.get("size") != n.get("size"):
            return f"input {n['path']} has changed ({o.get('size')} bytes before, {n.get('size')} now)"
        if o.get("sha256") is None:
            if o.get("mtime_ns") != n.get("mtime_ns"):
                return f"input {n['path']} has a new modification time (recorded before inputs were hashed)"
        elif o.get("sha256") != n.get("sha256"):
            return f"input {n['path']} has changed (same size, other content: sha256 {o['sha256'][:12]}… before, {n['sha256'][:12]}… now)"
    return None
