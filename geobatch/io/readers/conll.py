"""CoNLL-style files: one token per line (`token ... tag`, tag in the last column), blank line between sentences."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ...errors import InputError
from ..documents import Sentence
from .text import open_text


def read_conll(path: str | Path, encoding: str | None = None, max_sentences: int | None = None) -> Iterator[Sentence]:
    p = Path(path)
    words: list[str] = []
    tags: list[str] = []
    count = 0
    with open_text(p, encoding) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                if words:
                    yield Sentence(str(count), words, tags)
                    count += 1
                    words, tags = [], []
                    if max_sentences is not None and count >= max_sentences:
                        return
                continue
            parts = line.split()
            if len(parts) < 2:
                raise InputError(f"{p} line {lineno} has one column", "CoNLL lines need `token ... tag`; separate sentences by a blank line")
            words.append(parts[0])
            tags.append(parts[-1])
    if words:
        yield Sentence(str(count), words, tags)
