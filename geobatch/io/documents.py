"""The records that flow between stages.

A `Sentence` is word-level: words with optional gold tags (GMB and CoNLL files, training data).
A `SpanDocument` is character-level: a text with optional gold spans (JSONL/Parquet corpora).
Both become `Words` (a text plus each word's character offsets) before tokenization.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Span:
    start: int
    end: int
    label: str | None = None
    # anything else the source carried (gold lat/lon, geonameid, type, surface ...)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sentence:
    id: str
    words: list[str]
    tags: list[str] | None = None


@dataclass
class SpanDocument:
    id: str
    text: str
    spans: list[Span] | None = None
