"""Demonyms as a type of their own, on words and their tags: shared by training and scoring.

A model trained with a spec's `demonym_type` (training/spec.py) learnt "French", "Iraqi", "South
Korean" as that type wherever they stand alone, whatever the corpus wrote (GMB: gpe, GeoWebNews: a
place, TUD-Loc-2013 and GeoVirus: nothing). Word-per-row gold is mapped the same way before it is
scored (geobatch.pipeline.gold_mapper), so a run's metrics compare the model with the gold it was
taught, not GMB's gpe with a type the model never writes as gpe.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ..labels import OUTSIDE
from .words import split_words


def demonym_matcher(lexicon: Iterable[str]) -> dict[str, list[list[str]]]:
    """Demonyms as word sequences (cut by split_words), longest first, keyed by their first word."""
    out: dict[str, list[list[str]]] = {}
    for d in lexicon:
        w = split_words(d)[0]
        if w:
            out.setdefault(w[0], []).append(w)
    for seqs in out.values():
        seqs.sort(key=len, reverse=True)
    return out


def retype_demonyms(words: Sequence[str], tags: Sequence[str], matcher: dict[str, list[list[str]]], dem_type: str) -> list[str]:
    """The tags with every demonym that stands alone retyped `dem_type`: outside any span, or a whole
    span of its own (GMB's gpe "Iraqi", GeoWebNews' Demonym). A demonym inside a longer name ("Korean
    Peninsula", "European Union") keeps the name's tag."""
    words, tags = list(words), list(tags)
    n, i = len(words), 0
    while i < n:
        k = next((len(seq) for seq in matcher.get(words[i], ()) if words[i:i + len(seq)] == seq), 0)
        if not k:
            i += 1
            continue
        j = i + k
        continues = j < n and tags[j].startswith("I-")
        alone = all(t == OUTSIDE for t in tags[i:j])
        whole = tags[i].startswith("B-") and all(t == "I-" + tags[i][2:] for t in tags[i + 1:j])
        if (alone or whole) and not continues:
            tags[i:j] = [f"B-{dem_type}"] + [f"I-{dem_type}"] * (k - 1)
        i = j
    return tags
