"""A state's press abbreviation after a place and a comma is a place too: "Wheeling, W.Va.", "Dalton, Ga.".

News writes a town with its state as "Town, St." (AP style), and the news corpora's gold counts the
abbreviation as a place of its own (TUD-Loc-2013 train 5 of 5, GeoWebNews 16 of 19). The training data
hardly holds them (GMB none), so the model finds "Ga." but can leave "W.Va." untagged (O at 0.55 with
`make model`'s model, docs/RESULTS.md §9, "A state after a place"). Only the press abbreviations the
resolver already knows (resolve/aliases.py: US states, Canadian provinces, Australian states) count,
and of them the ones the word splitter keeps whole ("W.Va.", "Calif.", "Ont."; "Man." or "Penn." reach the
model as a word and a full stop, text/words.py, and are left alone); only untagged, and only right
after a place span and an untagged ", ", so "Miss." or "Ind." elsewhere are never touched.

The new span's type is geo (where the model has it: it tags "Ga." there geo) and its confidence is the
place span's before it: the rule rests on that span, and the model's own score on the word is for O.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from .arrays import ChunkSpans, ChunkWords, TagCodes


@lru_cache(maxsize=1)
def state_abbreviations() -> frozenset[str]:
    """The press abbreviations of states and provinces the resolver knows ("W.Va.", "Calif.", "N.S.W.") that
    the word splitter keeps as one word, as the rule reads them."""
    from ..resolve.aliases import OTHER_ADMIN1_ABBREVIATIONS, US_STATE_ABBREVIATIONS
    from ..text.words import split_words

    forms = {a for table in (US_STATE_ABBREVIATIONS, OTHER_ADMIN1_ABBREVIATIONS) for f in table.values() for a in f}
    return frozenset(a for a in forms if split_words(f"Town, {a}, said")[0][2] == a)


def states_after_places(spans: ChunkSpans, words: ChunkWords, texts: Sequence[str], codes: TagCodes,
                        place_types: Sequence[str]) -> tuple[ChunkSpans, list[tuple[int, int, int]]]:
    """The chunk's spans with a span added for each untagged state abbreviation written ", " after a place
    span, and the (word_start, word_end, type) of each added span (for the tags the metrics score)."""
    places = codes.type_indices(place_types)
    if len(spans.doc) == 0 or not places:
        return spans, []
    new_type = codes.types.index("geo") if "geo" in codes.types else places[0]
    place_set = set(places)
    abbreviations = state_abbreviations()
    tagged = codes.prefix[words.tags] != 0
    n_words = words.doc.size
    added: list[tuple[int, int, int]] = []
    rows: list[list[float]] = []
    for d, a, b, t, c, cmin in zip(spans.doc.tolist(), spans.word_start.tolist(), spans.word_end.tolist(),
                                   spans.type.tolist(), spans.confidence.tolist(), spans.confidence_min.tolist()):
        rows.append([d, a, b, t, c, cmin])
        w = b + 1  # the word after the comma
        # ", " between the span and the word: the comma is word b, right after the span, then one space; both
        # untagged, so the new span never comes before another (spans stay in word order)
        if (t in place_set and w < n_words and words.doc[w] == d and not tagged[b] and not tagged[w]
                and texts[d][words.ends[b - 1]:words.starts[w]] == ", "
                and texts[d][words.starts[w]:words.ends[w]] in abbreviations):
            rows.append([d, w, w + 1, new_type, c, cmin])
            added.append((w, w + 1, new_type))
    if not added:
        return spans, []
    arr = np.array(rows, np.float64).reshape(-1, 6)
    ints = arr[:, :4].astype(np.int64)
    return ChunkSpans(ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3], arr[:, 4], arr[:, 5]), added
