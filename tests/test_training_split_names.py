"""Place names a corpus writes as adjacent spans joined into one (`join_split_names = true`): GMB's
"Czech"/gpe "Republic"/geo and "North"/geo "Korean"/gpe."""

from __future__ import annotations

from geobatch.io.documents import Sentence
from geobatch.resolve.major_places import major_place_names
from training.spec import load_spec
from training.split_names import join_split_names

from conftest import sentences_through_spec

NAMES = {"Czech Republic", "North Korean", "Syrian Arab Republic", "Palestinian", "Colombian", "Bordeaux"}


def s(words: str, tags: str) -> Sentence:
    return Sentence("x", words.split(), tags.split())


def joined(words: str, tags: str) -> list[str]:
    return join_split_names([s(words, tags)], NAMES.__contains__)[0].tags


def test_adjacent_spans_that_name_a_place_become_one_of_the_last_type():
    assert joined("in the Czech Republic today", "O O B-gpe B-geo O") == "O O B-geo I-geo O".split()
    assert joined("North Korean troops", "B-geo B-gpe O") == "B-gpe I-gpe O".split()
    assert joined("the Syrian Arab Republic said", "O B-gpe B-geo I-geo O") == "O B-geo I-geo I-geo O".split()
    # an any-place span joins too; the longest run of parts wins
    assert joined("North Korean", "B-* B-gpe") == "B-gpe I-gpe".split()


def test_what_is_not_one_name_stays_apart():
    plain = s("Indian Kashmir", "B-gpe B-geo")  # not a name the check knows
    assert join_split_names([plain], NAMES.__contains__)[0] is plain
    assert joined("Czech and Republic", "B-gpe O B-geo") == "B-gpe O B-geo".split()  # not adjacent
    assert joined("Czech Republic", "B-? B-geo") == "B-? B-geo".split()  # untaught spans never join
    assert joined("Czech Republic", "B-org B-geo") == "B-org B-geo".split()  # nor other types
    assert joined("the Palestinian", "B-geo B-gpe") == "B-geo B-gpe".split()  # annotation slips
    assert joined("The Colombian", "B-gpe B-gpe") == "B-gpe B-gpe".split()
    assert joined("Bordeaux -", "B-geo B-gpe") == "B-geo B-gpe".split()


def test_the_gazetteer_knows_the_names_gmb_splits():
    is_place = major_place_names()
    assert is_place("Czech Republic") and is_place("North Korean") and is_place("South African")
    assert not is_place("Indian Kashmir")


def test_spec_joins_then_retypes_the_demonym(tmp_path):
    """Through a spec: "North Korean" joined is one demonym (dem), "Czech Republic" one place; without
    the key "Korean" stays a place after "North"."""
    sent = [("North", "B-geo"), ("Korean", "B-gpe"), ("envoys", "O"), ("left", "O"), ("the", "O"),
            ("Czech", "B-gpe"), ("Republic", "B-geo"), (".", "O")]
    body = 'demonym_type = "dem"\n[[corpus]]\npath = "gmb.csv"\nformat = "gmb"\ntypes = { geo = "geo", gpe = "gpe" }\n'
    for key, want in (("", "B-geo B-gpe O O O B-dem B-geo O"), ("join_split_names = true\n", "B-dem I-dem O O O B-geo I-geo O")):
        got = sentences_through_spec(tmp_path, [sent], body + key)
        assert got[0].tags == want.split(), key
        # recorded with each training file in training.json and the model card
        assert load_spec(tmp_path / "spec.toml").corpora[0].to_dict()["join_split_names"] is bool(key)
