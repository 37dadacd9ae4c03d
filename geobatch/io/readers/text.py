"""Text decoding for word-per-row files: UTF-8 when it decodes, else cp1252 (GMB's original bytes)."""

from __future__ import annotations

import codecs
from pathlib import Path

from ...errors import InputError

_PROBE_BYTES = 1 << 20


def detect_encoding(path: str | Path, encoding: str | None = None) -> str:
    """Return `encoding` if given, else 'utf-8' when the whole file decodes as UTF-8, else 'cp1252'.

    The whole file is checked (in blocks) because a cp1252 byte may first appear deep in a file.
    """
    if encoding:
        return encoding
    p = Path(path)
    try:
        with open(p, "rb") as f:
            dec = codecs.getincrementaldecoder("utf-8")()
            while True:
                block = f.read(_PROBE_BYTES)
                if not block:
                    dec.decode(b"", final=True)
                    break
                dec.decode(block)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as e:
        raise InputError(f"cannot read {p}: {e.strerror}", "check the path and its permissions") from None
    return "utf-8-sig"


def open_text(path: str | Path, encoding: str | None = None):
    enc = detect_encoding(path, encoding)
    # cp1252 leaves 5 byte values undefined; map them rather than fail on one stray byte
    errors = "replace" if enc == "cp1252" else "strict"
    return open(path, "r", encoding=enc, errors=errors, newline="")
