"""Word segmentation with character offsets, and alignment of character spans to word tags.

One segmentation for training and run time (docs/ARCHITECTURE.md, "Words"): `split_words` cuts raw
text where BERT's pre-tokenizer does (whitespace and punctuation), except that initialisms written
with periods ("U.S.", "D.C.", "W.Va.", "a.m.") and a short list of abbreviations ("St.", "Mt.",
"Calif.", "Mr.") stay one word with their period, as GMB and the news corpora write them, and a web or
e-mail address is one word. Word-per-row files (GMB, CoNLL) are laid out as text and cut by the same
function (`resplit_words`), so a model never trains on a word it cannot see at run time. Offsets are
Python character offsets into the original text: `text[start:end] == word` always holds, whatever the
script.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tokenizers.pre_tokenizers import BertPreTokenizer

from ..io.documents import Span

_PRE_TOKENIZER = BertPreTokenizer()

WordOffsets = list[tuple[int, int]]

# Abbreviations kept whole with their period: place-name parts (St. Louis, Mt. Kenya, Ft. Worth), US
# state abbreviations as news writes them (gold spans in the news corpora include the period: "Calif.",
# "Md.", "Conn."), and titles, whose period would otherwise read as a sentence end before a name.
# Case-sensitive: "Mass." is the state, "mass." is a word before a full stop.
ABBREVIATIONS = frozenset("""
    St Ste Mt Mts Ft Pt Ave Blvd Rd Hwy Sq Co Corp Inc Ltd Bros Dept Univ No Nos
    Mr Mrs Ms Dr Prof Gen Gov Sen Rep Lt Col Sgt Capt Cmdr Adm Maj Rev Fr Jr Sr Pres
    Jan Feb Mar Apr Aug Sept Sep Oct Nov Dec
    Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich Minn Miss Mo
    Mont Neb Nebr Nev Okla Ore Pa Tenn Tex Vt Va Wash Wis Wyo
    Cal Oreg Penna Wisc Alta Nfld Ont Que Sask
