"""Stage: words -> wordpieces with word ids; sliding windows; choice of window per word."""

import numpy as np
import pytest
from tiny_onnx import tokenizer_json

from geobatch.text.tokenize import EncodedDoc, WordpieceEncoder, best_windows, sliding_windows


@pytest.fixture(scope="module")
def encoder():
    return WordpieceEncoder(tokenizer_json())


def test_word_ids_cover_multi_piece_and_dropped_words(encoder):
    words = ["Paris", "unaffable", "\x00", "東京", "!"]
    (enc,) = encoder.encode([words])
    # tokenizer.json truncates/pads to 128: both disabled here, so no [PAD] and no specials
    assert encoder.pad_id not in enc.ids.tolist() and encoder.cls_id not in enc.ids.tolist()
    assert enc.word_ntok.tolist()[0] == 1
    assert enc.word_ntok[1] >= 2  # a rare word splits into several pieces
    assert enc.word_ntok[2] == 0 and enc.word_first[2] == -1  # a control character normalises away
    assert enc.word_ntok[3] == 2  # CJK characters are split one per piece
    assert enc.word_first.tolist()[0] == 0
    assert enc.word_first[1] == 1 and enc.word_first[3] == 1 + enc.word_ntok[1]
    assert enc.n_tokens == int(enc.word_ntok.sum())


def test_no_truncation_for_long_documents(encoder):
    words = ["paris"] * 1000
    (enc,) = encoder.encode([words])
    assert enc.n_tokens == 1000


def test_empty_document(encoder):
    a, b = encoder.encode([[], ["x"]])
    assert a.n_tokens == 0 and a.word_first.size == 0 and b.n_tokens == 1


def _check_windows(ntok, max_length, stride):
    wins = sliding_windows(ntok, max_length, stride)
    cum = np.concatenate([[0], np.cumsum(ntok)])
    assert wins[0].word_start == 0 and wins[-1].word_end == len(ntok)
    for w in wins:
        assert w.tok_end - w.tok_start <= max_length - 2
        assert w.tok_start == cum[w.word_start]
    for a, b in zip(wins, wins[1:]):
        assert a.word_start < b.word_start <= a.word_end  # progress, no gap
        assert cum[a.word_end] - cum[b.word_start] <= stride  # overlap bounded by the stride
    return wins


@pytest.mark.parametrize("stride", [0, 1, 4, 9])
def test_sliding_windows_properties(stride):
    rng = np.random.default_rng(stride)
    ntok = rng.integers(1, 4, size=200)
    wins = _check_windows(ntok, 16, stride)
    assert len(wins) > 10


def test_short_document_one_window():
    wins = sliding_windows([1, 2, 3], 16, 4)
    assert len(wins) == 1 and (wins[0].tok_start, wins[0].tok_end) == (0, 6)


def test_word_longer_than_a_window_gets_cut_window():
    wins = sliding_windows([1, 40, 1], 16, 2)
    big = [w for w in wins if w.word_start == 1]
    assert big and big[0].tok_end - big[0].tok_start == 14


def test_bad_stride_refused():
    with pytest.raises(ValueError):
        sliding_windows([1, 1], 16, 14)


def test_best_window_is_farthest_from_an_edge():
    ntok = np.ones(30, dtype=np.int64)
    enc = EncodedDoc(np.arange(30), np.arange(30), ntok)
    wins = sliding_windows(ntok, 12, 5)  # 10 pieces per window, overlap 5
    bw, bp = best_windows(enc, wins)
    assert (bw >= 0).all()
    for i in range(30):
        w = wins[bw[i]]
        dist = min(i - w.tok_start, w.tok_end - 1 - i)
        for other in wins:
            if other.tok_start <= i < other.tok_end:
                assert dist >= min(i - other.tok_start, other.tok_end - 1 - i)
        assert bp[i] == i - w.tok_start + 1  # position after [CLS]


def test_cached_encoding_equals_encoding_each_document(monkeypatch):
    """Words are tokenized once per process and documents assembled from the cache: the ids, first
    pieces and piece counts must be those of encoding each document's words directly, also across a
    cache reset and for words the tokenizer drops or cuts to [UNK]."""
    import geobatch.text.tokenize as tk

    enc = WordpieceEncoder(tokenizer_json())
    docs = [["Paris", "is", "unaffable", "."], [], ["\x00", "東京", "😀", "e\u0301t", "x" * 150], ["U.S.", "St.", "Louis", "Paris"]]
    monkeypatch.setattr(tk, "MAX_CACHED_WORDS", 6)  # the third call overflows the cache and resets it
    for batch in (docs[:2], docs[2:], docs):
        got = enc.encode(batch)
        for words, doc in zip(batch, got):
            ref = enc.tokenizer.encode(words, is_pretokenized=True, add_special_tokens=False) if words else None
            ids = np.asarray(ref.ids if ref else [], np.int64)
            wid = np.asarray([w for w in (ref.word_ids if ref else [])], np.int64)
            assert doc.ids.tolist() == ids.tolist()
            assert doc.word_ntok.tolist() == [int((wid == i).sum()) for i in range(len(words))]
            assert doc.word_first.tolist() == [int(np.flatnonzero(wid == i)[0]) if (wid == i).any() else -1 for i in range(len(words))]
    assert len(enc._index) == len({w for d in docs for w in d})  # reset, then only this call's words


def _best_windows_by_scan(enc, windows):
    """The window-by-window scan best_windows replaced (kept here as its reference)."""
    n = enc.word_first.shape[0]
    best_win, best_pos, best_dist = (np.full(n, -1, dtype=np.int64) for _ in range(3))
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


def test_best_windows_equal_the_window_by_window_scan():
    """Ties go to the earlier window, words without pieces and words cut off a window stay (-1, -1)."""
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(0, 60))
        ntok = rng.integers(0, 5, n)
        ntok[rng.random(n) < 0.05] = 40  # longer than a window
        max_length = int(rng.integers(3, 40))
        wins = sliding_windows(ntok, max_length, int(rng.integers(0, max_length - 2)))
        enc = EncodedDoc(np.zeros(int(ntok.sum()), np.int64), np.where(ntok > 0, np.cumsum(ntok) - ntok, -1), ntok)
        got, want = best_windows(enc, wins), _best_windows_by_scan(enc, wins)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
