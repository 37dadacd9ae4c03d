"""Dynamic padding: batches of similar length, padded per batch to a multiple of 8.

Sorting by length (with a random tie-break each epoch) and shuffling the order of the batches keeps
padding small, which roughly halves CPU time against padding everything to max_length; rounding to a
multiple of 8 keeps the number of distinct shapes (and TensorFlow retracing) small.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .data import IGNORE, Encoded

PAD_MULTIPLE = 8


def length_batches(lengths: Sequence[int], batch_size: int, seed: int | None = None) -> list[np.ndarray]:
    """Index batches of similar length; with a seed, ties are broken and batch order shuffled randomly."""
    lengths = np.asarray(lengths)
    if seed is None:
        order = np.argsort(lengths, kind="stable")
    else:
        rng = np.random.default_rng(seed)
        order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if seed is not None:
        perm = np.random.default_rng(seed + 1).permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches


def padded_length(n: int, multiple: int = PAD_MULTIPLE) -> int:
    return max(multiple, -(-n // multiple) * multiple)


def pad_batch(items: Sequence[Encoded], pad_id: int = 0) -> dict[str, np.ndarray]:
    width = padded_length(max(len(e.input_ids) for e in items))
    n = len(items)
    input_ids = np.full((n, width), pad_id, dtype=np.int32)
    attention = np.zeros((n, width), dtype=np.int32)
    labels = np.full((n, width), IGNORE, dtype=np.int32)
    types = np.zeros((n, width), dtype=np.int32)  # the casing channel where the inputs carry it, else zeros
    for i, e in enumerate(items):
        k = len(e.input_ids)
        input_ids[i, :k] = e.input_ids
        attention[i, :k] = 1
        labels[i, :k] = e.labels
        if e.token_types is not None:
            types[i, :k] = e.token_types
    return {
        "input_ids": input_ids,
        "attention_mask": attention,
        "token_type_ids": types,
        "labels": labels,
    }


def iterate_batches(
    encoded: Sequence[Encoded], batch_size: int, seed: int | None = None, pad_id: int = 0
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    for idx in length_batches([len(e.input_ids) for e in encoded], batch_size, seed):
        yield idx, pad_batch([encoded[i] for i in idx], pad_id)
