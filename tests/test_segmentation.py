"""One word segmentation for training and run time (issue 14): `split_words` keeps initialisms and
listed abbreviations whole; word-per-row files are cut again by it; the words a model trains on are
the words `geobatch run` feeds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from geobatch.io.documents import Sentence
from geobatch.io.readers import read_gmb
from geobatch.text.words import resplit_words, split_words, spread_tags
from tests.tiny_onnx import tiny_onnx_dir  # noqa: F401  (fixture)
from training.data import SpanOptions, read_sentences

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ISSUE_SENTENCES = (
    "The U.S. embassy in Port-au-Prince said officials in Washington, D.C. and St. Louis met envoys "
    "from Guinea-Bissau and the U.K. on Tuesday.",
    "Officials in Dalton, Ga., and Wheeling, W.Va., said the Ohio River flooded parts of Kanawha County.",
)


def words(text: str) -> list[str]:
    return split_words(text)[0]


def test_initialisms_and_listed_abbreviations_stay_whole_with_their_period():
    w = words(ISSUE_SENTENCES[0]) + words(ISSUE_SENTENCES[1])
    for whole in ("U.S.", "D.C.", "U.K.", "St.", "Ga.", "W.Va."):
        assert whole in w
    assert w[:3] == ["The", "U.S.", "embassy"]
    # a hyphenated name splits as BERT splits it; the model learns its pieces as one span
    assert ["Port", "-", "au", "-", "Prince"] == w[4:9]


def test_a_sentence_end_is_not_an_abbreviation():
    assert words("He met Smith. Then he left.") == ["He", "met", "Smith", ".", "Then", "he", "left", "."]
    assert words("attended mass.") == ["attended", "mass", "."]  # case matters: "Mass." is the state
    assert words("in Mass. today")[1] == "Mass."
    assert words("3.5 km") == ["3", ".", "5", "km"]  # numbers are not initialisms
    assert words("U.S.-led forces") == ["U.S.", "-", "led", "forces"]
    assert words("D.C.20036") == ["D", ".", "C", ".", "20036"]  # glued to a number: left as BERT splits it


@pytest.mark.parametrize("text", ISSUE_SENTENCES + ("", "   ", "e.g. a.m. p.m. Ph.D. U.S", "naïve café in São Paulo, Ore.", "x" * 50 + ".U.S."))
def test_offsets_slice_the_text(text):
    w, offsets = split_words(text)
    assert [text[s:e] for s, e in offsets] == w
    assert all(a[1] <= b[0] for a, b in zip(offsets, offsets[1:]))
    # nothing but whitespace is lost between words
    covered = "".join(text[s:e] for s, e in offsets)
    assert covered == "".join(text.split())


def test_web_and_email_addresses_are_one_word():
    """An address cut at its punctuation gave the model "bc.ca", "co.uk" and "de" as words it tagged
    places; whole, it is one word. The sentence's own punctuation after it stays a word of its own."""
    text = ("See http://www.frontcounterbc.gov.bc.ca/ or https://portal.nrs.gov.bc.ca. Mail info@dkrpa.com, "
            "visit www.a-trane.de (Berlin), tinyurl.com/cro5kto and JD.com; U.S. St. Louis stay as before.")
    w = words(text)
    for whole in ("http://www.frontcounterbc.gov.bc.ca/", "https://portal.nrs.gov.bc.ca", "info@dkrpa.com",
                  "www.a-trane.de", "tinyurl.com/cro5kto", "JD.com", "U.S.", "St."):
        assert whole in w, whole
    assert w[w.index("https://portal.nrs.gov.bc.ca") + 1] == "."
    assert w[w.index("www.a-trane.de") + 1:w.index("www.a-trane.de") + 4] == ["(", "Berlin", ")"]
    # no period, no address: split as BERT splits it (split_texts relies on the period)
    assert words("http://localhost now") == ["http", ":", "/", "/", "localhost", "now"]
    # a domain needs a generic top-level domain of its own, not a longer word that starts with one
    assert words("example.community") == ["example", ".", "community"]


