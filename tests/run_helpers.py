"""Helpers for tests that drive `geobatch run` through the CLI and read what it wrote."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from geobatch.cli import main


def run(*args):
    return main(["run", "--quiet", "--no-resolve", *map(str, args)])


def read(out, table):
    return pq.read_table(out / table).to_pylist()


def docs_by_id(out):
    return {d["doc_id"]: d for d in read(out, "docs")}


def manifest(out):
    return json.loads((out / "manifest.json").read_text())


def one_error_line(capsys) -> str:
    """The run printed exactly one line on stderr, `error: problem; fix`, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], err
    return lines[0]


def decode_chunk(text: str, tags: list[str], labels: list[str], place_types=("geo", "gpe")):
    """One document as decode sees it: its words (letters and digits, or one punctuation mark each) with
    the given tags, as ChunkWords, the spans `chunk_spans` makes of them, and the TagCodes."""
    import re

    import numpy as np

    from geobatch.decode.arrays import ChunkWords, TagCodes, chunk_spans

    codes = TagCodes(labels)
    found = list(re.finditer(r"\w+|[^\w\s]", text))
    n = len(found)
    idx = np.array([labels.index(t) for t in tags], np.int64)
    conf = np.linspace(0.9, 0.5, n).astype(np.float32)
    words = ChunkWords([0], np.array([0, n]), np.zeros(n, np.int64), idx, conf,
                       np.array([m.start() for m in found]), np.array([m.end() for m in found]))
    return words, chunk_spans(idx, conf, words.doc, codes, place_types), codes


class BatchRecorder:
    """A tagger that keeps every batch it is given and says O (label 0) everywhere: what the run feeds the model."""
    provider = "CPUExecutionProvider"

    def __init__(self, n_labels: int):
        self.n_labels = n_labels
        self.batches = []

    def run(self, batch):
        import numpy as np

        self.batches.append(batch)
        return np.zeros(batch.input_ids.shape + (self.n_labels,), np.float32)
