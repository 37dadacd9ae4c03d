"""A shallower encoder: keep K of the base model's layers (`geobatch train --layers K`).

Which layers: evenly spaced over the base's depth, first and last included (K=3 of 6 keeps 0, 2, 5;
K=2 keeps 0 and 5). The first layer is the one that reads the embeddings and the last is the one
the base's pretraining objective (or a checkpoint's classifier) was fitted on, so keeping both keeps
the interfaces at either end; the layers between are spread out so the kept ones still cover each
stage of the base's computation (DistilBERT's student takes every other teacher layer for the same
reason). With a fine-tuned checkpoint as --base-model its classifier is kept too, so the student
starts as a pruned copy of that model rather than from a random head.

No TensorFlow at import time: pick_layers is plain Python (the card and the tests use it).
"""

from __future__ import annotations

import re

from geobatch.errors import InputError

_LAYER = re.compile(r"layer_\._(\d+)/")


def pick_layers(base_layers: int, k: int) -> list[int]:
    """K layer indices of a base with base_layers layers, evenly spaced, first and last included."""
    if k < 1:
        raise InputError(f"--layers {k} is not a positive number", "use 1 up to the base model's depth")
    if k > base_layers:
        raise InputError(f"--layers {k} exceeds the base model's {base_layers} layers", f"use --layers {base_layers} or less")
    if k == 1:
        return [base_layers - 1]
    return sorted({round(i * (base_layers - 1) / (k - 1)) for i in range(k)})


def _local_name(variable) -> str:
    """A variable's name without its model's scope (two models in one process get different scopes)."""
    return variable.name.split("/", 1)[1] if "/" in variable.name else variable.name


def shallow_copy(model, k: int):
    """A new model of the same class and config with K layers, its weights copied from `model`:
    embeddings, the picked layers in order, and the head. Returns (student, picked layer indices)."""
    from .model import dummy_inputs

    config = model.config.__class__.from_dict(model.config.to_dict())
    base_layers = int(config.num_hidden_layers)
    picks = pick_layers(base_layers, k)
    config.num_hidden_layers = k
    config.geobatch_base_layers = getattr(model.config, "geobatch_base_layers", base_layers)
    source = {_local_name(v): v.numpy() for v in model.weights}
    cls = model.__class__
    del model  # the full-depth copy is not needed past this point
    student = cls(config)
    student(**dummy_inputs())
    for v in student.weights:
        name = _local_name(v)
        m = _LAYER.search(name)
        if m:
            name = name[: m.start()] + f"layer_._{picks[int(m.group(1))]}/" + name[m.end():]
        if name not in source:
            raise InputError(f"cannot map the student's weight {v.name} onto the base model", "report this with the base model")
        v.assign(source[name])
    return student, picks
