"""Narrow an untaught span ("?") to the place names inside it; teach the rest of its words as O.

GMB writes "U.S. Embassy", "Dubai World Trade Centre" and "Iraqi Interior Ministry" as organisations;
the news corpora tag the place inside them. Leaving whole organisations untaught (no loss) fixed
"U.S." in "The U.S. embassy", but the model was then never told that "U.N.", "NATO", "Hamas" or "OPEC"
are not places, and it wrote "U.N." and "OPEC" as geo. With `untaught_scope =
"place-names"` (training/spec.py) only the words of an untaught span that name a place stay untaught;
every other word of it is O. A word sequence names a place when the corpus itself tags it, elsewhere,
as a whole span of a taught type at least MIN_SEEN times, and the gazetteer knows it as a major place
(`major_place_names`). The corpus alone cannot tell: GMB tags "U.N." as geo 270 times and "NATO" 4
times (against some 490 and 430 times inside organisations), and "West Bank" as an organisation 148
times and as geo 12. Names the gazetteer has as aliases stay untaught whole: "European Union" (an
alias of Europe), "White House" (a press name of Washington) if the corpus tags it as a place.

Compound words get the same reading (`compound_places = true`): GMB tags the word "U.S.-led" or
"Paris-based" O, and once the splitter cuts it (U.S. - led) each piece is marked COMPOUND_PIECE;
`teach_compound_places` teaches the pieces that name a place as a place of either type ("*": the corpus
judged the compound, so it says neither geo nor gpe for the place inside) and the rest as O. Teaching
is stricter than leaving untaught, so a piece must also be, elsewhere in the corpus, a one-word place
span at least MIN_PLACE_SHARE of the times it stands as a word (`mostly_places`): GMB tags "U.S." so 79 %
of the time, "Paris" 96 %, but "Western" ("Western-backed") 11 %, "Bush" ("Bush-era") 6 %.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Collection, Sequence

from geobatch.io.documents import Sentence
from geobatch.labels import ANY_PLACE, OUTSIDE, UNTAUGHT, split_tag


MIN_SEEN = 2  # one annotation slip does not make a name
# A piece of an O compound word (training/data.py, as_runtime_words), until teach_compound_places
# decides it: never a tag the model or the encoder sees.
COMPOUND_PIECE = "compound-piece"
MIN_PLACE_SHARE = 0.5  # taught as a place in a compound only if mostly one elsewhere


def tag_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) of each BIO span, end exclusive, as seqeval reads them (the scoring's rule:
    an I- that does not continue its type starts a span)."""
    from seqeval.metrics.sequence_labeling import get_entities

    return [(start, end + 1, typ) for typ, start, end in get_entities(list(tags))]


def taught_names(sentences: Sequence[Sentence], is_place: Callable[[str], bool] | None = None,
                 untaught: str = UNTAUGHT) -> set[tuple[str, ...]]:
    """Word sequences the corpus tags as a whole span of a taught type at least MIN_SEEN times (and, with
    is_place, that it accepts, given the words joined by spaces)."""
    seen: Counter = Counter()
    for s in sentences:
        for i, j, typ in tag_spans(s.tags or ()):
            if typ not in (untaught, COMPOUND_PIECE):
                seen[tuple(s.words[i:j])] += 1
    return {name for name, n in seen.items() if n >= MIN_SEEN and (is_place is None or is_place(" ".join(name)))}


def narrow_untaught(sentences: Sequence[Sentence], names: set[tuple[str, ...]], untaught: str = UNTAUGHT) -> list[Sentence]:
    """The sentences with each untaught span cut down to the longest known names inside it, rest O."""
    longest = max((len(n) for n in names), default=0)
    return [_narrow(s, names, longest, untaught) for s in sentences]


def _narrow(sentence: Sentence, names: set[tuple[str, ...]], longest: int, untaught: str) -> Sentence:
    tags = list(sentence.tags or ())
    if not any(split_tag(t)[1] == untaught for t in tags):
        return sentence
    words = sentence.words
    for i, j, typ in tag_spans(tags):
        if typ != untaught:
            continue
        k = i
        while k < j:
            m = next((m for m in range(min(longest, j - k), 0, -1) if tuple(words[k:k + m]) in names), 0)
            if m:
                tags[k:k + m] = [f"B-{untaught}"] + [f"I-{untaught}"] * (m - 1)
                k += m
            else:
                tags[k] = OUTSIDE
                k += 1
    return Sentence(sentence.id, words, tags)


def mostly_places(sentences: Sequence[Sentence], names: set[tuple[str, ...]], not_places: Collection[str] = (),
                  untaught: str = UNTAUGHT) -> set[tuple[str, ...]]:
    """The one-word names that the sentences tag as a one-word span of a taught type other than
    `not_places` (the demonym type) at least MIN_PLACE_SHARE of the times the word stands outside a
    compound piece."""
    words = {n[0] for n in names if len(n) == 1}
    seen: Counter = Counter()
    alone: Counter = Counter()
    for s in sentences:
        tags = s.tags or ()
        for k, w in enumerate(s.words):
            if w in words and split_tag(tags[k])[1] != COMPOUND_PIECE:
                seen[w] += 1
        for i, j, typ in tag_spans(tags):
            if j == i + 1 and s.words[i] in words and typ not in (untaught, COMPOUND_PIECE, *not_places):
                alone[s.words[i]] += 1
    return {(w,) for w in words if seen[w] and alone[w] / seen[w] >= MIN_PLACE_SHARE}


def teach_compound_places(sentences: Sequence[Sentence], names: set[tuple[str, ...]]) -> list[Sentence]:
    """The sentences with each COMPOUND_PIECE span that is one of `names` taught as a place of either
    type ("*"), every other one as O: "U.S.-led" -> U.S./* -/O led/O."""
    narrowed = narrow_untaught(sentences, names, untaught=COMPOUND_PIECE)
    return [s if n is s else Sentence(n.id, n.words, [_as_place(t) for t in n.tags]) for s, n in zip(sentences, narrowed)]


def _as_place(tag: str) -> str:
    prefix, typ = split_tag(tag)
    return f"{prefix}-{ANY_PLACE}" if typ == COMPOUND_PIECE else tag
