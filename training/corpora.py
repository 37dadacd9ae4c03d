"""Which training sentences an epoch sees: the corpora read (from --train or a spec) and their weights."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from geobatch.errors import InputError
from geobatch.resolve.major_places import major_place_names
from geobatch.text.demonyms import demonym_matcher

from .data import SpanOptions, read_sentences, tag_demonyms
from .split_names import join_split_names
from .untaught import mostly_places, narrow_untaught, taught_names, teach_compound_places


def read_training_sentences(opts, spec=None) -> tuple[list, list[int], list]:
    """Training sentences, for each the number of the corpus it came from (0 without a spec), and the
    (sentence, corpus number) pairs of the documents a corpus's `validation` rule keeps for model selection."""
    out: list = []
    groups: list[int] = []
    selected: list = []
    if spec is not None:
        from .spec import is_heldout, is_validation

        matcher = None
        is_place = None
        if spec.demonym_type:
            from geobatch.resolve.sources import demonym_lexicon

            matcher = demonym_matcher(demonym_lexicon())
        for g, c in enumerate(spec.corpora):
            keep = None if (opts.with_heldout or c.heldout is None) else (lambda doc_id, rule=c.heldout: not is_heldout(doc_id, rule))
            so = SpanOptions(c.id_column, c.text_column, c.spans_column, c.span_label, c.type_field, c.types, keep, c.skip_bad_spans,
                             c.untaught_compounds, c.compound_places)
            sents = read_sentences(c.path, c.format, c.max_sentences, so)
            if c.join_split_names:  # before the demonyms: "North Korean" is one demonym only once joined
                sents = join_split_names(sents, is_place or (is_place := major_place_names()))
            if matcher is not None and c.retype_demonyms:
                sents = [tag_demonyms(s, matcher, spec.demonym_type) for s in sents]
            if c.untaught_scope == "place-names" or c.compound_places:
                # names from the training sentences read (held-back and validation documents are not among them)
                taught = [s for s in sents if not is_validation(s.id, c.validation)]
                names = taught_names(taught, is_place or (is_place := major_place_names()))
                if c.untaught_scope == "place-names":
                    sents = narrow_untaught(sents, names)
                if c.compound_places:
                    demonyms = [spec.demonym_type] if spec.demonym_type else []
                    sents = teach_compound_places(sents, mostly_places(taught, names, not_places=demonyms))
            for s in sents:
                if is_validation(s.id, c.validation):
                    selected.append((s, g))
                else:
                    out.append(s)
                    groups.append(g)
        if not out:
            raise InputError(f"no sentences in the corpora of {spec.path}", "check the spec's paths and held-out rules")
        return out, groups, selected
    for path in opts.train:
        left = None if opts.max_sentences is None else opts.max_sentences - len(out)
        if left is not None and left <= 0:
            break
        out.extend(read_sentences(path, opts.format, left, opts.spans))
    if not out:
        raise InputError("no sentences in --train", "check the files and --format")
    return out, [0] * len(out), []


def epoch_order(groups: Sequence[int], weights: Sequence[float], seed: int) -> np.ndarray:
    """Indices of the examples one epoch sees: each corpus's examples `weight` times, the fraction of a
    weight drawn at random (without replacement) each epoch, so a small corpus can count as much as a
    large one without being cut or copied on disk."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    parts = []
    for g, w in enumerate(weights):
        idx = np.flatnonzero(groups == g)
        whole, frac = int(w), w - int(w)
        parts += [idx] * whole
        if frac > 0 and idx.size:
            parts.append(rng.choice(idx, size=int(round(frac * idx.size)), replace=False))
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)
