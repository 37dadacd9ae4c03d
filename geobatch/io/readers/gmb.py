"""GMB / Kaggle NER word-per-row CSV: `Sentence #,Word,POS,Tag`, the sentence id on its first row only."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from ...errors import InputError
from ..documents import Sentence
from .text import open_text

REQUIRED = ("Sentence #", "Word", "Tag")


def read_gmb(path: str | Path, encoding: str | None = None, max_sentences: int | None = None) -> Iterator[Sentence]:
    """Yield sentences with words and gold tags. Encoding is detected (UTF-8, else cp1252); CRLF is fine."""
    p = Path(path)
    with open_text(p, encoding) as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{p} is empty", "give a GMB CSV with a `Sentence #,Word,POS,Tag` header") from None
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise InputError(
                f"{p} is not a GMB word-per-row CSV: missing column(s) {', '.join(missing)} (it has {', '.join(header)})",
                "give a file with `Sentence #,Word,POS,Tag` columns or choose another --format",
            )
        i_sent, i_word, i_tag = (header.index(c) for c in REQUIRED)
        sent_id: str | None = None
        words: list[str] = []
        tags: list[str] = []
        count = 0
        for lineno, row in enumerate(reader, 2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(i_sent, i_word, i_tag):
                raise InputError(f"{p} line {lineno} has {len(row)} fields, expected {len(header)}", "fix or remove that line")
            sid = row[i_sent].strip()
            if sid:
                if words:
                    yield Sentence(sent_id or str(count), words, tags)
                    count += 1
                    if max_sentences is not None and count >= max_sentences:
                        return
                sent_id, words, tags = sid, [], []
            elif sent_id is None:
                raise InputError(f"{p} line {lineno} has no sentence id before it", "the first data row must carry `Sentence #`")
            words.append(row[i_word])
            tags.append(row[i_tag].strip() or "O")
        if words:
            yield Sentence(sent_id or str(count), words, tags)
