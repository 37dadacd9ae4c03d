"""A record's id and text as every command reads them (`geobatch run` on both engines, `geobatch resolve`).

Inputs hand over values of many kinds: str from JSONL and Parquet, bytes from CSV (its columns are
read as binary) and from binary Parquet, numbers and other JSON values. One rule turns them into a
doc id and a text, or a row's error, so that a document reads the same whatever command or engine
meets it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_value(v: Any) -> tuple[str | None, str | None]:
    """(text, error). None means no text (an empty document)."""
    if v is None or isinstance(v, str):
        if v and not v.isascii() and (bad := _LONE_SURROGATE.search(v)):  # JSON "\\ud83d" escapes; Arrow and the tokenizer refuse them
            return None, f"text is not valid Unicode (a lone surrogate {bad.group()!r} at character {bad.start()})"
        return v, None
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode("utf-8"), None
        except UnicodeDecodeError as e:
            return None, f"text is not valid UTF-8 ({e.reason} at byte {e.start})"
    return None, f"text is {type(v).__name__}, not a string"


def id_value(v: Any) -> str | None:
    """The doc id as text, or None when the record has none. Bytes that are not UTF-8 and lone
    surrogates (which Arrow cannot store) are written as backslash escapes ("caf\\xe9"), not U+FFFD:
    two ids that differ only there stay two ids, and a consumer can still join the row to its source."""
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", errors="backslashreplace")
    if isinstance(v, (list, dict, tuple)):  # JSON, not Python's repr ("['x']"), so a consumer can parse it back
        v = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    elif isinstance(v, bool):
        v = "true" if v else "false"  # as the JSON it came from, not Python's True
    v = str(v)
    return v.encode("utf-8", "backslashreplace").decode("utf-8") if _LONE_SURROGATE.search(v) else v


def column_values(column) -> list:
    """Python values of an Arrow column. Arrow does not check that a Parquet string column holds
    UTF-8 (a writer may store latin-1 bytes there); such a column is read as bytes, so that each bad
    value becomes its own row's error (as in CSV input) instead of stopping the whole job."""
    try:
        return column.to_pylist()
    except UnicodeDecodeError:
        typ = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        return column.cast(pa.large_binary() if pa.types.is_large_string(typ) else pa.binary()).to_pylist()
