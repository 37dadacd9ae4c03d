"""split_texts (many texts at once, array operations) gives exactly the words and offsets of split_words."""

import json
import random
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from geobatch.text.words import split_texts, split_words

from test_segmentation import ROOT, SHARED  # noqa: I001

EDGE_CASES = [
    "", " ", "U.S.", "©U.S. x", "a.m. and p.m.", "W.Va.", "St.", "x St. y", "U.S", "U.S-led", "..", "Ph.D.s",
    "\u00a0U.K.\u2028D.C.", "東京 😀 e\u0301t", "a\x1cb\x1fc", "Mass. mass.", "e.g.U.S.", "St.Louis", "U.S.A.F.", "a\u2e43b",
    "\u166d x \u061d", "Calif.-based", "(U.S.)", "U.S.\n", ".U.S.",
    "\ufeffU.S.\u200b", "a\x00b\x7f\x85c\x9f", "\u2060x\u200bU.S.\x07St.",
    "www.a-trane.de\n\nOslo", "(http://x.gov.bc.ca/a?b=1).", "a@b.co.uk,", "JD.com.", "http://localhost", "www.",
    "e.g.www.bbc.co.uk", "x@y", "St.Louis.com", "U.S.gov", "tinyurl.com/x)", "ftp://a.b\u2019s",
]


def test_web_addresses_built_at_random():
    """Addresses and near-addresses pieced together at random: both functions cut them alike."""
    rng = random.Random(5)
    parts = ["www", ".", "http", "https", "://", "/", "@", "com", "org", "co", "uk", "U", "S", "St", "a-b", "x", "9",
             ",", ")", "(", "?", "=", " ", "\n", "’", "Ph", "D", "-", "de"]
    texts = ["".join(rng.choice(parts) for _ in range(rng.randint(1, 25))) for _ in range(2000)]
    assert_same(texts)


def assert_same(texts):
    for text, (words, starts, ends) in zip(texts, split_texts(texts)):
        assert (words, list(zip(starts.tolist(), ends.tolist()))) == split_words(text), repr(text[:80])


def test_edge_cases_and_the_bundled_corpus():
    texts = pq.read_table(ROOT / "data" / "sample_corpus.parquet", columns=["text"]).column(0).to_pylist()
    assert_same(EDGE_CASES + [t for t in texts if t])
    assert split_texts([]) == []


def test_random_characters_from_all_of_unicode():
    """Characters are classed by asking the pre-tokenizer itself (unicodedata's Unicode version differs
    from the tokenizers crate's for ~100 punctuation characters, e.g. U+2E43, U+166D)."""
    rng = random.Random(11)
    pool = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    alphabet = "aZ. \t.U.S" + "".join(chr(rng.choice(pool)) for _ in range(3000))
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(400)]
    assert_same(texts)


@pytest.mark.skipif(not (SHARED / "geoparsing" / "GeoVirus.jsonl").is_file(), reason="shared corpora not present")
def test_news_corpora():
    texts = []
    for name in ("GeoVirus", "GeoWebNews"):
        with open(SHARED / "geoparsing" / f"{name}.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    assert_same(texts)
    assert np.all([len(w) for w, _, _ in split_texts(texts[:5])])


def test_initialisms_and_abbreviations_stay_whole_as_in_split_words():
    """Sentences of news prose: initialisms ("U.S.", "D.C.", "W.Va.") and the listed abbreviations
    ("St.", "Ga.") are one word in both functions, hyphenated names are cut the same way."""
    texts = [
        "The U.S. embassy in Port-au-Prince said officials in Washington, D.C. and St. Louis met envoys from "
        "Guinea-Bissau and the U.K. on Tuesday.",
        "Officials in Dalton, Ga., and Wheeling, W.Va., said the Ohio River flooded parts of Kanawha County.",
    ]
    assert_same(texts)
    words = [w for ws, _, _ in split_texts(texts) for w in ws]
    for whole in ("U.S.", "D.C.", "St.", "U.K.", "Ga.", "W.Va."):
        assert whole in words, whole
