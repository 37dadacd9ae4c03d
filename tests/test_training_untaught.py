"""Untaught spans narrowed to the place names inside them (`untaught_scope = "place-names"`): GMB's
organisations keep "U.S." of "U.S. Embassy" untaught but teach "U.N." and "NATO" as O."""

from __future__ import annotations

import pytest

from geobatch.errors import InputError
from geobatch.io.documents import Sentence
from geobatch.resolve.major_places import major_place_names
from training.data import SpanOptions, read_sentences
from training.untaught import narrow_untaught, tag_spans, taught_names

from conftest import sentences_through_spec


def s(words: str, tags: str) -> Sentence:
    return Sentence("x", words.split(), tags.split())


def test_tag_spans_reads_bio_runs():
    assert list(tag_spans(["B-geo", "I-geo", "O", "I-?", "B-?", "B-gpe"])) == [(0, 2, "geo"), (3, 4, "?"), (4, 5, "?"), (5, 6, "gpe")]


def test_only_names_the_corpus_tags_often_enough_and_the_check_accepts_are_kept():
    corpus = [
        s("U.S. troops left", "B-geo O O"), s("the U.S. said", "O B-geo O"),
        s("New York is big", "B-geo I-geo O O"), s("in New York", "O B-geo I-geo"),
        s("the U.N. met", "O B-geo O"), s("the U.N. said", "O B-geo O"),
        s("Paris once", "B-geo O"),                      # seen once: an annotation slip is not a name
        s("the U.S. Embassy", "O B-? I-?"),              # untaught spans never make a name
    ]
    assert taught_names(corpus) == {("U.S.",), ("New", "York"), ("U.N.",)}
    assert taught_names(corpus, lambda name: name != "U.N.") == {("U.S.",), ("New", "York")}


def test_an_untaught_span_keeps_its_place_names_and_teaches_the_rest_as_outside():
    names = {("U.S.",), ("New", "York"), ("York",)}
    [got] = narrow_untaught([s("The U.S. Embassy and New York Times and U.N. Security Council said",
                               "O B-? I-? O B-? I-? I-? O B-? I-? I-? O")], names)
    # longest name first: "New York" stays one untaught span, not "York" alone
    assert got.tags == "O B-? O O B-? I-? O O O O O O".split()
    plain = s("Paris and U.S. troops", "B-geo O B-geo O")
    assert narrow_untaught([plain], names)[0] is plain


def test_the_gazetteer_tells_a_country_from_an_organisation():
    is_place = major_place_names()
    assert is_place("U.S.") and is_place("West Bank") and is_place("Tehran")
    # "Un" is a town of 30,671 in India and "Nato" a village: not what GMB's organisations mean
    assert not is_place("U.N.") and not is_place("NATO") and not is_place("Hamas") and not is_place("Taleban")


def test_spec_narrows_gmb_organisations(tmp_path):
    sentences = [[("The", "O"), ("U.S.", "B-geo"), ("said", "O")]] * 2 + [
        [("The", "O"), ("U.N.", "B-geo"), ("said", "O")]] * 2 + [
        [("The", "O"), ("U.S.", "B-org"), ("Embassy", "I-org"), ("and", "O"), ("U.N.", "B-org"), ("met", "O")]]
    body = '[[corpus]]\npath = "gmb.csv"\nformat = "gmb"\ntypes = { geo = "geo", org = "?" }\n'
    for scope, want in (("", "O B-? I-? O B-? O"), ('untaught_scope = "place-names"\n', "O B-? O O O O")):
        got = sentences_through_spec(tmp_path, sentences, body + scope)
        assert got[-1].tags == want.split(), scope


def test_compound_words_gmb_writes_as_outside_leave_their_place_names_untaught(tmp_path):
    # GMB tags the word "U.S.-led" O; the splitter cuts it into U.S. - led, and O on "U.S." would teach that
    # the place inside is not one. With untaught_compounds its pieces are untaught; "place-names" keeps only
    # "U.S." so, and a demonym piece still becomes dem ("Syrian-backed" -> Syrian/dem).
    sentences = [[("The", "O"), ("U.S.", "B-geo"), ("said", "O")]] * 2 + [
        [("U.S.-led", "O"), ("and", "O"), ("Syrian-backed", "O"), ("troops", "O"), ("in", "O"), ("Port-au-Prince", "B-geo")]]
    body = '[[corpus]]\npath = "gmb.csv"\nformat = "gmb"\ntypes = { geo = "geo" }\n'
    cases = (
        ("", "O O O O O O O O O B-geo I-geo I-geo I-geo I-geo"),                                  # as GMB writes it
        ("untaught_compounds = true\n", "B-? B-? B-? O B-? B-? B-? O O B-geo I-geo I-geo I-geo I-geo"),
        ('untaught_compounds = true\nuntaught_scope = "place-names"\n', "B-? O O O O O O O O B-geo I-geo I-geo I-geo I-geo"),
        ('untaught_compounds = true\nuntaught_scope = "place-names"\n', "B-? O O O B-dem O O O O B-geo I-geo I-geo I-geo I-geo"),
    )
    for n, (extra, want) in enumerate(cases):
        top = 'demonym_type = "dem"\n' if n == 3 else ""
        got = sentences_through_spec(tmp_path, sentences, top + body + extra)
        assert got[-1].words == "U.S. - led and Syrian - backed troops in Port - au - Prince".split()
        assert got[-1].tags == want.split(), extra


def test_untaught_compounds_is_refused_on_a_span_corpus(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "Paris-based", "spans": [{"start": 0, "end": 5, "label": "geo"}]}\n')
    with pytest.raises(InputError, match="untaught_compounds is for word-per-row files"):
        read_sentences(tmp_path / "a.jsonl", spans=SpanOptions(untaught_compounds=True))
