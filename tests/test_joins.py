"""A place name the model wrote in two pieces is written as one span (geobatch/decode/joins.py): "Sri"/geo
"Lanka"/gpe, "Saudi"/dem "Arabia"/O, "British"/dem "Columbia"/geo, "South"/O "African"/gpe (a demonym), as
found in the selection slice."""

from __future__ import annotations

import json

import pytest
from run_helpers import decode_chunk, read, run
from tiny_onnx import build_tiny_model_dir

from geobatch.decode.joins import joined_names, known_place_name, tags_as_joined

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe", "B-dem", "I-dem"]
PLACES = ("geo", "gpe")
KNOWN = {"Sri Lanka", "Saudi Arabia", "British Columbia"}


def _joined(text: str, tags: list[str]):
    words, spans, codes = decode_chunk(text, tags, LABELS)
    out, joined = joined_names(spans, words, [text], codes, PLACES, "dem", lambda name: name in KNOWN)
    written = [(text[words.starts[a]:words.ends[b - 1]], codes.types[t])
               for a, b, t in zip(out.word_start.tolist(), out.word_end.tolist(), out.type.tolist())]
    return written, joined, out, words, codes


@pytest.mark.parametrize("text, tags, written", [
    # a place piece of the other place type: one name, the first piece's type
    ("in Sri Lanka today", ["O", "B-geo", "B-gpe", "O"], [("Sri Lanka", "geo")]),
    # ... unless the two pieces make a demonym: one span, of the demonym type
    ("South African troops", ["B-geo", "B-gpe", "O"], [("South African", "dem")]),
    # two places of one type side by side stay two (the model said B- twice)
    ("Paris London", ["B-geo", "B-geo"], [("Paris", "geo"), ("London", "geo")]),
    # a demonym and the rest of a country's name the gazetteer has
    ("Saudi Arabia beheads", ["B-dem", "O", "O"], [("Saudi Arabia", "geo")]),
    ("British Columbia votes", ["B-dem", "B-geo", "O"], [("British Columbia", "geo")]),
    ("British Columbia votes", ["B-dem", "B-gpe", "O"], [("British Columbia", "gpe")]),
    # a demonym before a word that makes no place name, or a lowercase word, stays a demonym
    ("Saudi officials said", ["B-dem", "O", "O"], [("Saudi", "dem")]),
    ("Saudi Interior Ministry", ["B-dem", "O", "O"], [("Saudi", "dem")]),
    ("British London office", ["B-dem", "B-geo", "O"], [("British", "dem"), ("London", "geo")]),
    # an untagged capitalised first word of a place's name: one span, the place piece's type
    ("in Sri Lanka today", ["O", "O", "B-geo", "O"], [("Sri Lanka", "geo")]),
    ("in Sri Lanka today", ["O", "O", "B-gpe", "O"], [("Sri Lanka", "gpe")]),
    # ... not a word that makes no place name, nor a lowercase one, nor before a demonym
    ("Mr Lanka said", ["O", "B-geo", "O"], [("Lanka", "geo")]),
    ("in sri Lanka", ["O", "O", "B-geo"], [("Lanka", "geo")]),
    ("Sri Lanka", ["O", "B-dem"], [("Lanka", "dem")]),
    # an untagged first word that makes a demonym of a place span: one span, the demonym type
    ("South African troops", ["O", "B-gpe", "O"], [("South African", "dem")]),
    ("North Korean envoys", ["O", "B-geo", "O"], [("North Korean", "dem")]),
    # ... not a place span that is a demonym alone, nor after a lowercase word
    ("in African mines", ["O", "B-gpe", "O"], [("African", "gpe")]),
    ("south African troops", ["O", "B-gpe", "O"], [("African", "gpe")]),
])
def test_names_in_two_pieces_are_joined_and_nothing_else(text, tags, written):
    assert _joined(text, tags)[0] == written


