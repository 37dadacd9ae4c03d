"""Input planning for the Ray engine: local files (the local engine's own checks) and object-storage URIs.

Everything here runs on the driver before Ray starts or OUT_DIR is touched, so a bad input stops
the job with one line. Local paths go through `geobatch.io.inputs` and `geobatch.io.check` (same
expansion, same identity, so either engine can resume the other's output); `s3://`, `gs://`, `abfs://`… go through `pyarrow.fs`
(a file or a prefix, no globs) with the same header/footer checks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pyarrow as pa

from ..errors import GeobatchError, InputError, first_line
from ..io.check import check_input
from ..io.corpus import csv_header_only
from ..io.inputs import (EXTENSIONS, GZIP_MAGIC, Columns, InputFile, InputInfo, format_for, id_prefixes, is_gzip, is_listed,
                        resolve_inputs)
from ..model.model_dir import ModelDir, load_model_dir
from . import RunConfig

ROW_FORMATS = ("parquet", "csv", "jsonl")


@dataclass
class Source:
    """One input file as the Ray job sees it."""

    index: int
    inp: InputFile
    info: InputInfo
    prefix: str  # doc id prefix for row-number ids (several inputs without an id column)
    key: str  # the file's path as Ray's `path` column spells it
    gzip: bool = False  # the file starts with gzip's magic bytes (whatever its name says)
    no_rows: bool = False  # a CSV that is a header with no line break: 0 rows (Ray's reader fails on it), not read


def _is_gzip(path: str) -> bool:
    """inputs.is_gzip, for object storage too (its first two bytes, read undecompressed)."""
    if not _is_uri(path):
        return is_gzip(path)
    from pyarrow.fs import FileSystem

    try:
        fs, p = FileSystem.from_uri(path)
        with fs.open_input_stream(p, compression=None) as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False  # unreadable: _remote_info says so in one line


def read_args(sources: list[Source]) -> dict:
    """The decompression Ray's readers need. Ray tells gzip by the name (`.gz`), one setting for every
    file of a read; the local engine by the magic bytes. Where the two agree for every input, Ray's
    own rule reads each file right; where every input is gzip, it is told so; otherwise (gzip data
    without `.gz` beside plain files, or a `.gz` name on plain data) Ray would read compressed bytes
    as text or fail mid-job, so the job is refused up front."""
    sources = [s for s in sources if not s.no_rows]
    if all(s.gzip == _named_gz(s.inp.path) for s in sources):
        return {}
    if all(s.gzip for s in sources):
        return {"arrow_open_stream_args": {"compression": "gzip"}}
    odd = next(s for s in sources if s.gzip != _named_gz(s.inp.path))
    what = "is gzip-compressed but not named .gz" if odd.gzip else "is named .gz but is not gzip-compressed"
    raise InputError(f"--engine ray tells gzip input by its name, and {odd.inp.path} {what}",
                     "give it the right name (.gz only on gzip files), or run the job with --engine local")


def _named_gz(path: str) -> bool:
    return path.lower().endswith(".gz")


def _is_uri(path: str) -> bool:
    """Object storage (s3://, gs://, abfs://, …) and file:// go through pyarrow.fs; plain paths through geobatch.io.inputs."""
    return "://" in path


def _ray_key(path: str) -> str:
    """How Ray's `path` column names a file: local paths absolute, URIs without their scheme."""
    if "://" in path:
        from pyarrow.fs import FileSystem

        return FileSystem.from_uri(path)[1]
    return os.path.abspath(path)


def _remote_inputs(paths: list[str], fmt: str | None) -> list[InputFile]:
    """Files under object-storage URIs (a file or a prefix; no globs), with size and mtime (the job's
    identity adds each file's content hash, `geobatch.io.fingerprint`)."""
    from pyarrow.fs import FileSelector, FileSystem, FileType

    out = []
    for uri in paths:
        try:
            fs, root = FileSystem.from_uri(uri)
            info = fs.get_file_info(root)
        except Exception as e:  # noqa: BLE001 - pyarrow raises several kinds for bad URIs/credentials
            raise InputError(f"cannot open {uri}: {first_line(e)}", "check the URI and the credentials of this machine") from None
        scheme = uri.split("://", 1)[0]
        if info.type == FileType.File:
            infos = [info]
        elif info.type == FileType.Directory:
            # the local directory rule (inputs.is_listed): nothing under `_temporary/`, `_delta_log/`, `.*`;
            # `.jsonl.gz` and `.csv.gz` count as their format
            base = root.rstrip("/") + "/"
            infos = sorted((i for i in fs.get_file_info(FileSelector(root, recursive=True)) if i.type == FileType.File
                            and is_listed(i.path[len(base):] if i.path.startswith(base) else i.base_name, fmt)),
                           key=lambda i: i.path)
            if not infos:
                raise InputError(f"{uri} holds no input files", f"put {', '.join(sorted(EXTENSIONS))} files there")
        else:
            raise InputError(f"input {uri} does not exist", "check the URI")
        for i in infos:
            full = f"{scheme}://{i.path}"
            mtime = int(i.mtime.timestamp() * 1e9) if i.mtime else 0
            out.append(InputFile(full, format_for(full, fmt), int(i.size or 0), mtime))
    return out


def _remote_info(inp: InputFile, cols: Columns, gz: bool = False) -> InputInfo:
    """Header/footer check of an object-storage file (the local engine's `check_input`, through pyarrow.fs);
    `gz`: its bytes are gzip, told by their magic (as inputs.is_gzip), not its name."""
    from pyarrow.fs import FileSystem

    fs, path = FileSystem.from_uri(inp.path)
    if gz and inp.format == "parquet":
        raise InputError(f"{inp.path} is gzip-compressed, which is not read for parquet input",
                         "decompress it (gunzip) and pass the decompressed file")
    compression = "gzip" if gz else None
    try:
        if inp.format == "parquet":
            import pyarrow.parquet as pq

            with fs.open_input_file(path) as f:
                pf = pq.ParquetFile(f)
                names, rows = pf.schema_arrow.names, pf.metadata.num_rows
        elif inp.format == "csv":
            import pyarrow.csv as pcsv

            with fs.open_input_stream(path, compression=compression) as f:
                names, rows = pcsv.open_csv(f, read_options=pcsv.ReadOptions(block_size=1 << 16)).schema.names, None
        else:
            with fs.open_input_stream(path, compression=compression) as f:
                first = next((ln for ln in f.read(1 << 20).splitlines() if ln.strip()), b"{}")
            try:
                rec = json.loads(first)
            except ValueError:
                rec = {}
            names, rows = (list(rec) if isinstance(rec, dict) else []), None
    except (OSError, pa.ArrowInvalid) as e:
        raise InputError(f"cannot read {inp.path}: {first_line(e)}", "check the file and the credentials of this machine") from None
    if cols.text not in names and (inp.format != "jsonl" or names):
        raise InputError(f"{inp.path} has no column {cols.text!r} (it has {', '.join(names) or 'none'})", "pass --text-column NAME")
    if cols.spans and cols.spans not in names and (inp.format != "jsonl" or names):
        raise InputError(f"{inp.path} has no spans column {cols.spans!r}", cols.missing_spans_fix())
    # JSONL: each record's own id when it has one, else its row number (the local engine's rule)
    return InputInfo(has_id=bool(cols.id) and cols.id in names, rows=rows, ids_per_record=inp.format == "jsonl" and bool(cols.id))


def plan_sources(config: RunConfig, note) -> tuple[ModelDir, list[Source], Columns]:
    """Validate model and inputs before anything is started or written (the local engine's order)."""
    model = load_model_dir(config.model)
    o = config.pipeline
    cols = Columns(o.text_column, o.id_column, o.spans_column)
    local_paths = [p for p in config.inputs if not _is_uri(p)]
    inputs = (resolve_inputs(local_paths, config.format, None if _is_uri(str(config.output)) else config.output) if local_paths else []) + \
        (_remote_inputs([p for p in config.inputs if _is_uri(p)], config.format) if len(local_paths) < len(config.inputs) else [])
    word_rows = sorted({i.format for i in inputs if i.format not in ROW_FORMATS})
    if word_rows:
        raise GeobatchError(
            f"--engine ray reads Parquet, CSV and JSONL; {'/'.join(word_rows)} input is word-per-row (a document spans many rows)",
            "run it with --engine local, or convert it to a file with a text column",
        )
    formats = sorted({i.format for i in inputs})
    if len(formats) > 1:
        raise GeobatchError(f"--engine ray reads one format per run, got {', '.join(formats)}",
                            "run once per format (separate --output), or convert the inputs to one format")
    infos = [check_input(i, cols) if not _is_uri(i.path) else None for i in inputs]  # local: refuses gzip Parquet, UTF-16…
    gz = [_is_gzip(i.path) for i in inputs]
    infos = [info if info is not None else _remote_info(i, cols, g) for i, info, g in zip(inputs, infos, gz)]
    if o.id_column:
        no_id = [i for i, info in zip(inputs, infos) if not info.has_id]
        if no_id:
            note(f"note: no id column {o.id_column!r} in {no_id[0].path}" + (f" and {len(no_id) - 1} more input(s)" if len(no_id) > 1 else "")
                 + "; doc_id is the row number" + (" prefixed with the file name" if len(inputs) > 1 else ""))
    if o.spans_column:
        o.with_gold = True
    sources = []
    for n, (inp, info, prefix) in enumerate(zip(inputs, infos, id_prefixes(inputs, infos))):
        no_rows = inp.format == "csv" and not _is_uri(inp.path) and csv_header_only(inp.path) is not None
        sources.append(Source(n, inp, info, prefix, _ray_key(inp.path), gz[n], no_rows))
    keys = [s.key for s in sources]
    if len(set(keys)) != len(keys):
        raise InputError("two inputs name the same file", "pass each file once")
    read_args(sources)  # refused here, before Ray starts, when Ray cannot tell which inputs are gzip
    return model, sources, cols
