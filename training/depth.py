"""A shallower encoder: keep K of the base model's layers (`geobatch train --layers K`).

Which layers: evenly spaced over the base's depth, first and last included (K=3 of 6 keeps 0, 2, 5;
K=2 keeps 0 and 5). The first layer is the one that reads the embeddings and the last is the one
the base's pretraining objective (or a checkpoint's classifier) was fitted on, so keeping both keeps
the interfaces at either end; the layers between are spread out so the kept ones still cover each
stage of the base's computation (DistilBERT's student takes every other teacher layer for the same
reason). With a fine-tuned checkpoint as --base-model its classifier is kept too, so the student
starts as a pruned copy of that model rather than from a random head.

`--layers 0,1,2,3` names the layers instead (0-based, the base's order): to compare another choice,
e.g. the bottom layers that layer-dropping studies of pretrained BERTs keep (Sajjad et al., "On the
effect of dropping layers of pre-trained transformer models", 2023).

No TensorFlow at import time: pick_layers is plain Python (the card and the tests use it).
"""

from __future__ import annotations

import re

from geobatch.errors import InputError

_LAYER = re.compile(r"layer_\._(\d+)/")


def parse_layers(value: str) -> int | tuple[int, ...]:
    """`--layers`' value: a count ("4") or the layer indices to keep ("0,1,2,3")."""
    parts = [p.strip() for p in str(value).split(",")]
    if not all(re.fullmatch(r"[0-9]+", p) for p in parts):  # str.isdigit takes "²", which int() refuses
        raise InputError(f"--layers {value} is neither a number of layers nor a list of layer indices",
                         "pass a count (--layers 4) or 0-based indices in order (--layers 0,1,2,3)")
    if len(parts) == 1:
        if int(parts[0]) < 1:  # here, before TensorFlow loads, rather than when the student is built
            raise InputError(f"--layers {value} is not a positive number", "use 1 up to the base model's depth")
        return int(parts[0])
    picks = tuple(int(p) for p in parts)
    if list(picks) != sorted(set(picks)):
        raise InputError(f"--layers {value} repeats a layer or is out of order", "list each layer once, in increasing order")
    return picks


def pick_layers(base_layers: int, k: int | tuple[int, ...]) -> list[int]:
    """K layer indices of a base with base_layers layers, evenly spaced, first and last included; or
    the indices given (checked against the base's depth)."""
    if isinstance(k, tuple):
        if k[-1] >= base_layers:
            raise InputError(f"--layers {','.join(map(str, k))} names layer {k[-1]}, but the base model has layers 0-{base_layers - 1}",
                             f"name layers 0 to {base_layers - 1}")
        return list(k)
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


def shallow_copy(model, k: int | tuple[int, ...]):
    """A new model of the same class and config with K layers (or the layers named), its weights copied from `model`:
    embeddings, the picked layers in order, and the head. Returns (student, picked layer indices)."""
    from .model import dummy_inputs

    config = model.config.__class__.from_dict(model.config.to_dict())
    base_layers = int(config.num_hidden_layers)
    picks = pick_layers(base_layers, k)
    config.num_hidden_layers = len(picks)
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