def test_pieces_apart_are_not_joined():
    # anything but exactly one space between the pieces: a comma, two spaces, a line break
    for text, tags in (("Sri, Lanka", ["B-geo", "O", "B-gpe"]), ("Sri  Lanka", ["B-geo", "B-gpe"]),
                       ("Sri\nLanka", ["B-geo", "B-gpe"]), ("Saudi\nArabia", ["B-dem", "O"]),
                       ("Sri  Lanka", ["O", "B-geo"]), ("Sri\nLanka", ["O", "B-geo"])):
        words, spans, codes = decode_chunk(text, tags, LABELS)
        assert joined_names(spans, words, [text], codes, PLACES, "dem", lambda name: True)[1] == []


def test_an_article_does_not_begin_a_place_name():
    # the gazetteer's check reads "The U.S." as "U.S."; GeoVirus' gold writes "U.S." alone
    words, spans, codes = decode_chunk("as The Lanka said", ["O", "O", "B-geo", "O"], LABELS)
    out, joined = joined_names(spans, words, ["as The Lanka said"], codes, PLACES, "dem", lambda name: True)
    assert joined == [] and (out.word_start.tolist(), out.word_end.tolist()) == ([2], [3])


def test_a_word_one_join_took_is_not_taken_by_the_next():
    words, spans, codes = decode_chunk("Saudi Arabia Lanka", ["B-dem", "O", "B-geo"], LABELS)
    out, _ = joined_names(spans, words, ["Saudi Arabia Lanka"], codes, PLACES, "dem", lambda n: n in {"Saudi Arabia", "Arabia Lanka"})
    assert list(zip(out.word_start.tolist(), out.word_end.tolist())) == [(0, 2), (2, 3)]


def test_a_joined_span_s_confidence_is_over_all_its_words_and_its_tags_read_as_one_span():
    written, joined, out, words, codes = _joined("Saudi Arabia beheads", ["B-dem", "O", "O"])
    assert joined == [(0, 2, codes.types.index("geo"))]
    assert out.confidence[0] == pytest.approx(float(words.conf[:2].mean()))
    assert out.confidence_min[0] == pytest.approx(float(words.conf[:2].min()))
    tags = tags_as_joined(words.tags, joined, codes)
    assert [codes.names[t] for t in tags] == ["B-geo", "I-geo", "O"]


def test_the_gazetteer_knows_countries_by_their_own_names_not_by_demonyms():
    assert known_place_name("Saudi Arabia") and known_place_name("Sri Lanka") and known_place_name("British Columbia")
    assert not known_place_name("South African") and not known_place_name("Saudi Officials")


def test_run_writes_a_country_the_model_split_as_one_place(tmp_path):
    """A tiny model that tags "sri" geo, "lanka" gpe and "saudi" dem wherever they stand."""
    model = build_tiny_model_dir(tmp_path / "m", labels=LABELS,
                                 word_labels={"sri": "B-geo", "lanka": "B-gpe", "saudi": "B-dem", "paris": "B-geo"},
                                 card_extra={"training": {"spec": {"demonym_type": "dem"}}})
    text = "Saudi Arabia and Sri Lanka met Saudi envoys in Paris."
    src = tmp_path / "in.jsonl"
    gold = [{"start": 0, "end": 12, "label": "geo"}, {"start": 17, "end": 26, "label": "geo"}, {"start": 47, "end": 52, "label": "geo"}]
    src.write_text(json.dumps({"id": "a", "text": text, "spans": gold}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run("--model", model, "--input", src, "--output", out, "--spans-column", "spans") == 0
    spans = sorted((s["start_char"], s["text"], s["label"]) for s in read(out, "spans"))
    assert spans == [(0, "Saudi Arabia", "geo"), (17, "Sri Lanka", "geo"), (31, "Saudi", "dem"), (47, "Paris", "geo")]
    tags = [t["tag"] for t in sorted(read(out, "tokens"), key=lambda t: t["word_index"])]
    assert tags[:5] == ["B-dem", "O", "O", "B-geo", "B-gpe"]  # tokens/ keeps the model's own tags
    loc = json.loads((out / "metrics.json").read_text())["entity_level"]["location"]
    assert (loc["support"], loc["precision"], loc["recall"]) == (3, 1.0, 1.0), loc
