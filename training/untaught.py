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
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from geobatch.io.documents import Sentence
from geobatch.labels import OUTSIDE, UNTAUGHT, split_tag


MIN_SEEN = 2  # one annotation slip does not make a name


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
            if typ != untaught:
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
