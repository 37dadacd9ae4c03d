"""Which files a job reads, and in which format: files, directories and globs -> `InputFile`s.

A directory or a glob that matches one is listed the way Arrow datasets and Spark list one: nothing
named `.*` or `_*`, and only known extensions unless --format names the format. The format is
--format's or the one the extension names (before a `.gz`); `geobatch.io.check` then opens each file
up front and `geobatch.io.corpus` reads it in chunks.
"""

from __future__ import annotations

import glob as globmod
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

FORMATS = ("parquet", "csv", "jsonl", "gmb", "conll")
EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".conll": "conll"}
GZIP_FORMATS = ("csv", "jsonl")  # formats read through a streaming gzip decompressor
GZIP_MAGIC = b"\x1f\x8b"
# plain text, one document per file: not read as such (a unit and a part file per document would
# follow); the error says how to gather such files into one JSONL corpus instead
PLAIN_TEXT_EXTENSIONS = (".txt",)


def plain_text_fix(where: str) -> str:
    """How to turn plain-text files (one document each) under `where` into a JSONL corpus."""
    if "://" in where:
        return ("geobatch reads one document per row: gather the files into one JSON Lines corpus, one "
                '{"id": ..., "text": ...} object per file, and pass that')
    return ("geobatch reads one document per row: gather the files into JSONL first, e.g. python3 -c "
            "'import json, pathlib, sys; [print(json.dumps({\"id\": str(p), \"text\": p.read_text(encoding=\"utf-8\")})) "
            f"for p in sorted(pathlib.Path(sys.argv[1]).rglob(\"*.txt\"))]' {shlex.quote(where)} > docs.jsonl, then pass --input docs.jsonl")


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
        if ext in PLAIN_TEXT_EXTENSIONS and ext not in extensions:
            where = path.rsplit("/", 1)[0] if "/" in path else "."  # not Path: it folds the // of an object-storage URI
            raise InputError(f"{path} is a plain-text file, not a corpus (Parquet, CSV or JSON Lines)", plain_text_fix(where))
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


def resolve_inputs(paths: list[str], fmt: str | None = None, output: str | os.PathLike | None = None) -> list[InputFile]:
    """Expand files, directories (their files with a known extension, sorted) and globs (a folder
    they match is expanded like a directory). Files under `output` (the job's OUT_DIR) are left out of
    directories and globs: an OUT_DIR inside the input folder held last night's part files, which
    tonight's run then read as input (and refused for their columns)."""
    if not paths:
        raise InputError("no --input given", "pass --input FILE, DIR or GLOB")
    found: list[str] = []
    for raw in paths:
        found += _expanded(raw, fmt, output)
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


def _outside(files: list, output) -> list:
    if output is None:
        return files
    root = os.path.realpath(output)
    return [f for f in files if not (os.path.realpath(f) + os.sep).startswith(root + os.sep)]


def _expanded(raw: str, fmt: str | None, output) -> list[str]:
    """The files one --input names."""
    found: list[str] = []
    if any(ch in raw for ch in "*?["):
        hits = []
        for h in sorted(globmod.glob(raw, recursive=True)):
            if os.path.isfile(h):
                hits.append(h)
            elif os.path.isdir(h):  # a matched folder (partitions: date=2024-*) is read like one given by name
                hits += sorted(str(p) for p in _listed_files(Path(h)) if fmt or _data_suffix(p) in EXTENSIONS)
        inside = hits
        hits = _outside(hits, output)
        if not hits and inside:
            raise InputError(f"--input {raw} matches only files inside --output {output}: they are geobatch's output",
                             "point --input at the corpus, or write --output somewhere else")
        if not hits:
            raise InputError(f"--input {raw} matches no file", "check the pattern (quote it so the shell leaves it alone)")
        found += hits
    elif os.path.isdir(raw):
        listed = _listed_files(Path(raw))
        files = _outside(listed, output)
        hits = sorted(str(p) for p in files if fmt or _data_suffix(p) in EXTENSIONS)
        if not hits and output is not None and _outside([raw], output) == []:  # read from inside the output: its own parts
            raise InputError(f"input directory {raw} lies inside --output {output}: everything in it is geobatch's output",
                             "point --input at the corpus, or write --output somewhere else")
        if not hits:
            others = sorted(p.name for p in files)
            if others and all(_data_suffix(o) in PLAIN_TEXT_EXTENSIONS for o in others):
                raise InputError(f"input directory {raw} holds only plain-text files ({len(others)}, e.g. {others[0]}), not corpora",
                                 plain_text_fix(raw))
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
    return found


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
