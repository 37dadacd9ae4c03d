"""Words -> wordpieces with word ids, and sliding windows for documents longer than the model's input.

Documents are tokenized without special tokens, truncation or padding (whatever tokenizer.json says);
[CLS]/[SEP] are added per window in `geobatch.text.batching`. `max_length` counts them, so a window holds
at most `max_length - 2` wordpieces. Windows start and end at word boundaries and overlap by about
`stride` wordpieces; each word is predicted from the window where its first wordpiece sits farthest
from an edge (most context on both sides).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer

from ..errors import ModelError

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MAX_CACHED_WORDS = 1_000_000  # distinct words whose wordpieces a process keeps (about 100 MB at most)


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
        self._reset_cache()

    def encode(self, docs_words: Sequence[Sequence[str]]) -> list[EncodedDoc]:
        """Encode many documents' words at once.

        With pre-split words a BERT tokenizer cuts each word on its own (normalizer, pre-tokenizer and
        WordPiece never look across a word boundary), so a document's wordpieces are its words'
        wordpieces laid end to end. Natural text repeats its words (GeoVirus x20: 1.48M words, a few
        ten thousand distinct), so each distinct word is tokenized once per process and documents are
        assembled from the cache with array operations: the same ids as encoding every document.
        """
        counts = np.fromiter((len(w) for w in docs_words), dtype=np.int64, count=len(docs_words))
        flat = list(chain.from_iterable(docs_words))
        widx = self._word_indices(flat)
        ntok = self._ntok[widx]
        start = self._start[widx]
        total = int(ntok.sum())
        # token k of the chunk is pool[start of its word + its place inside the word]
        tok_word_base = np.repeat(start - (np.cumsum(ntok) - ntok), ntok)
        ids = self._pool[tok_word_base + np.arange(total, dtype=np.int64)] if total else np.zeros(0, np.int64)
        word_bounds = np.concatenate([[0], np.cumsum(counts)])
        tok_before_word = np.concatenate([[0], np.cumsum(ntok)])
        out: list[EncodedDoc] = []
        for a, b in zip(word_bounds[:-1].tolist(), word_bounds[1:].tolist()):
            t0, t1 = int(tok_before_word[a]), int(tok_before_word[b])
            n = ntok[a:b]
            first = np.where(n > 0, tok_before_word[a:b] - t0, -1)
            out.append(EncodedDoc(ids[t0:t1], first, n))
        return out

    def _word_indices(self, words: list[str]) -> np.ndarray:
        """Index of each word in the cache, tokenizing the words not seen before in one call."""
        index = self._index
        found = np.fromiter(map(index.get, words, repeat(-1)), dtype=np.int64, count=len(words))  # one C-level pass
        missing = np.flatnonzero(found < 0)
        if not missing.size:
            return found
        new = list(dict.fromkeys([words[i] for i in missing.tolist()]))
        if new:
            if len(index) + len(new) > MAX_CACHED_WORDS:  # a corpus of ever-new words must not grow memory without end
                self._reset_cache()
                index = self._index
                new = list(dict.fromkeys(words))
            enc = self.tokenizer.encode(new, is_pretokenized=True, add_special_tokens=False)
            wid = np.fromiter((-1 if w is None else w for w in enc.word_ids), dtype=np.int64, count=len(enc.word_ids))
            ids = np.asarray(enc.ids, dtype=np.int64)[wid >= 0]
            wid = wid[wid >= 0]
            n = np.bincount(wid, minlength=len(new))[:len(new)].astype(np.int64) if wid.size else np.zeros(len(new), np.int64)
            base = len(index)
            self._start = np.concatenate([self._start, self._pool.size + np.cumsum(n) - n])
            self._ntok = np.concatenate([self._ntok, n])
            self._pool = np.concatenate([self._pool, ids])
            index.update(zip(new, range(base, base + len(new))))
        if len(index) == len(new):  # the cache was reset: every word is looked up again
            return np.fromiter(map(index.__getitem__, words), dtype=np.int64, count=len(words))
        found[missing] = [index[words[i]] for i in missing.tolist()]
        return found

    def _reset_cache(self) -> None:
        self._index: dict[str, int] = {}
        self._pool = np.zeros(0, np.int64)  # wordpiece ids of the cached words, end to end
        self._start = np.zeros(0, np.int64)  # each cached word's first position in _pool
        self._ntok = np.zeros(0, np.int64)  # each cached word's wordpiece count


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
    cum = np.concatenate([[0], np.cumsum(ntok)]).tolist()  # bisect on a list: a few windows per document, no numpy call each
    windows: list[Window] = []
    ws = 0
    while True:
        we = bisect_right(cum, cum[ws] + budget) - 1
        we = max(we, ws + 1) if n else 0
        windows.append(Window(ws, we, cum[ws], min(cum[we], cum[ws] + budget)))
        if we >= n:
            return windows
        ns = bisect_left(cum, cum[we] - stride)
        ws = min(max(ns, ws + 1), we)


def best_windows(enc: EncodedDoc, windows: Sequence[Window]) -> tuple[np.ndarray, np.ndarray]:
    """For each word: the window whose edges are farthest from its first wordpiece, and that piece's
    position in the window's model input (after [CLS]). Words without wordpieces get (-1, -1)."""
    n = enc.word_first.shape[0]
    best_win = np.full(n, -1, dtype=np.int64)
    best_pos = np.full(n, -1, dtype=np.int64)
    if not n or not windows:
        return best_win, best_pos
    # every (window, word inside its word range) pair at once, in window order
    ws, we, ts, te = (np.array(v, dtype=np.int64) for v in zip(*((w.word_start, w.word_end, w.tok_start, w.tok_end) for w in windows)))
    lens = we - ws
    k = np.repeat(np.arange(len(windows)), lens)
    j = np.arange(int(lens.sum())) + np.repeat(ws - (np.cumsum(lens) - lens), lens)
    first = enc.word_first[j]
    tk, ek = ts[k], te[k]
    inside = (first >= tk) & (first < ek)
    j, k, first, tk, dist = j[inside], k[inside], first[inside], tk[inside], np.minimum(first - tk, ek - 1 - first)[inside]
    # per word: the farthest from an edge, the earliest window on a tie (as a scan keeping only strictly better ones)
    order = np.lexsort((k, -dist, j))
    pick = order[np.r_[True, j[order][1:] != j[order][:-1]]] if order.size else order
    best_win[j[pick]] = k[pick]
    best_pos[j[pick]] = first[pick] - tk[pick] + 1
    return best_win, best_pos
