"""Readers (GMB, CoNLL, span documents), label schemes and word splitting, on small inline samples."""

from __future__ import annotations

import json

import pytest

from geobatch.errors import InputError
from geobatch.io.documents import Span
from geobatch.io.readers import read_conll, read_gmb, read_span_documents
from geobatch.io.readers.spans import SpanStats
from geobatch.labels import LabelScheme, label_list
from geobatch.text.words import join_words, split_words, tags_from_spans

GMB_ROWS = [
    "Sentence #,Word,POS,Tag",
    "Sentence: 1,Troops,NNS,O",
    ",left,VBD,O",
    ",Café,NNP,B-geo",
    ",Rouge,NNP,I-geo",
    ",\",\",\",\",O",
    ",French,JJ,B-gpe",
    ",officials,NNS,O",
    ",said,VBD,O",
    ",Monday,NNP,B-tim",
    "Sentence: 2,Rain,NN,O",
    ",hit,VBD,O",
    ",Lagos,NNP,B-geo",
]


def test_gmb_cp1252_crlf(tmp_path):
    p = tmp_path / "gmb.csv"
    p.write_bytes(("\r\n".join(GMB_ROWS) + "\r\n").encode("cp1252"))
    assert b"\xe9" in p.read_bytes()  # really cp1252, not UTF-8
    sents = list(read_gmb(p))
    assert [s.id for s in sents] == ["Sentence: 1", "Sentence: 2"]
    assert sents[0].words == ["Troops", "left", "Café", "Rouge", ",", "French", "officials", "said", "Monday"]
    assert sents[0].tags == ["O", "O", "B-geo", "I-geo", "O", "B-gpe", "O", "O", "B-tim"]
    assert sents[1].words == ["Rain", "hit", "Lagos"] and sents[1].tags[-1] == "B-geo"
    assert not any("\r" in w for s in sents for w in s.words)


def test_gmb_utf8_and_max_sentences(tmp_path):
    p = tmp_path / "gmb.csv"
    p.write_text("\n".join(GMB_ROWS) + "\n", encoding="utf-8")
    sents = list(read_gmb(p, max_sentences=1))
    assert len(sents) == 1 and sents[0].words[2] == "Café"


def test_gmb_missing_column_is_a_user_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("id,token\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column"):
        list(read_gmb(p))


def test_conll_blank_lines_docstart_crlf(tmp_path):
    p = tmp_path / "x.conll"
    text = "-DOCSTART- -X- O O\r\n\r\nRain NN O\r\nin IN O\r\nNew NNP B-geo\r\nYork NNP I-geo\r\n\r\n\r\nParis NNP B-geo\r\n"
    p.write_bytes(text.encode("utf-8"))
    sents = list(read_conll(p))
    assert [s.words for s in sents] == [["Rain", "in", "New", "York"], ["Paris"]]
    assert [s.tags for s in sents] == [["O", "O", "B-geo", "I-geo"], ["B-geo"]]


def test_conll_one_column_is_a_user_error(tmp_path):
    p = tmp_path / "x.conll"
    p.write_text("Rain O\nlonely\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        list(read_conll(p))


def test_span_documents_to_word_tags(tmp_path):
    text = "Floods hit New Orleans and Baton Rouge, officials in Louisiana said."
    spans = [
        {"start": text.index("New Orleans"), "end": text.index("New Orleans") + len("New Orleans")},
        {"start": text.index("Baton"), "end": text.index("Baton") + len("Baton Rouge")},
        {"start": text.index("Louisiana"), "end": text.index("Louisiana") + 9, "type": "Non_Toponym"},
        {"start": 5, "end": 999},  # impossible offsets: dropped and counted
    ]
    p = tmp_path / "docs.jsonl"
    p.write_text(json.dumps({"doc_id": "d1", "body": text, "toponyms": spans}) + "\n", encoding="utf-8")
    stats = SpanStats()
    (doc,) = read_span_documents(p, id_column="doc_id", text_column="body", spans_column="toponyms", span_label="geo", stats=stats)
    assert doc.id == "d1" and stats.skipped_type == 1 and stats.skipped_bad_offsets == 1 and stats.spans == 2
    words, offsets = split_words(doc.text)
    assert all(doc.text[s:e] == w for w, (s, e) in zip(words, offsets))
    tags = dict(zip(words, tags_from_spans(offsets, doc.spans, "geo")))
    assert (tags["New"], tags["Orleans"], tags["Baton"], tags["Rouge"]) == ("B-geo", "I-geo", "B-geo", "I-geo")
    assert tags["Louisiana"] == "O" and tags[","] == "O" and tags["Floods"] == "O"


@pytest.mark.parametrize("line", ["[1, 2]", '"just text"', "7"])
def test_span_documents_line_that_is_not_an_object_is_a_user_error(tmp_path, line):
    # training read such a line with AttributeError's traceback ('list' object has no attribute 'get')
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"id": "a", "text": "Paris", "spans": []}) + "\n" + line + "\n")
    with pytest.raises(InputError, match="line 2 is a JSON .*, not an object"):
        list(read_span_documents(p))


def test_span_documents_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": ["a"], "text": ["Rome is old"], "spans": [[{"start": 0, "end": 4, "label": "gpe"}]]})
    pq.write_table(table, tmp_path / "d.parquet")
    (doc,) = read_span_documents(tmp_path / "d.parquet")
    assert doc.spans[0].label == "gpe" and doc.text[doc.spans[0].start:doc.spans[0].end] == "Rome"


def test_tags_from_spans_partial_word_overlap():
    words, offsets = split_words("Go to Paris-Nord now")
    tags = tags_from_spans(offsets, [Span(6, 11, "geo")])  # "Paris" only; '-' and 'Nord' untouched
    assert list(zip(words, tags)) == [("Go", "O"), ("to", "O"), ("Paris", "B-geo"), ("-", "O"), ("Nord", "O"), ("now", "O")]


def test_join_words_offsets():
    text, offsets = join_words(["New", "York", "!"])
    assert text == "New York !" and [text[s:e] for s, e in offsets] == ["New", "York", "!"]


def test_locations_scheme_repairs_iob():
    scheme = LabelScheme.from_options("locations")
    # an I-geo after a dropped B-org must become B-geo; tim/per vanish
    assert scheme.map_tags(["B-org", "I-geo", "I-geo", "B-tim", "B-gpe"]) == ["O", "B-geo", "I-geo", "O", "B-gpe"]
    assert label_list(scheme.map_tags(["B-gpe", "B-geo", "I-geo", "B-per"])) == ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]


def test_label_map_file(tmp_path):
    p = tmp_path / "map.txt"
    p.write_text("geo tar\ngpe inc  # comment\n", encoding="utf-8")
    scheme = LabelScheme.from_options("full", p)
    assert scheme.map_tags(["B-geo", "I-geo", "B-gpe", "B-per"]) == ["B-tar", "I-tar", "B-inc", "O"]