def test_invisible_characters_separate_words_and_belong_to_none():
    """A BOM, a zero-width space or a control character is no part of a word (BERT's normaliser would
    delete it and glue its neighbours), so no span's offsets can include one."""
    text = "\ufeffFloods in Nul\x00byte, \u200bZurich\u200b and U.S.\x07 towns; Lon\xaddon stays whole."
    w, offsets = split_words(text)
    assert w == ["Floods", "in", "Nul", "byte", ",", "Zurich", "and", "U.S.", "towns", ";", "Lon\xaddon", "stays", "whole", "."]
    assert [text[s:e] for s, e in offsets] == w
    assert offsets[0][0] == 1 and words("\u200b\x00 \ufeff") == []


def test_resplit_spreads_a_file_words_tag_over_its_pieces():
    r = resplit_words(["The", "U.S.-led", "raid", "in", "Port-au-Prince", "."])
    assert r.words == ["The", "U.S.", "-", "led", "raid", "in", "Port", "-", "au", "-", "Prince", "."]
    assert r.owner == [0, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 5]
    assert [r.text[s:e] for s, e in r.file_offsets] == ["The", "U.S.-led", "raid", "in", "Port-au-Prince", "."]
    tags = spread_tags(["O", "B-gpe", "O", "O", "B-geo", "O"], r.owner)
    assert tags == ["O", "B-gpe", "I-gpe", "I-gpe", "O", "O", "B-geo", "I-geo", "I-geo", "I-geo", "I-geo", "O"]
    # an I- file word stays I- on every piece
    assert spread_tags(["B-geo", "I-geo"], resplit_words(["New", "Port-Vila"]).owner) == ["B-geo", "I-geo", "I-geo", "I-geo"]


def _word_per_row_files() -> list[Path]:
    files = [ROOT / "data" / "sample_labelled.csv"]
    if (SHARED / "gmb" / "test.csv").exists():
        files.append(SHARED / "gmb" / "test.csv")
    return files


@pytest.mark.parametrize("path", _word_per_row_files(), ids=lambda p: p.name)
def test_training_words_are_the_words_geobatch_run_sees(path, tiny_onnx_dir):  # noqa: F811
    """For every sentence of a word-per-row file: the words `geobatch train` encodes are the words the
    runtime pipeline feeds the model for that sentence, and `split_words` of the sentence's text."""
    from geobatch.pipeline import Pipeline, PipelineOptions

    trained = read_sentences(path, "gmb")
    file_sentences = list(read_gmb(path))
    assert len(trained) == len(file_sentences) > 0
    pipe = Pipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"))
    docs = pipe.to_documents(file_sentences)
    changed = 0
    for t, d, f in zip(trained, docs, file_sentences):
        assert d.error is None
        assert t.words == d.words == split_words(d.text)[0]
        assert len(t.tags) == len(t.words)
        changed += t.words != f.words
    if path.name == "test.csv":  # GMB writes "Port-au-Prince", "$", "al-Qaida" as one word: some sentences change
        assert changed > 100


def test_runtime_gives_tags_back_on_the_file_words(tiny_onnx_dir, tmp_path):  # noqa: F811
    """--format gmb: the model reads the re-split words, the tokens table and metrics keep the file's words."""
    from geobatch.pipeline import Pipeline, PipelineOptions

    pipe = Pipeline(tiny_onnx_dir, PipelineOptions(provider="cpu", with_gold=True))
    s = Sentence("s1", ["Troops", "left", "Port-au-Prince", "for", "the", "U.S.", "."], ["O", "O", "B-geo", "O", "O", "B-geo", "O"])
    result = pipe.process([s])
    tokens = result.tokens.to_pylist()
    assert [t["word"] for t in tokens] == s.words
    assert [t["gold_tag"] for t in tokens] == s.tags
    assert result.docs.to_pylist()[0]["n_words"] == len(s.words)
    text = "Troops left Port-au-Prince for the U.S. ."
    assert all(text[t["start_char"]:t["end_char"]] == t["word"] for t in tokens)


def test_span_documents_train_on_split_words(tmp_path):
    p = tmp_path / "docs.jsonl"
    text = "Floods hit Washington, D.C. and Calif. on Monday."
    p.write_text('{"id": "a", "text": "%s", "spans": [{"start": 11, "end": 27, "label": "geo"}, {"start": 32, "end": 38, "label": "geo"}]}\n' % text)
    (s,) = read_sentences(p, None, None, SpanOptions())
    assert s.words == words(text)
    assert list(zip(s.words, s.tags))[2:8] == [("Washington", "B-geo"), (",", "I-geo"), ("D.C.", "I-geo"), ("and", "O"),
                                                ("Calif.", "B-geo"), ("on", "O")]
