"""One place name the model wrote in two pieces is written as one span.

Two pieces, found in the selection slice's output (docs/RESULTS.md §9, "Names in two pieces"):
- a place span of one place type right after one of the other, one space between: "Sri"/B-geo
  "Lanka"/B-gpe. Corpora without geo/gpe types teach "any place" (training/spec.py, `*`), so the model
  picks each word's type freely; decode already joins "South"/B-geo "Africa"/I-gpe, and a B- of the
  other type is the same name split at the type. Two places of one type side by side keep their B-.
  When the two pieces make a demonym ("South"/geo "African"/gpe) the span is the demonym's type.
- a demonym span, one space, then a place span or a capitalised word, that together are a major place's
  own name in the gazetteer (not one of its demonyms): "Saudi"/dem "Arabia"/O, "British"/dem
  "Columbia"/geo. The demonym type is taught on "Saudi officials", and the model carries it into the
  country's name.
- an untagged word that starts with a capital, one space, then a place span, that together are a major
  place's own name: "Sri"/O "Lanka"/geo; never an article ("The U.S."), which the gazetteer's check reads
  past (docs/RESULTS.md §9, "A name's untagged first word").
- the same untagged word before a place span that together are a demonym: "South"/O "African"/gpe is
  written as the demonym "South African" (the demonym type), not as the place "African"; a place span that
  is a demonym alone is left as it is (docs/RESULTS.md §9, "A demonym's untagged first word").
The joined span keeps the place piece's type (geo when the second piece is an untagged word), and its
confidence is over all of its words.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np

from ..resolve.major_places import ARTICLES
from .arrays import ChunkSpans, ChunkWords, TagCodes


# loaded on the first name asked about, once per process: most chunks never ask
@lru_cache(maxsize=1)
def _place_names() -> Callable[[str], bool]:
    from ..resolve.major_places import major_place_names

    return major_place_names(exclude_via=("alternate", "demonym", "code"))


@lru_cache(maxsize=1)
def _demonyms() -> frozenset[str]:
    from ..resolve.sources import demonym_lexicon

    return demonym_lexicon()


def known_place_name(name: str) -> bool:
    """A major place's own name (primary, alias, abbreviation or press name), not a demonym."""
    return _place_names()(name)


def is_demonym(text: str) -> bool:
    """One of the demonyms training tags with the demonym type ("South African", "Saudi")."""
    return text in _demonyms()


def joined_names(spans: ChunkSpans, words: ChunkWords, texts: Sequence[str], codes: TagCodes, place_types: Sequence[str],
                 demonym_type: str | None, is_place_name: Callable[[str], bool] = known_place_name
                 ) -> tuple[ChunkSpans, list[tuple[int, int, int]]]:
    """The chunk's spans with each name in two pieces joined, and the (word_start, word_end, type) of each
    joined span (for the tags the metrics score)."""
    places = set(codes.type_indices(place_types))
    dem = codes.type_indices([demonym_type]) if demonym_type else []
    dem = dem[0] if dem else None
    n = len(spans.doc)
    if n == 0 or (len(places) < 2 and dem is None):
        return spans, []
    doc, ws, we, typ = (spans.doc.tolist(), spans.word_start.tolist(), spans.word_end.tolist(), spans.type.tolist())
    geo = codes.types.index("geo") if "geo" in codes.types else min(places, default=None)
    tagged = codes.prefix[words.tags] != 0  # every tagged word is in a span (chunk_spans), none is cut yet

    def one_space(d: int, left_end: int, right_start: int) -> bool:
        return texts[d][words.ends[left_end - 1]:words.starts[right_start]] == " "

    def capitalised_untagged(d: int, w: int) -> bool:
        """Word w is of document d, untagged and starts with a capital."""
        return (0 <= w < words.doc.size and words.doc[w] == d and not tagged[w]
                and texts[d][words.starts[w]:words.starts[w] + 1].isupper())

    def name_word_before(d: int, a: int) -> bool:
        """The word before word a could begin a place's name: capitalised, untagged, one space before a, and
        no article (the gazetteer's check reads "The U.S." as "U.S.", which the gold never writes)."""
        return (capitalised_untagged(d, a - 1) and one_space(d, a, a)
                and texts[d][words.starts[a - 1]:words.ends[a - 1]].lower() not in ARTICLES)

    out: list[list[int]] = []  # [doc, word_start, word_end, type]
    joined: list[tuple[int, int, int]] = []
    i = 0
    while i < n:
        d, a, b, t = doc[i], ws[i], we[i], typ[i]
        led = led_dem = False
        if (t in places and name_word_before(d, a)
                and not (out and out[-1][0] == d and out[-1][2] >= a)):  # not a word a join before took
            with_lead = texts[d][words.starts[a - 1]:words.ends[b - 1]]
            led = is_place_name(with_lead)  # "Sri" + "Lanka"
            led_dem = not led and dem is not None and is_demonym(with_lead)  # "South" + "African"
        if led or led_dem:
            a -= 1
            t = dem if led_dem else t
        nxt = i + 1 < n and doc[i + 1] == d and ws[i + 1] == b and one_space(d, b, ws[i + 1])
        if nxt and t in places and typ[i + 1] in places and typ[i + 1] != t:
            # "South"/geo "African"/gpe is one name too, but a demonym's: written as one, not as a place
            whole = dem if dem is not None and is_demonym(texts[d][words.starts[a]:words.ends[we[i + 1] - 1]]) else t
            out.append([d, a, we[i + 1], whole])
            joined.append((a, we[i + 1], whole))
            i += 2
            continue
        if t == dem and geo is not None:
            end = None
            if nxt and typ[i + 1] in places:
                end, new_type, pieces = we[i + 1], typ[i + 1], 2
            elif capitalised_untagged(d, b) and one_space(d, b, b):
                end, new_type, pieces = b + 1, geo, 1
            if end is not None and is_place_name(texts[d][words.starts[a]:words.ends[end - 1]]):
                out.append([d, a, end, new_type])
                joined.append((a, end, new_type))
                i += pieces
                continue
        out.append([d, a, b, t])
        if led or led_dem:
            joined.append((a, b, t))
        i += 1
    if not joined:
        return spans, []
    arr = np.array(out, np.int64).reshape(-1, 4)
    conf = np.array([words.confidence_over(a, b) for a, b in zip(arr[:, 1].tolist(), arr[:, 2].tolist())], np.float64)
    return ChunkSpans(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], conf[:, 0], conf[:, 1]), joined


def tags_as_joined(tags: np.ndarray, joined: list[tuple[int, int, int]], codes: TagCodes) -> np.ndarray:
    """The chunk's label indices with each joined span's words tagged as one span of its type."""
    out = tags.copy()
    names = codes.names.tolist()
    for a, b, t in joined:
        out[a] = names.index(f"B-{codes.types[t]}")
        out[a + 1:b] = names.index(f"I-{codes.types[t]}")
    return out
