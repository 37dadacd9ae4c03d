"""Join a place name that a corpus writes as adjacent spans ("Czech"/gpe "Republic"/geo) into one span.

GMB often tags the parts of one name as separate spans: "Czech Republic" is B-gpe "Czech" B-geo
"Republic" (34 times in gmb/train.csv), "North Korean" B-geo "North" B-gpe "Korean" (32), "South
African" (11). Read as they stand, they teach the model that "Republic" alone is a place and that
"Korean" after "North" is a place too: `tag_demonyms` only retypes a demonym that is a whole span, and
"North Korean" is two. With `join_split_names = true` (training/spec.py) adjacent spans whose words
together are a name the gazetteer knows as a major place (`major_place_names`: "Czech Republic", and
demonyms such as "North Korean", which `tag_demonyms` then retypes whole) become one span of the last
part's type (English puts a name's head last). "Indian Kashmir" stays two: the gazetteer has no such
name. Only place types are joined (never untaught "?" spans), and only parts that start with a
capital letter, the first not an article: "the"/geo "Palestinian"/gpe, "The"/gpe "Colombian"/gpe and
"Bordeaux"/geo "-"/gpe are annotation slips, not names.
"""

from __future__ import annotations

from typing import Callable, Sequence

from geobatch.io.documents import Sentence
from geobatch.labels import ANY_PLACE, KNOWN_PLACE_TYPES

from geobatch.resolve.major_places import ARTICLES

from .untaught import tag_spans

MAX_PARTS = 3  # parts of one name; GMB splits none into more than two


def join_split_names(sentences: Sequence[Sentence], is_name: Callable[[str], bool]) -> list[Sentence]:
    """The sentences with each run of adjacent place spans that together name a place (is_name of the
    words joined by spaces) made one span of the run's last type; the longest run wins."""
    return [_join(s, is_name) for s in sentences]


def _is_place_type(etype: str) -> bool:
    return etype == ANY_PLACE or etype.lower() in KNOWN_PLACE_TYPES


def _join(sentence: Sentence, is_name: Callable[[str], bool]) -> Sentence:
    tags = list(sentence.tags or ())
    spans = tag_spans(tags)
    if len(spans) < 2:
        return sentence
    words, changed, a = sentence.words, False, 0
    while a < len(spans):
        run = 1
        for n in range(min(MAX_PARTS, len(spans) - a), 1, -1):
            part = spans[a:a + n]
            adjacent = all(x[1] == y[0] for x, y in zip(part, part[1:]))
            if (adjacent and all(_is_place_type(t) and words[i][:1].isupper() for i, _, t in part)
                    and words[part[0][0]].lower() not in ARTICLES and is_name(" ".join(words[part[0][0]:part[-1][1]]))):
                i, j, head = part[0][0], part[-1][1], part[-1][2]
                tags[i:j] = [f"B-{head}"] + [f"I-{head}"] * (j - i - 1)
                changed, run = True, n
                break
        a += run
    return Sentence(sentence.id, words, tags) if changed else sentence