""".split())
# The last row: the resolver's other state and province press forms (resolve/aliases.py), so "Toronto, Ont."
# reaches decode/states.py whole. None occurs in any training corpus here, so training's words do not change.
# Left out: "Man." (Manitoba) and "Penn.", which end sentences ("Iron Man.", "Sean Penn.") far more often.
# A web or e-mail address is one word: cut at its punctuation, its pieces read as names to the model
# ("bc.ca", "co.uk", "de" of www.a-trane.de came back as places) and no corpus here has a place inside
# one. An address: a scheme or "www." and what follows up to whitespace, an e-mail address, or a bare
# domain under a generic top-level domain ("Rappler.com", "tinyurl.com/x"); trailing punctuation is the
# sentence's, not the address's. Each form holds a period, which split_texts relies on (it runs this
# regex only over runs of text that hold one).
_URL_END = r"[^\s<>\"'.,;:!?)\]}\u2019\u201d]"
_WEB_ADDRESS = (
    r"(?:https?|ftp)://[^\s<>\"]*\.[^\s<>\"]*" + _URL_END
    + r"|www\.[^\s<>\"]*" + _URL_END
    + r"|(?<![\w.+-])[\w+-]+(?:\.[\w+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
    + r"|(?<![\w.@/-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|org|net|gov|edu|int|info|biz|io)(?![\w-])"
    + r"(?:/[^\s<>\"]*" + _URL_END + ")?"
)
# An initialism: two or more parts of one to three letters, each closed by a period, the last period
# optional ("U.S.", "U.S", "W.Va.", "Ph.D.", "a.m."). Not inside a longer word or number. Addresses are
# tried first, so "www.bbc.co.uk" is an address, not the initialism "www.bbc.co.".
_KEEP_WHOLE = re.compile(
    _WEB_ADDRESS
    + r"|(?<![\w.])(?:[A-Za-z][a-z]{0,2}\.(?:[A-Za-z][a-z]{0,2}\.)+|[A-Z]\.[A-Z](?![\w.])|(?:"
    + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")\.)(?!\w)"
)


# Characters that are neither whitespace nor visible: control characters (NUL, BEL, C1 controls) and
# the zero-width space, word joiner and byte-order mark that scraped text and files carry. BERT's
# normaliser deletes them, so "Nul\x00byte" would reach the model as one word "nulbyte" and a leading
# BOM or zero-width space would sit inside a span's offsets; they separate words here and belong to
# none. (Zero-width (non-)joiners and soft hyphens join letters within words and are left alone.)
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u200b\u2060\ufeff]+")


def split_words(text: str) -> tuple[list[str], WordOffsets]:
    """Split text into words; returns the words and their (start, end) character offsets."""
    pieces = _PRE_TOKENIZER.pre_tokenize_str(text)
    words = [w for w, _ in pieces]
    offsets = [(s, e) for _, (s, e) in pieces]
    if _INVISIBLE.search(text):
        offsets = _split_at_invisible(text, offsets)
        words = [text[s:e] for s, e in offsets]
    if "." in text:
        whole = [m.span() for m in _KEEP_WHOLE.finditer(text)]
        if whole:
            return _merge_pieces(text, offsets, whole)
    return words, offsets


def _split_at_invisible(text: str, offsets: WordOffsets) -> WordOffsets:
    out: WordOffsets = []
    for s, e in offsets:
        a = s
        for m in _INVISIBLE.finditer(text, s, e):
            if m.start() > a:
                out.append((a, m.start()))
            a = m.end()
        if e > a:
            out.append((a, e))
    return out


def _merge_pieces(text: str, offsets: WordOffsets, whole: list[tuple[int, int]]) -> tuple[list[str], WordOffsets]:
    """Replace the pre-tokenizer pieces that lie inside each kept-whole match by one word."""
    out: WordOffsets = []
    k = 0
    i, n = 0, len(offsets)
    while i < n:
        s, e = offsets[i]
        while k < len(whole) and whole[k][1] <= s:
            k += 1
        if k < len(whole) and whole[k][0] == s:
            a, b = whole[k]
            j = i
            while j < n and offsets[j][1] <= b:
                j += 1
            if offsets[j - 1][1] == b:  # the match ends on a piece boundary (it always should)
                out.append((a, b))
                i = j
                continue
        out.append((s, e))
        i += 1
    return [text[s:e] for s, e in out], out


@dataclass
class Resplit:
    """Pre-split words (one row each in GMB or CoNLL) laid out as text and cut by `split_words`."""

    text: str
    words: list[str]
    offsets: WordOffsets          # of `words` in `text`
    owner: list[int]              # for each word, the index of the file word it is part of
    file_offsets: WordOffsets     # of the file words in `text`


def resplit_words(file_words: Sequence[str]) -> Resplit:
    """The words `geobatch run` sees for a sentence given as words: `split_words` of their layout.

    A file word never merges with its neighbour (the layout puts a space between them); it may split
    ("Port-au-Prince" -> Port - au - Prince). A file word that yields no word (whitespace only) owns none.
    """
    text, file_offsets = join_words(file_words)
    words, offsets = split_words(text)
    ends = [e for _, e in file_offsets]
    owner = [bisect_right(ends, s) for s, _ in offsets]
    return Resplit(text, words, offsets, owner, file_offsets)


def spread_tags(tags: Sequence[str], owner: Sequence[int]) -> list[str]:
    """Tags of file words onto their split words: the first piece keeps the tag, the rest continue it
    (I- of the same type), so "Port-au-Prince"/B-geo becomes Port/B-geo -/I-geo au/I-geo ..."""
    out: list[str] = []
    prev = None
    for o in owner:
        tag = tags[o]
        if o == prev and tag != "O":
            tag = "I-" + tag.split("-", 1)[1] if len(tag) > 2 and tag[1] == "-" else tag
        out.append(tag)
        prev = o
    return out


def join_words(words: Sequence[str]) -> tuple[str, WordOffsets]:
    """Lay out pre-split words (GMB, CoNLL) as one text, single-spaced, with each word's offsets."""
    offsets: WordOffsets = []
    pos = 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    return " ".join(words), offsets


def tags_from_spans(offsets: WordOffsets, spans: Sequence[Span], default_label: str | None = None) -> list[str]:
    """IOB2 tags for words from character spans: a word overlapping a span takes its label.

    The first word a span touches gets B-, later ones I-. Spans without a label take `default_label`
    (e.g. GeoVirus toponyms carry none); spans that end up without a label are ignored.
    """
    tags = ["O"] * len(offsets)
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    # words laid out left to right (split_words, join_words): the words a span overlaps are found by
    # bisection, so a long document with many spans costs O((words + spans) log words), not words x spans
    ordered = all(a <= b for a, b in zip(starts, starts[1:])) and all(a <= b for a, b in zip(ends, ends[1:]))
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        label = span.label or default_label
        if not label:
            continue
        first = True
        i = bisect_right(ends, span.start) if ordered else 0
        for i in range(i, len(offsets)):
            s, e = offsets[i]
            if ordered and s >= span.end:
                break
            if e <= span.start or s >= span.end:
                continue
            if tags[i] != "O":  # overlapping gold spans: the earlier one keeps the word
                first = False
                continue
            tags[i] = f"{'B' if first else 'I'}-{label}"
            first = False
    return tags


