"""More text to learn place names on: training sentences with their place names swapped.

`geobatch train --teacher T --distill-augment N` adds, for each training sentence (or document) that
holds a place span, N copies in which every place span's words are replaced by the words of a place
name drawn from the embedded gazetteer. A copy's words are all untaught ("?"): the gold tags say
nothing about it (the new name may be of another kind than the old, a gpe where GMB had a geo), so
only the teacher's distribution trains the student there. This is a transfer set in the sense of
Hinton et al. (2015) and TinyBERT's data augmentation (Jiao et al., 2020): the student sees its
teacher on more inputs than the gold tags cover, here on the place names a news corpus may hold and
the training data does not ("Kharkiv", a county seat, a river).

`geobatch train --augment N` makes the same copies taught by gold tags instead (mention replacement,
Dai and Adel, 2020): the new name's words are a place of any type ("*" where the run has untyped
places, else the replaced span's type) and every other word keeps its tag, so a model without a teacher
learns the names too. The two are not combined (options.py).

Copies are made after the validation hold-out, from the training side only, so no validation
sentence reaches training in another guise; each copy counts in the same corpus as its source (same
weight), so each copy adds to every epoch (N = 1 with training/geoparse.toml: 1.66x the steps).
"""

from __future__ import annotations

import random
from typing import Sequence

from geobatch.io.documents import Sentence
from geobatch.labels import UNTAUGHT
from geobatch.text.words import split_words

from .untaught import tag_spans

MIN_CITY = 15_000  # a city smaller than this is rarely news; most of the gazetteer's rows are such towns


def place_name_pool() -> list[str]:
    """Primary names of the gazetteer's continents, countries, first-level subdivisions, water bodies,
    landforms and cities of at least MIN_CITY people, each once, in a fixed order."""
    from geobatch.resolve.index import load_or_build
    from geobatch.resolve.sources import FEATURE_NAMES

    gaz = load_or_build()
    keep = {FEATURE_NAMES.index(f) for f in ("continent", "country", "admin1", "water", "landform")}
    city = FEATURE_NAMES.index("city")
    names = {str(gaz.name[row]) for row in range(len(gaz))
             if gaz.feature[row] in keep or (gaz.feature[row] == city and gaz.population[row] >= MIN_CITY)}
    return sorted(n for n in names if n.strip())


def swap_place_names(sentences: Sequence[Sentence], place_types: set[str], names: Sequence[str], copies: int,
                     seed: int, taught_as: str | None = None, taught: bool = False) -> tuple[list[Sentence], list[int]]:
    """Up to `copies` copies of each sentence holding a span of one of place_types, each place span's
    words replaced by a random name's words (split as `geobatch run` splits text). Untaught everywhere,
    or with `taught` the new names tagged `taught_as` (None: the replaced span's type) and the other words
    as in the source. Returns the copies and, for each, the index of the sentence it came from."""
    rng = random.Random(seed)
    split = {}
    out: list[Sentence] = []
    source: list[int] = []
    for i, s in enumerate(sentences):
        tags = list(s.tags or ["O"] * len(s.words))
        spans = [(a, b, typ) for a, b, typ in tag_spans(tags) if typ in place_types]
        if not spans:
            continue
        for c in range(copies):
            words: list[str] = []
            new_tags: list[str] = []
            at = 0
            for a, b, typ in spans:
                name = names[rng.randrange(len(names))]
                if name not in split:
                    split[name] = split_words(name)[0]
                words += s.words[at:a] + split[name]
                if taught:  # an untaught copy's tags do not depend on the spans: built once, below
                    label = taught_as or typ
                    new_tags += tags[at:a] + [f"B-{label}"] + [f"I-{label}"] * (len(split[name]) - 1)
                at = b
            words += s.words[at:]
            new_tags = new_tags + tags[at:] if taught else [f"B-{UNTAUGHT}"] + [f"I-{UNTAUGHT}"] * (len(words) - 1)
            out.append(Sentence(f"{s.id}#swap{c + 1}", words, new_tags))
            source.append(i)
    return out, source
