"""The casing channel: which words start with a capital, told to an uncased encoder.

MiniLM-L6-H384-uncased lowercases every wordpiece, so "Turkey" and "turkey", "Bush" and "bush", "Reading"
and "reading" reach it alike, though the text says which is a name. BERT's token type embedding (two
types, pretrained for sentence pairs and unused by single-sentence input, where every type is 0) carries
it instead: a model trained with `case_types = true` (training spec; its card's `case_types`) reads type 1
on every wordpiece of a word whose first character is a capital, 0 elsewhere and on [CLS], markers and
[SEP]. Training and `geobatch run` both take the types from `word_case_types`, on the same words.

Where capitals say nothing, every type is 0 (the text as the model reads it without the channel): a
lowercased text (a normalised corpus, a transcript), and an all-caps or title-case one (headlines), i.e.
when fewer than MIN_SHARE or more than MAX_SHARE of the words that start with a cased letter start with a
capital (news and web documents here: 7-41 %, median 17 %). Training also zeroes a share of its inputs
(training/data.py), so such text reads as it did before the channel.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

MIN_SHARE = 0.05
MAX_SHARE = 0.60


def capital_flags(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per word: starts with a capital; starts with a cased letter at all."""
    firsts = [w[:1] for w in words]
    upper = np.fromiter((c.isupper() or c.istitle() for c in firsts), bool, count=len(firsts))
    cased = upper | np.fromiter((c.islower() for c in firsts), bool, count=len(firsts))
    return upper, cased


def word_case_types(words: Sequence[str]) -> np.ndarray:
    """Each word's token type (int64): 1 for a capital first character in a text whose capitals mark
    names, else 0; all 0 in a text whose capitals say nothing."""
    upper, cased = capital_flags(words)
    n = int(cased.sum())
    if not n or not MIN_SHARE <= upper.sum() / n <= MAX_SHARE:
        return np.zeros(len(words), np.int64)
    return upper.astype(np.int64)


def piece_case_types(word_types: np.ndarray, word_ntok: np.ndarray) -> np.ndarray:
    """A document's word types spread over its wordpieces (each word's type on all of its pieces)."""
    return np.repeat(np.asarray(word_types, np.int64), np.asarray(word_ntok, np.int64))
