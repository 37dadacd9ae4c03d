"""`check_input`: open every input's header/footer up front, so a bad input stops the job before any
output is committed; raises InputError naming the fix (wrong column, not UTF-8, not JSON Lines,
gzip where it is not read, a ';'-separated "CSV", ...).
"""

from __future__ import annotations

import codecs
import gzip
import json
import sys

import pyarrow as pa

from ..errors import InputError
from .corpus import GZIP_ERRORS, fix_for, one_line, open_bytes, open_csv
from .inputs import FORMATS, GZIP_FORMATS, Columns, InputFile, InputInfo, is_gzip

_JSONL_PROBE_LINES, _JSONL_PROBE_BYTES = 1000, 1 << 24  # how far the up-front check looks for a JSONL column
_TEXT_TYPES = ("string", "large_string", "string_view", "binary", "large_binary", "binary_view", "null")


def _text_type_ok(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return str(t) in _TEXT_TYPES


def _probe_readable(inp: InputFile) -> None:
    """Open and read one byte, through Python, so an unreadable file is named before anything runs."""
    try:
        with open(inp.path, "rb") as f:
            f.read(1)
    except IsADirectoryError:
        raise InputError(f"cannot read {inp.path}: it is a directory", "pass the directory itself as --input, or a file") from None
    except PermissionError as e:
        raise InputError(f"cannot read {inp.path}: {e.strerror or e}", "check its permissions (nothing was written)") from None
    except OSError as e:
        raise InputError(f"cannot read {inp.path}: {e.strerror or e}", "check the file and the disk it is on (nothing was written)") from None


def _missing_text(path: str, text: str, have: list[str]) -> InputError:
    return InputError(f"{path} has no column {text!r} (it has {', '.join(map(str, have)) or 'none'})", "pass --text-column NAME")


def _check_columns(inp: InputFile, names: list[str], cols: Columns) -> InputInfo:
    if cols.text not in names:
        raise _missing_text(inp.path, cols.text, names)
    if cols.spans and cols.spans not in names:
        raise InputError(f"{inp.path} has no spans column {cols.spans!r} (it has {', '.join(names)})", cols.missing_spans_fix())
    return InputInfo(has_id=bool(cols.id) and cols.id in names, rows=None)


def check_input(inp: InputFile, cols: Columns) -> InputInfo:
    """Open the file's header/footer and check the columns; raises InputError naming the fix."""
    _probe_readable(inp)
    if inp.format not in GZIP_FORMATS and is_gzip(inp.path):
        raise InputError(f"{inp.path} is gzip-compressed, which is not read for {inp.format} input",
                         f"decompress it (gunzip -c {inp.path} > NEW_FILE) and pass the decompressed file")
    try:
        if inp.format == "parquet":
            import pyarrow.parquet as pq

            try:
                pf = pq.ParquetFile(inp.path)
            except (pa.ArrowException, OSError) as e:
                with open(inp.path, "rb") as f:
                    magic = f.read(4)
                if magic != b"PAR1":  # not Parquet at all (a CSV under --format parquet), rather than a damaged one
                    raise InputError(f"{inp.path} is not a Parquet file (it does not start with PAR1)",
                                     "pass the right --format (or none: the extension decides), or convert the file") from None
                raise InputError(f"{inp.path} is not a readable Parquet file ({one_line(e)})", "replace the file (it may be truncated or corrupt)") from None
            schema = pf.schema_arrow
            info = _check_columns(inp, schema.names, cols)
            text_type = schema.field(cols.text).type
            if not _text_type_ok(text_type):
                raise InputError(f"{inp.path}: column {cols.text!r} holds {text_type}, not text",
                                 "pass --text-column naming a string column, or convert that column to string")
            info.rows = pf.metadata.num_rows
            return info
        if inp.format in ("csv", "jsonl"):
            _refuse_utf16(inp.path)
        if inp.format == "csv":
            if inp.size == 0:
                raise InputError(f"{inp.path} is empty (not even a header line)", f"remove it from the inputs, or give it a header with a {cols.text!r} column")
            reader = open_csv(inp.path, None)
            try:
                names = reader.schema.names
            except UnicodeDecodeError:
                raise InputError(f"{inp.path} has a header line that is not valid UTF-8", "save the file as UTF-8") from None
            reader.close() if hasattr(reader, "close") else None
            _refuse_other_separator(inp.path, names, cols)
            twice = sorted({n for n in (cols.text, cols.id, cols.spans) if n and names.count(n) > 1})
            if twice:  # Arrow would read the first and drop the other without a word
                raise InputError(f"{inp.path} has {names.count(twice[0])} columns named {twice[0]!r}",
                                 "rename the one that is not meant, or pass --text-column/--id-column naming another column")
            info = _check_columns(inp, names, cols)
            _refuse_unclosed_quote(inp.path)
            return info
        if inp.format == "jsonl":
            return _check_jsonl(inp, cols)
        if inp.format in ("gmb", "conll"):
            from .readers import read_conll, read_gmb

            reader = read_gmb if inp.format == "gmb" else read_conll
            next(iter(reader(inp.path, max_sentences=1)), None)
            return InputInfo(has_id=inp.format == "gmb", rows=None)
    except PermissionError as e:
        raise InputError(f"cannot read {inp.path}: {e.strerror}", "check its permissions") from None
    except (gzip.BadGzipFile, *GZIP_ERRORS) as e:
        raise InputError(f"{inp.path} is not a readable gzip file ({one_line(e)})", "replace the file (it may be truncated or corrupt)") from None
    except pa.ArrowException as e:
        raise InputError(f"{inp.path} is not a readable {inp.format} file ({one_line(e)})", fix_for(e)) from None
    except OSError as e:
        raise InputError(f"cannot read {inp.path}: {e.strerror or one_line(e)}", "check the path and its permissions") from None
    raise InputError(f"unknown format {inp.format!r}", f"use one of {', '.join(FORMATS)}")


def _check_jsonl(inp: InputFile, cols: Columns) -> InputInfo:
    """Columns of a JSONL file from its first records. A record may leave a field out (serialisers
    drop null fields; it is then an `empty` row), so the file is refused only when none of the
    records looked at has the column. Bad lines are row problems, reported in docs/."""
    first: dict | None = None
    keys: dict[str, None] = {}  # every key seen, in order
    looked, first_problem = 0, ""
    with open_bytes(inp.path) as f:
        for n, line in enumerate(f, 1):
            if n > _JSONL_PROBE_LINES or f.tell() > _JSONL_PROBE_BYTES:
                break
            if not line.strip():
                continue
            if first is None and not looked:
                _refuse_whole_json(inp.path, line)
            looked += 1
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                first_problem = first_problem or (f"line {n}: {e.msg.removesuffix(' at')} at column {e.colno}" if isinstance(e, json.JSONDecodeError)
                                                  else f"line {n}: not valid UTF-8")
                continue
            if first is None and looked == 1 and isinstance(rec, list):
                _refuse_whole_json(inp.path, b"[")
            if not isinstance(rec, dict):
                first_problem = first_problem or f"line {n}: a JSON {type(rec).__name__}"
                continue
            first = rec if first is None else first
            keys.update(dict.fromkeys(rec))
            if cols.text in keys and (not cols.spans or cols.spans in keys):
                break
    if first is None and looked:  # not one object: another format, not a few bad lines
        raise InputError(f"{inp.path} is not JSON Lines: none of its first {looked} lines is a JSON object ({first_problem})",
                         "pass the right --format, or fix the file")
    if first is None:
        return InputInfo(has_id=bool(cols.id), rows=None, ids_per_record=bool(cols.id))
    _check_columns(inp, list(keys), cols)
    # the first record decides the note "no id column" (each record's own id is used where it has one)
    return InputInfo(has_id=bool(cols.id) and cols.id in first, rows=None, ids_per_record=bool(cols.id))


_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def _refuse_unclosed_quote(path: str) -> None:
    """A quote that is never closed makes Arrow read every row after it as one field, silently (it
    accepts a quoted field still open at the end of the file). Balanced files have an even number of
    quote characters, counted in C at disk speed; only an odd count is parsed again, with Python's csv
    module, which stops at such a field, to name the line where it opens. (A bare quote inside an
    unquoted field, `5" screen`, is also odd and parses fine: such a file passes.)"""
    count = 0
    with open_bytes(path) as f:
        while block := f.read(1 << 24):
            count += block.count(b'"')
    if count % 2 == 0:
        return
    import csv
    import io

    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # the runaway field is long: the default 128 KiB limit would stop first
    with open_bytes(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.reader(f, strict=True)
        start = 1
        try:
            for _ in reader:
                start = reader.line_num + 1
        except csv.Error as e:
            if "end of data" not in str(e) and "EOF" not in str(e):
                return  # a quoting quirk Arrow reads its own way; not the field-runs-to-the-end case
            raise InputError(f"{path}: the quoted field that starts on line {start} is never closed, so every line after it would be read as "
                             "part of that one field", 'close the quote (a quote inside a quoted field is written "")') from None
        finally:
            csv.field_size_limit(limit)


def _refuse_other_separator(path: str, names: list[str], cols: Columns) -> None:
    """A ';'- or tab-separated file read as CSV has one column holding the whole header line;
    `--text-column` cannot fix that, so say what can."""
    if cols.text in names or len(names) != 1:
        return
    sep = next((c for c in _SEPARATORS if c in names[0] and cols.text in names[0].split(c)), None)
    if sep:
        raise InputError(f"{path} has no column {cols.text!r}: its header is one {_SEPARATORS[sep]}-separated column ({names[0]!r}), "
                         "and geobatch reads comma-separated CSV", "save it comma-separated, or as Parquet or JSONL")


def _refuse_utf16(path: str) -> None:
    """UTF-16 text (a byte-order mark, or ASCII with every other byte NUL) read as UTF-8 would be a
    garbage row per half-line; say so up front instead."""
    with open_bytes(path) as f:
        head = f.read(4096)
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(head) >= 4 and head.count(0) * 4 >= len(head)):
        raise InputError(f"{path} is UTF-16 text, not UTF-8",
                         f"save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 {path} > NEW_FILE) and pass that file")


def _refuse_whole_json(path: str, first_line: bytes) -> None:
    """A JSON array, or an object pretty-printed over several lines, is not JSON Lines: read line by
    line it would be one error row per line of the file and none of its documents."""
    head = first_line.strip().removeprefix(codecs.BOM_UTF8)
    if head not in (b"[", b"{"):
        return
    kind, jq = ("a JSON array", "'.[]'") if head == b"[" else ("a JSON object spread over several lines", ".")
    raise InputError(f"{path} holds {kind}, not JSON Lines (one object per line)",
                     f"convert it (e.g. jq -c {jq} {path} > NEW_FILE.jsonl) and pass that file")
