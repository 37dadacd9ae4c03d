"""Streaming corpus reader: files, directories and globs -> chunks of records, never a whole corpus.

A chunk is `chunk_size` input rows (the last one of a file may be shorter) and is the unit of work
the commit protocol records, so chunk boundaries depend only on the file and `chunk_size`:
Parquet via `ParquetFile.iter_batches`, CSV via `pyarrow.csv.open_csv` (quoted newlines allowed),
JSONL by lines (a bad line becomes one `BadRecord`, so it still yields its one docs/ row), and
word-per-row GMB/CoNLL through `geobatch.io.readers`, where a sentence is a document (one row).
CSV and JSONL may be gzip-compressed (`.csv.gz`, `.jsonl.gz`; told by the file's magic bytes, so a
misnamed one is read right too); they are decompressed as a stream, never whole.

`check_input` opens every file's header/footer up front so a bad input stops the job before any
output is committed.
"""

from __future__ import annotations

import codecs
import glob as globmod
import gzip
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from ..errors import InputError

FORMATS = ("parquet", "csv", "jsonl", "gmb", "conll")
EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".conll": "conll"}
GZIP_FORMATS = ("csv", "jsonl")  # formats read through a streaming gzip decompressor
GZIP_MAGIC = b"\x1f\x8b"
_CSV_BLOCK = 1 << 22
_CSV_ONE_LINE_PROBE = 1 << 16
_JSONL_PROBE_LINES, _JSONL_PROBE_BYTES = 1000, 1 << 24  # how far the up-front check looks for a JSONL column
# what a damaged gzip stream raises (truncated: EOFError; bad data: zlib.error; bad header: BadGzipFile, an OSError)
_GZIP_ERRORS = (EOFError, zlib.error)


@dataclass(frozen=True)
class InputFile:
    path: str
    format: str
    size: int
    mtime_ns: int

    def identity(self) -> dict:
        """The file as the job records it; `OutputDir.open` adds its content hash (`geobatch.io.fingerprint`),
        which a resumed job compares, with the path and size, instead of the modification time."""
        return {"path": self.path, "format": self.format, "size": self.size, "mtime_ns": self.mtime_ns}


@dataclass(frozen=True)
class Columns:
    text: str = "text"
    id: str | None = "id"
    spans: str | None = None
    spans_required: bool = False  # geobatch resolve: the spans are its input, "leave it out" is no fix

    def missing_spans_fix(self) -> str:
        return ("pass --spans-column NAME: the column that holds each document's spans" if self.spans_required
                else "pass --spans-column NAME or leave it out")


@dataclass
class InputInfo:
    has_id: bool  # the id column is there (JSONL: in the first record)
    rows: int | None  # known up front (Parquet) or None
    ids_per_record: bool = False  # JSONL: each record's own id when it has one, else its row number

    @property
    def use_ids(self) -> bool:
        """What to pass as `Pipeline.process(has_id=...)`."""
        return self.has_id or self.ids_per_record


@dataclass
class BadRecord:
    """A JSONL line that is not a JSON object: kept so it still yields its `error` docs/ row."""

    message: str


@dataclass
class Chunk:
    input_index: int
    index: int  # chunk number within its input
    row_start: int  # first row's number within its input
    records: object  # pa.Table (parquet, csv) | list[dict | BadRecord] (jsonl) | list[Sentence] (gmb, conll)
    n_rows: int
    bytes_read: int | None = None  # position in the file after this chunk, when cheap to know

    @property
    def unit_id(self) -> str:
        return f"{self.input_index:05d}-{self.index:06d}"


def _data_suffix(path: str | Path) -> str:
    """The extension that names the format: `.jsonl` for both `x.jsonl` and `x.jsonl.gz`."""
    p = Path(path)
    return (Path(p.stem).suffix if p.suffix.lower() == ".gz" else p.suffix).lower()


def format_for(path: str, fmt: str | None, formats: tuple[str, ...] = FORMATS, extensions: dict[str, str] = EXTENSIONS,
               gzip_formats: tuple[str, ...] = GZIP_FORMATS) -> str:
    """`fmt` when given (checked against `formats`), else the one `path`'s extension names (before a
    `.gz`). Training passes its own formats and extensions (word-per-row and span documents)."""
    if fmt:
        if fmt not in formats:
            raise InputError(f"unknown format {fmt!r}", f"use one of {', '.join(formats)}")
        found = fmt
    else:
        ext = _data_suffix(path)
        if ext not in extensions:
            raise InputError(f"cannot tell the format of {path} from its extension", f"pass --format {'|'.join(formats)}")
        found = extensions[ext]
    if Path(path).suffix.lower() == ".gz" and found not in gzip_formats:
        raise InputError(f"{path} is gzip-compressed {found}, which is not read compressed",
                         f"decompress it (gunzip -k {path}) and pass the decompressed file")
    return found


def is_gzip(path: str) -> bool:
    """The file starts with gzip's magic bytes (whatever its name says)."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _open_bytes(path: str):
    """The file's bytes, decompressed as they are read when it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def _hidden(name: str) -> bool:
    """A file or folder named `.*` or `_*` is not data (Arrow datasets' and Spark's rule: notebook
    checkpoints, `_temporary/` attempts, `_delta_log/`, `_SUCCESS`)."""
    return name.startswith((".", "_"))


