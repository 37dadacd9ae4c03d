"""Untaught spans narrowed to the place names inside them (`untaught_scope = "place-names"`): GMB's
organisations keep "U.S." of "U.S. Embassy" untaught but teach "U.N." and "NATO" as O."""

from __future__ import annotations

import pytest

from geobatch.errors import InputError
from geobatch.io.documents import Sentence
from geobatch.resolve.major_places import major_place_names
from training.data import SpanOptions, read_sentences
from training.untaught import mostly_places, narrow_untaught, tag_spans, taught_names, teach_compound_places

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


def test_compound_places_teaches_the_place_inside_a_compound_as_a_place_of_either_type(tmp_path):
    # "U.S." is a name the corpus tags (twice) and the gazetteer knows: taught "*"; "Kent" is tagged only
    # once, so it is not a name and its compound stays O; "led" and "-" are O; a demonym piece is dem
    sentences = [[("The", "O"), ("U.S.", "B-geo"), ("said", "O")]] * 2 + [[("Kent", "B-geo"), ("said", "O")]] + [
        [("U.S.-led", "O"), ("and", "O"), ("Syrian-backed", "O"), ("and", "O"), ("Kent-based", "O"), ("troops", "O")]]
    body = 'demonym_type = "dem"\n[[corpus]]\npath = "gmb.csv"\nformat = "gmb"\ntypes = { geo = "geo" }\ncompound_places = true\n'
    for scope in ("", 'untaught_scope = "place-names"\n'):
        got = sentences_through_spec(tmp_path, sentences, body + scope)
        assert got[-1].words == "U.S. - led and Syrian - backed and Kent - based troops".split()
        assert got[-1].tags == "B-* O O O B-dem O O O O O O O".split(), scope
        assert got[0].tags == "O B-geo O".split()  # words that are not compounds keep their tags


def test_only_words_the_corpus_mostly_tags_as_places_are_taught_inside_compounds():
    corpus = [s("U.S. troops left", "B-geo O O"), s("the U.S. Embassy", "O B-geo I-geo"),   # one of two alone
              s("Western diplomats and Western Sahara", "O O O B-geo I-geo"), s("Western aid", "B-geo O"),
              s("Western powers", "O O"),                                                   # one of three alone
              s("Thai troops", "B-dem O"), s("Thai rice", "B-dem O"),                         # demonyms are no places
              s("U.S. - led", "B-compound-piece B-compound-piece B-compound-piece")]       # pieces are not counted
    names = {("U.S.",), ("Western",), ("Thai",), ("Western", "Sahara")}
    assert mostly_places(corpus, names, not_places=["dem"]) == {("U.S.",)}
    assert mostly_places(corpus, names) == {("U.S.",), ("Thai",)}
    assert ("led",) not in taught_names(corpus * 2)  # a compound piece is not a span the corpus tagged
    [got] = teach_compound_places([corpus[-1]], {("U.S.",)})
    assert got.tags == ["B-*", "O", "O"]


def test_compound_places_and_untaught_compounds_are_not_taken_together(tmp_path):
    body = '[[corpus]]\npath = "gmb.csv"\nformat = "gmb"\nuntaught_compounds = true\ncompound_places = true\n'
    with pytest.raises(InputError, match="both untaught_compounds and compound_places"):
        sentences_through_spec(tmp_path, [[("U.S.-led", "O")]], body)


@pytest.mark.parametrize("key", ["untaught_compounds", "compound_places"])
def test_compound_keys_are_refused_on_a_span_corpus(tmp_path, key):
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "Paris-based", "spans": [{"start": 0, "end": 5, "label": "geo"}]}\n')
    with pytest.raises(InputError, match=f"{key} is for word-per-row files"):
        read_sentences(tmp_path / "a.jsonl", spans=SpanOptions(**{key: True}))
