"""Gold tags mapped onto what the model predicts, before they are scored (metrics.py).

A model's card says how its training gold was mapped (`ModelDir.gold_scheme`: a label map, or the named
scheme) and whether demonyms were a type of their own (`ModelDir.demonym_type`). Scoring other gold
through the same map compares like with like:

- a type the card's map sends to one of the model's types becomes that type (GMB's geo, gpe);
- `*` (a place of any type, training/spec.py) becomes the generic `location`, scored in the merged view;
- a type the map does not name: kept if the model predicts it (case aside: CoNLL's PER is a GMB
  model's per); a place type by name the model has not (CoNLL's LOC: labels.KNOWN_PLACE_TYPES)
  becomes `location`;
- every other type keeps its gold name (org, which a spec left untaught, per, MISC): the metrics count
  its spans as gold the model does not predict and score its words as O, and the run says so. Before,
  such types went to O silently (CoNLL gold scored nothing) or leaked the training marker `?` into
  the tables as a type of its own;
- with a demonym type, word-per-row gold is retyped as training retyped it (geobatch.text.demonyms):
  GMB's gpe "Iraqi" is scored against the model's dem. Gold spans are scored by their own convention
  (a whole demonym span there stays a place: GeoWebNews counts "Russian" as a toponym).
"""

from __future__ import annotations

from typing import Callable, Collection, Sequence

from ..io.gold import LOCATION
from ..labels import ANY_PLACE, KNOWN_PLACE_TYPES, OUTSIDE, LabelScheme, split_tag
from ..text.demonyms import demonym_matcher, retype_demonyms

GoldMapper = Callable[..., list[str]]


def gold_type(etype: str, scheme: LabelScheme, model_types: Collection[str]) -> str:
    """The type a gold entity type is scored as: one of the model's, `location`, or the gold's own name
    (which the metrics count and score as O)."""
    if etype == LOCATION:
        return etype
    if scheme.type_map is not None and etype in scheme.type_map:
        new = scheme.type_map[etype]
        if new == ANY_PLACE:
            return LOCATION
        return new if new in model_types else etype
    if etype in model_types:
        return etype
    same = [t for t in model_types if t.lower() == etype.lower()]
    if len(same) == 1:  # CoNLL's PER and ORG against a GMB model's per and org
        return same[0]
    if etype.lower() in KNOWN_PLACE_TYPES:
        return LOCATION
    return etype


def gold_mapper(scheme: LabelScheme, model_types: Collection[str], demonym_type: str | None = None) -> GoldMapper:
    """`mapped(tags, words=None)`: a document's gold tags as the model is scored against them (IOB2
    repaired after); demonyms retyped only when the words are given (word-per-row gold)."""
    matcher = None
    if demonym_type and demonym_type in model_types:
        from ..resolve.sources import demonym_lexicon  # the gazetteer's lexicon, as training used

        matcher = demonym_matcher(demonym_lexicon())
    memo: dict[str, str] = {}

    def mapped(tags: Sequence[str], words: Sequence[str] | None = None) -> list[str]:
        out, prev = [], None
        for t in tags:
            prefix, etype = split_tag(t)
            if etype is not None:
                if etype not in memo:
                    memo[etype] = gold_type(etype, scheme, model_types)
                etype = memo[etype]
            if prefix == "I" and etype != prev:
                prefix = "B"
            out.append(OUTSIDE if etype is None else f"{prefix}-{etype}")
            prev = etype
        if matcher is not None and words is not None:
            out = retype_demonyms(words, out, matcher, demonym_type)
        return out

    return mapped
