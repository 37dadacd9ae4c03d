"""Words -> wordpieces with word ids, and sliding windows for documents longer than the model's input.

Documents are tokenized without special tokens, truncation or padding (whatever tokenizer.json says);
[CLS]/[SEP] are added per window in `geobatch.batching`. `max_length` counts them, so a window holds
at most `max_length - 2` wordpieces. Windows start and end at word boundaries and overlap by about
`stride` wordpieces; each word is predicted from the window where its first wordpiece sits farthest
from an edge (most context on both sides).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

from .errors import ModelError

SPECIAL_TOKENS = 2  # [CLS] and [SEP]


@dataclass
class EncodedDoc:
    ids: np.ndarray  # content wordpiece ids (no specials), int64
    word_first: np.ndarray  # index in `ids` of each word's first wordpiece; -1 when a word has none
    word_ntok: np.ndarray  # wordpieces per word

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class Window:
    word_start: int  # words [word_start, word_end)
    word_end: int
    tok_start: int  # content wordpieces [tok_start, tok_end)
    tok_end: int


class WordpieceEncoder:
    """The model's fast tokenizer, used on pre-split words."""

    def __init__(self, tokenizer_path: str | Path):
        try:
            tok = Tokenizer.from_file(str(tokenizer_path))
        except Exception as e:  # tokenizers raises a bare Exception on bad JSON
            raise ModelError(f"cannot load {tokenizer_path}: {e}", "re-export the model directory") from None
        # the file may carry the training pipeline's settings; windows do the cutting here
        tok.no_truncation()
        tok.no_padding()
        self.tokenizer = tok
        ids = {name: tok.token_to_id(name) for name in ("[CLS]", "[SEP]", "[PAD]")}
        missing = [k for k, v in ids.items() if v is None]
        if missing:
            raise ModelError(f"{tokenizer_path} has no {', '.join(missing)} token", "use a BERT WordPiece tokenizer.json")
        self.cls_id, self.sep_id, self.pad_id = ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]

    def encode(self, docs_words: Sequence[Sequence[str]]) -> list[EncodedDoc]:
        """Encode many documents' words at once (the Rust side runs them in parallel)."""
        out: list[EncodedDoc | None] = [None] * len(docs_words)
        todo = [i for i, w in enumerate(docs_words) if len(w)]
        encs = self.tokenizer.encode_batch([list(docs_words[i]) for i in todo], is_pretokenized=True, add_special_tokens=False)
        for i, enc in zip(todo, encs):
            out[i] = _encoded(np.asarray(enc.ids, dtype=np.int64), enc.word_ids, len(docs_words[i]))
        for i, w in enumerate(docs_words):
            if out[i] is None:
                out[i] = _encoded(np.zeros(0, np.int64), [], 0)
        return out  # type: ignore[return-value]


def _encoded(ids: np.ndarray, word_ids: Sequence[int | None], n_words: int) -> EncodedDoc:
    wid = np.fromiter((-1 if w is None else w for w in word_ids), dtype=np.int64, count=len(word_ids))
    keep = wid >= 0
    ids, wid = ids[keep], wid[keep]
    ntok = np.bincount(wid, minlength=n_words)[:n_words] if wid.size else np.zeros(n_words, np.int64)
    first = np.full(n_words, -1, dtype=np.int64)
    if wid.size:
        starts = np.flatnonzero(np.r_[True, wid[1:] != wid[:-1]])
        first[wid[starts]] = starts
    return EncodedDoc(ids, first, ntok.astype(np.int64))


def sliding_windows(word_ntok: Sequence[int] | np.ndarray, max_length: int, stride: int) -> list[Window]:
    """Cut a document into windows of at most `max_length - 2` wordpieces at word boundaries.

    Consecutive windows overlap by at most `stride` wordpieces (whole words). A single word longer
    than a window gets a window of its own, cut to the window size (only its first piece is scored).
    """
    budget = max_length - SPECIAL_TOKENS
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for wordpieces")
    if not 0 <= stride < budget:
        raise ValueError(f"stride {stride} must be in [0, {budget})")
    ntok = np.asarray(word_ntok, dtype=np.int64)
    n = int(ntok.shape[0])
    cum = np.concatenate([[0], np.cumsum(ntok)])
    windows: list[Window] = []
    ws = 0
    while True:
        we = int(np.searchsorted(cum, cum[ws] + budget, side="right")) - 1
        we = max(we, ws + 1) if n else 0
        windows.append(Window(ws, we, int(cum[ws]), int(min(cum[we], cum[ws] + budget))))
        if we >= n:
            return windows
        ns = int(np.searchsorted(cum, cum[we] - stride, side="left"))
        ws = min(max(ns, ws + 1), we)


def best_windows(enc: EncodedDoc, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
    """For each word: the window whose edges are farthest from its first wordpiece, and that piece's
    position in the window's model input (after [CLS]). Words without wordpieces get (-1, -1)."""
    n = enc.word_first.shape[0]
    best_win = np.full(n, -1, dtype=np.int64)
    best_pos = np.full(n, -1, dtype=np.int64)
    best_dist = np.full(n, -1, dtype=np.int64)
    for k, w in enumerate(windows):
        first = enc.word_first[w.word_start:w.word_end]
        inside = (first >= w.tok_start) & (first < w.tok_end)
        dist = np.minimum(first - w.tok_start, w.tok_end - 1 - first)
        better = inside & (dist > best_dist[w.word_start:w.word_end])
        idx = np.flatnonzero(better) + w.word_start
        best_win[idx] = k
        best_pos[idx] = enc.word_first[idx] - w.tok_start + 1
        best_dist[idx] = dist[better]
    return best_win, best_pos
