"""Group windows into model batches: sort by length within a chunk so padding stays small, and pad
each batch only to its own longest window (not to a global maximum)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass
class Batch:
    window_index: np.ndarray  # which of the chunk's windows each row holds
    input_ids: np.ndarray  # [b, s] int64, [CLS] [markers] ... [SEP] [PAD]...
    attention_mask: np.ndarray  # [b, s] int64
    token_type_ids: np.ndarray  # [b, s] int64: zeros, or the casing channel (text/case_types.py)

    @property
    def real_tokens(self) -> int:
        return int(self.attention_mask.sum())

    @property
    def slots(self) -> int:
        return int(self.input_ids.size)


def make_batches(
    windows: Sequence[np.ndarray], batch_size: int, cls_id: int, sep_id: int, pad_id: int, markers: Sequence[int] = (),
    window_types: Sequence[np.ndarray] | None = None,
) -> list[Batch]:
    """`windows` are content wordpiece ids (no specials). Returns batches covering every window once.
    `markers` go right after [CLS] in every row (a convention's marker token, as in training), so a
    window's content starts at position 1 + len(markers). `window_types`, one per window, are its
    content's token types (a `case_types` model's casing channel); specials and markers get 0."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    lead = 1 + len(markers)
    lengths = np.fromiter((len(w) + lead + 1 for w in windows), dtype=np.int64, count=len(windows))
    order = np.argsort(lengths, kind="stable")
    batches = []
    for lo in range(0, len(order), batch_size):
        idx = order[lo:lo + batch_size]
        width = int(lengths[idx].max())
        ids = np.full((len(idx), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        types = np.zeros((len(idx), width), dtype=np.int64)
        for row, k in enumerate(idx):
            w = windows[k]
            n = len(w) + lead + 1
            ids[row, 0] = cls_id
            ids[row, 1:lead] = markers
            ids[row, lead:n - 1] = w
            ids[row, n - 1] = sep_id
            mask[row, :n] = 1
            if window_types is not None:
                types[row, lead:n - 1] = window_types[k]
        batches.append(Batch(idx, ids, mask, types))
    return batches
