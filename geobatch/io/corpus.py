"""Streaming corpus reader: each input file -> chunks of records, never a whole corpus.

A chunk is `chunk_size` input rows (the last one of a file may be shorter) and is the unit of work
the commit protocol records, so chunk boundaries depend only on the file and `chunk_size`:
Parquet via `ParquetFile.iter_batches`, CSV via `pyarrow.csv.open_csv` (quoted newlines allowed),
JSONL by lines (a bad line becomes one `BadRecord`, so it still yields its one docs/ row), and
word-per-row GMB/CoNLL through `geobatch.io.readers`, where a sentence is a document (one row).
CSV and JSONL may be gzip-compressed (`.csv.gz`, `.jsonl.gz`; told by the file's magic bytes, so a
misnamed one is read right too); they are decompressed as a stream, never whole.

Which files are read, and in which format, is `geobatch.io.inputs`' answer (files, directories and
globs -> `InputFile`s); `geobatch.io.check` opens each one up front.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa

from ..errors import InputError
from .inputs import Columns, InputFile, is_gzip

_CSV_BLOCK = 1 << 22
_CSV_ONE_LINE_PROBE = 1 << 16
# what a damaged gzip stream raises (truncated: EOFError; bad data: zlib.error; bad header: BadGzipFile, an OSError)
GZIP_ERRORS = (EOFError, zlib.error)


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


def open_bytes(path: str):
    """The file's bytes, decompressed as they are read when it is gzip."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def one_line(e: BaseException) -> str:
    """An exception's message on one line, printable (Arrow's span several and may quote raw bytes)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def fix_for(e: BaseException) -> str:
    if "straddl" in str(e):  # one CSV row larger than a read block
        return f"a quoted CSV field with line breaks is longer than {_CSV_BLOCK >> 20} MiB: convert the file to Parquet or JSONL"
    return "fix or replace the file"


def csv_header_only(path: str) -> bytes | None:
    """The file's bytes when it is one line with no line break (a header and no rows, as exports with
    no rows often are), else None. Arrow cannot infer the columns of such a file."""
    with open_bytes(path) as f:
        head = f.read(_CSV_ONE_LINE_PROBE)
    return head if head and len(head) < _CSV_ONE_LINE_PROBE and b"\n" not in head and b"\r" not in head else None


def _csv_source(path: str):
    """The CSV's bytes for Arrow: gzip told by content, not by name (Arrow would guess from the
    extension); a header with no line break gets one (`csv_header_only`)."""
    head = csv_header_only(path)
    if head is not None:
        return pa.BufferReader(head + b"\n")
    return pa.input_stream(path, compression="gzip" if is_gzip(path) else None)


def open_csv(path: str, cols: Columns | None):
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
    with open_bytes(path) as f:
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
                rec = BadRecord(f"line {lineno} is not JSON ({e.msg.removesuffix(' at')} at column {e.colno})")
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
            tables = _rechunk(iter(open_csv(inp.path, cols)), chunk_size)
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
    except (pa.ArrowException, OSError, *GZIP_ERRORS) as e:
        # found mid-file (the header/footer were fine): units before `row` are committed and kept
        fix = fix_for(e) if "straddl" in str(e) else "repair or replace the file"
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