def is_listed(relative: str, fmt: str | None) -> bool:
    """Whether a file found at `relative` ('/'-separated, below a directory or object-storage prefix
    given as input) is an input: nothing on its way named `.*` or `_*`, and a known extension
    (before a `.gz`) unless --format names the format. The Ray engine lists prefixes with it."""
    parts = [p for p in relative.split("/") if p]
    return bool(parts) and not any(map(_hidden, parts)) and (bool(fmt) or _data_suffix(parts[-1]) in EXTENSIONS)


def _listed_files(root: Path) -> list[Path]:
    """Files under `root`, leaving out those named or under a folder named `.*` or `_*` (`_hidden`)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        out += [Path(dirpath, f) for f in filenames if not _hidden(f) and os.path.isfile(os.path.join(dirpath, f))]
    return out


def resolve_inputs(paths: list[str], fmt: str | None = None) -> list[InputFile]:
    """Expand files, directories (their files with a known extension, sorted) and globs (a folder
    they match is expanded like a directory)."""
    if not paths:
        raise InputError("no --input given", "pass --input FILE, DIR or GLOB")
    found: list[str] = []
    for raw in paths:
        if any(ch in raw for ch in "*?["):
            hits = []
            for h in sorted(globmod.glob(raw, recursive=True)):
                if os.path.isfile(h):
                    hits.append(h)
                elif os.path.isdir(h):  # a matched folder (partitions: date=2024-*) is read like one given by name
                    hits += sorted(str(p) for p in _listed_files(Path(h)) if fmt or _data_suffix(p) in EXTENSIONS)
            if not hits:
                raise InputError(f"--input {raw} matches no file", "check the pattern (quote it so the shell leaves it alone)")
            found += hits
        elif os.path.isdir(raw):
            files = _listed_files(Path(raw))
            hits = sorted(str(p) for p in files if fmt or _data_suffix(p) in EXTENSIONS)
            if not hits:
                others = sorted(p.name for p in files)
                skipped = f" ({len(others)} file(s) with other extensions, e.g. {others[0]})" if others else ""
                raise InputError(f"input directory {raw} holds no input files{skipped}",
                                 f"put {', '.join(sorted(EXTENSIONS))} files there, pass files, or pass --format to read other extensions")
            found += hits
        elif os.path.exists(raw):
            if not os.path.isfile(raw):  # reading a pipe's first bytes up front would lose them, and resume rereads inputs
                raise InputError(f"input {raw} is not a regular file (a pipe or a device)",
                                 "write it to a file first and pass that (a job must be able to read its input again to resume)")
            found.append(raw)
        else:
            raise InputError(f"input {raw} does not exist", "check the path")
    out = []
    seen = set()
    for f in found:
        ap = os.path.abspath(f)
        if ap in seen:
            continue
        seen.add(ap)
        st = os.stat(ap)
        out.append(InputFile(ap, format_for(ap, fmt), st.st_size, st.st_mtime_ns))
    return out


def id_prefixes(inputs: list[InputFile], infos: list[InputInfo]) -> list[str]:
    """The doc_id prefix of each input's row-number ids: none for one input or an input with ids,
    else its file name, or, where two inputs share a name, its path below the folder they all share."""
    if len(inputs) < 2:
        return [""] * len(inputs)
    names = [inp.path.rstrip("/").rsplit("/", 1)[-1] for inp in inputs]
    if len(set(names)) < len(names):
        parents = [inp.path.rstrip("/").split("/")[:-1] for inp in inputs]  # "/" also splits object-storage URIs
        shared = 0
        while all(len(p) > shared and p[shared] == parents[0][shared] for p in parents):
            shared += 1
        names = ["/".join(inp.path.rstrip("/").split("/")[shared:]) for inp in inputs]
    return [f"{name}:" if not info.has_id else "" for name, info in zip(names, infos)]


def one_line(e: BaseException) -> str:
    """An exception's message on one line, printable (Arrow's span several and may quote raw bytes)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
            reader = _open_csv(inp.path, None)
            try:
                names = reader.schema.names
            except UnicodeDecodeError:
                raise InputError(f"{inp.path} has a header line that is not valid UTF-8", "save the file as UTF-8") from None
            reader.close() if hasattr(reader, "close") else None
            _refuse_other_separator(inp.path, names, cols)
            return _check_columns(inp, names, cols)
        if inp.format == "jsonl":
            return _check_jsonl(inp, cols)
        if inp.format in ("gmb", "conll"):
            from .readers import read_conll, read_gmb

            reader = read_gmb if inp.format == "gmb" else read_conll
            next(iter(reader(inp.path, max_sentences=1)), None)
            return InputInfo(has_id=inp.format == "gmb", rows=None)
    except PermissionError as e:
        raise InputError(f"cannot read {inp.path}: {e.strerror}", "check its permissions") from None
    except (gzip.BadGzipFile, *_GZIP_ERRORS) as e:
        raise InputError(f"{inp.path} is not a readable gzip file ({one_line(e)})", "replace the file (it may be truncated or corrupt)") from None
    except pa.ArrowException as e:
        raise InputError(f"{inp.path} is not a readable {inp.format} file ({one_line(e)})", _fix_for(e)) from None
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
    with _open_bytes(inp.path) as f:
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
                first_problem = first_problem or (f"line {n}: {e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError)
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
    with _open_bytes(path) as f:
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


def _fix_for(e: BaseException) -> str:
    if "straddl" in str(e):  # one CSV row larger than a read block
        return f"a quoted CSV field with line breaks is longer than {_CSV_BLOCK >> 20} MiB: convert the file to Parquet or JSONL"
    return "fix or replace the file"


def csv_header_only(path: str) -> bytes | None:
    """The file's bytes when it is one line with no line break (a header and no rows, as exports with
    no rows often are), else None. Arrow cannot infer the columns of such a file."""
    with _open_bytes(path) as f:
        head = f.read(_CSV_ONE_LINE_PROBE)
    return head if head and len(head) < _CSV_ONE_LINE_PROBE and b"\n" not in head and b"\r" not in head else None


def _csv_source(path: str):
    """The CSV's bytes for Arrow: gzip told by content, not by name (Arrow would guess from the
    extension); a header with no line break gets one (`csv_header_only`)."""
    head = csv_header_only(path)
    if head is not None:
        return pa.BufferReader(head + b"\n")
    return pa.input_stream(path, compression="gzip" if is_gzip(path) else None)


def _open_csv(path: str, cols: Columns | None):
    import pyarrow.csv as pcsv

    convert = None
    if cols is not None:
        # binary, decoded per row: one bad byte sequence marks one row, not the whole file
        wanted = [c for c in (cols.text, cols.id, cols.spans) if c]
        convert = pcsv.ConvertOptions(column_types={c: pa.binary() for c in wanted}, include_columns=wanted, include_missing_columns=True)
    return pcsv.open_csv(
        _csv_source(path),
        read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK),
        parse_options=pcsv.ParseOptions(newlines_in_values=True),
        convert_options=convert,
    )