# -- many texts at once: the same words as split_words, with array operations -----------------------
# What the pre-tokenizer does with each character: 0 drops it (whitespace), 1 makes it a word of its
# own (punctuation), 2 keeps it inside a run of such characters. Asked of the pre-tokenizer itself,
# once per character a process meets (not of unicodedata: its Unicode version differs from the
# tokenizers crate's for about a hundred characters).
_UNKNOWN = 255
_char_class = np.full(0x110000, _UNKNOWN, np.uint8)
_SEPARATOR = "\n"  # between texts laid end to end: whitespace, and a non-word for _KEEP_WHOLE's look-arounds


def _learn_classes(codepoints: np.ndarray) -> None:
    chars = [chr(c) for c in codepoints.tolist()]
    probe = "a" + "a".join(chars) + "a"  # each character between two letters
    kept = {}
    for _, (s, e) in _PRE_TOKENIZER.pre_tokenize_str(probe):
        for p in range(s, e):
            kept[p] = e - s
    for k, c in enumerate(codepoints.tolist()):
        p = 2 * k + 1
        _char_class[c] = 0 if p not in kept or _INVISIBLE.match(chars[k]) else (1 if kept[p] == 1 else 2)


def split_texts(texts: Sequence[str]) -> list[tuple[list[str], np.ndarray, np.ndarray]]:
    """`split_words` of every text, as (words, start offsets, end offsets): the texts are laid end to end
    and cut in one pass of array operations instead of one Python object per piece."""
    if not texts:
        return []
    joined = _SEPARATOR.join(texts)
    cp = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), np.uint32)
    cls = _char_class[cp]
    unknown = cls == _UNKNOWN
    if unknown.any():
        _learn_classes(np.unique(cp[unknown]))
        cls = _char_class[cp]
    inside = cls == 2
    alone = cls == 1
    prev_inside = np.r_[False, inside[:-1]]
    next_inside = np.r_[inside[1:], False]
    starts = np.flatnonzero(alone | (inside & ~prev_inside))
    ends = np.flatnonzero(alone | (inside & ~next_inside)) + 1
    if "." in joined:
        starts, ends = _merge_whole(joined, starts, ends, _whole_matches(joined, cp, cls == 0))
    bases = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]])
    doc_of = np.searchsorted(bases, starts, side="right") - 1
    bounds = np.searchsorted(doc_of, np.arange(len(texts) + 1), side="left")
    s_list, e_list = starts.tolist(), ends.tolist()
    words = [joined[s:e] for s, e in zip(s_list, e_list)]
    out = []
    for d, (a, b) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        out.append((words[a:b], starts[a:b] - bases[d], ends[a:b] - bases[d]))
    return out


def _whole_matches(text: str, cp: np.ndarray, space: np.ndarray) -> np.ndarray:
    """`_KEEP_WHOLE.finditer(text)` spans, [n, 2]. The regex runs only over the runs between whitespace that
    hold a period (a match holds one and no whitespace, and whitespace satisfies its look-arounds as the
    text's ends do), laid end to end with a newline: about a tenth of a news text, so a tenth of the time."""
    dots = np.flatnonzero(cp == 46)
    if not dots.size:
        return np.zeros((0, 2), np.int64)
    run_start = np.flatnonzero(~space & np.r_[True, space[:-1]])
    run_end = np.flatnonzero(~space & np.r_[space[1:], True]) + 1
    runs = np.unique(np.searchsorted(run_start, dots, side="right") - 1)
    rs, re_ = run_start[runs], run_end[runs]
    small = "\n".join([text[a:b] for a, b in zip(rs.tolist(), re_.tolist())])
    small_start = np.cumsum(np.r_[0, (re_ - rs + 1)[:-1]])
    found = np.array([m.span() for m in _KEEP_WHOLE.finditer(small)], np.int64).reshape(-1, 2)
    if not found.size:
        return found
    r = np.searchsorted(small_start, found[:, 0], side="right") - 1
    return found + (rs[r] - small_start[r])[:, None]


def _merge_whole(text: str, starts: np.ndarray, ends: np.ndarray, whole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_merge_pieces` over arrays: a kept-whole match that starts and ends on piece boundaries
    replaces the pieces inside it."""
    if not whole.size:
        return starts, ends
    a, b = whole[:, 0], whole[:, 1]
    i = np.searchsorted(starts, a)
    j = np.searchsorted(ends, b, side="right")  # pieces i..j-1 end within the match
    n = starts.size
    ok = (i < n) & (j > i)
    ok[ok] &= (starts[i[ok]] == a[ok]) & (ends[j[ok] - 1] == b[ok])
    if not ok.any():
        return starts, ends
    i, j, b = i[ok], j[ok], b[ok]
    drop = np.zeros(n + 1, np.int64)  # pieces i+1..j-1 of each match go: +1 at i+1, -1 at j
    np.add.at(drop, i + 1, 1)
    np.add.at(drop, j, -1)
    keep = np.cumsum(drop[:-1]) == 0
    ends = ends.copy()
    ends[i] = b
    return starts[keep], ends[keep]