def _rechunk(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for b in batches:
        if b.num_rows == 0:
            continue
        pending.append(b)
        count += b.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending = rest.to_batches() if rest.num_rows else []
            count = rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def _jsonl_chunks(path: str, size: int) -> Iterator[tuple[list, int]]:
    records: list = []
    with _open_bytes(path) as f:
        raw = getattr(f, "fileobj", f)  # gzip: the compressed file's position (read ahead a little)
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    rec = BadRecord(f"line {lineno} is a JSON {type(rec).__name__}, not an object")
            except UnicodeDecodeError as e:
                rec = BadRecord(f"line {lineno} is not valid UTF-8 ({e.reason} at byte {e.start})")
            except json.JSONDecodeError as e:
                rec = BadRecord(f"line {lineno} is not JSON ({e.msg} at column {e.colno})")
            records.append(rec)
            if len(records) == size:
                yield records, raw.tell()
                records = []
        if records:
            yield records, raw.tell()


def iter_chunks(inp: InputFile, input_index: int, chunk_size: int, cols: Columns) -> Iterator[Chunk]:
    """Yield the file's chunks in order. Errors reading mid-file become InputError."""
    if chunk_size < 1:
        raise InputError("--chunk-size must be at least 1", "pass a positive number of records")
    row = 0
    try:
        if inp.format == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(inp.path)
            names = pf.schema_arrow.names
            wanted = [c for c in (cols.text, cols.id, cols.spans) if c and c in names]
            tables = _rechunk(pf.iter_batches(batch_size=min(chunk_size, 65536), columns=wanted), chunk_size)
            source = ((t, t.num_rows, None) for t in tables)
        elif inp.format == "csv":
            tables = _rechunk(iter(_open_csv(inp.path, cols)), chunk_size)
            source = ((t, t.num_rows, None) for t in tables)
        elif inp.format == "jsonl":
            source = ((recs, len(recs), pos) for recs, pos in _jsonl_chunks(inp.path, chunk_size))
        else:
            from .readers import read_conll, read_gmb

            sentences = (read_gmb if inp.format == "gmb" else read_conll)(inp.path)
            source = ((recs, len(recs), None) for recs in _batched(sentences, chunk_size))
        for k, (records, n, pos) in enumerate(source):
            yield Chunk(input_index, k, row, records, n, pos)
            row += n
    except (pa.ArrowException, OSError, *_GZIP_ERRORS) as e:
        # found mid-file (the header/footer were fine): units before `row` are committed and kept
        fix = _fix_for(e) if "straddl" in str(e) else "repair or replace the file"
        where, kept = (f" past row {row}", f"; units before row {row} are kept") if row else ("", "")
        raise InputError(f"{inp.path} could not be read{where} ({getattr(e, 'strerror', None) or one_line(e)})",
                         f"{fix}, then rerun (with --overwrite if the file changed){kept}") from None


def _batched(it, n):
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf
