"""Several corpora in one training run (issue 14): the spec file, per-corpus type maps, weights,
held-out documents, "any place" targets, and the one-line refusals of bad training input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geobatch.errors import InputError
from training.data import SpanOptions, read_sentences
from training.corpora import epoch_order
from training.scoring import merged_places
from training.spec import is_heldout, is_validation, load_spec, override_weights

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def write_docs(path: Path, docs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture()
def typed_docs(tmp_path) -> Path:
    return write_docs(tmp_path / "typed.jsonl", [
        {"doc_id": "d1", "text": "Rain in Paris and 75001 today.", "toponyms": [
            {"start": 8, "end": 13, "type": "CITY"}, {"start": 18, "end": 23, "type": "ZIP"}]},
        {"doc_id": "d2", "text": "The French left Kenya.", "toponyms": [
            {"start": 4, "end": 10, "type": "Demonym"}, {"start": 16, "end": 21, "type": "COUNTRY"}]},
    ])


def test_heldout_rule_is_the_documented_hash():
    import hashlib

    ids = [str(i) for i in range(200)] + ["text1", "doc-7"]
    expected = [i for i in ids if int(hashlib.sha256(i.encode()).hexdigest(), 16) % 5 == 0]
    assert [i for i in ids if is_heldout(i, "sha256-mod5")] == expected
    assert 20 < len(expected) < 60  # about a fifth
    assert is_heldout("anything", "all") and not is_heldout("anything", None)


def test_validation_rule_is_the_next_fifth_and_never_the_held_back_one():
    import hashlib

    ids = [str(i) for i in range(200)] + ["text1", "doc-7"]
    expected = [i for i in ids if int(hashlib.sha256(i.encode()).hexdigest(), 16) % 5 == 1]
    assert [i for i in ids if is_validation(i, "sha256-mod5=1")] == expected
    assert 20 < len(expected) < 60
    assert not any(is_validation(i, "sha256-mod5=1") and is_heldout(i, "sha256-mod5") for i in ids)
    assert not any(is_validation(i, None) for i in ids)


def test_type_map_maps_each_span_and_any_place_stays_untyped(typed_docs):
    so = SpanOptions("doc_id", "text", "toponyms", type_field="type",
                     types={"CITY": "geo", "COUNTRY": "*", "Demonym": "O"})  # ZIP: not a place name, dropped by the span reader
    s1, s2 = read_sentences(typed_docs, None, None, so)
    assert dict(zip(s1.words, s1.tags))["Paris"] == "B-geo"
    assert dict(zip(s1.words, s1.tags))["75001"] == "O"
    assert dict(zip(s2.words, s2.tags)) == {"The": "O", "French": "O", "left": "O", "Kenya": "B-*", ".": "O"}


def test_type_field_label_means_the_spans_own_label(tmp_path):
    # the reader keeps "label" out of a span's extra fields, so type_field = "label" found no type at all
    p = write_docs(tmp_path / "l.jsonl", [{"id": "a", "text": "Rain in Paris.", "spans": [{"start": 8, "end": 13, "label": "CITY"}]}])
    (s,) = read_sentences(p, None, None, SpanOptions(type_field="label", types={"CITY": "geo"}))
    assert dict(zip(s.words, s.tags))["Paris"] == "B-geo"


def test_a_type_the_map_does_not_name_is_refused(typed_docs):
    so = SpanOptions("doc_id", "text", "toponyms", type_field="type", types={"CITY": "geo", "COUNTRY": "*"})
    with pytest.raises(InputError, match="Demonym are not in the corpus's type map"):
        read_sentences(typed_docs, None, None, so)


def test_a_misspelt_type_in_the_map_is_refused(typed_docs):
    so = SpanOptions("doc_id", "text", "toponyms", type_field="type",
                     types={"CITY": "geo", "COUNTRY": "*", "Demonym": "O", "CITTY": "geo"})
    with pytest.raises(InputError, match="names CITTY, which the corpus never has"):
        read_sentences(typed_docs, None, None, so)


def test_spans_that_do_not_slice_their_text_are_refused_unless_skipped(tmp_path):
    p = write_docs(tmp_path / "bad.jsonl", [{"id": "x", "text": "Rain in Paris.", "spans": [
        {"start": 8, "end": 13, "label": "geo", "surface": "Paris"}, {"start": 9, "end": 14, "label": "geo", "surface": "Paris"}]}])
    with pytest.raises(InputError, match="1 span.*do not slice the text.*document x"):
        read_sentences(p, None, None, SpanOptions())
    (s,) = read_sentences(p, None, None, SpanOptions(skip_bad_spans=True))
    assert "B-geo" in s.tags


def test_held_back_documents_are_not_read(typed_docs):
    so = SpanOptions("doc_id", "text", "toponyms", span_label="*", keep_document=lambda d: d != "d1")
    assert [s.id for s in read_sentences(typed_docs, None, None, so)] == ["d2"]


def test_epoch_order_weights():
    groups = [0] * 100 + [1] * 10
    order = epoch_order(groups, [0.25, 3.0], seed=1)
    g = np.asarray(groups)[order]
    assert (g == 0).sum() == 25 and len(set(order[g == 0])) == 25  # a quarter, drawn without replacement
    assert (g == 1).sum() == 30 and set(order[g == 1]) == set(range(100, 110))
    assert not np.array_equal(np.sort(epoch_order(groups, [0.25, 3.0], seed=2)), np.sort(order))  # another draw


def test_merged_places_for_selection():
    assert merged_places(["B-geo", "I-geo", "O", "B-*", "B-per"], {"geo", "gpe", "*"}) == ["B-location", "I-location", "O", "B-location", "B-per"]


def _spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a.jsonl").write_text('{"id": "1", "text": "Paris", "spans": [{"start": 0, "end": 5, "label": "geo"}]}\n')
    (tmp_path / "copy.jsonl").write_bytes((tmp_path / "a.jsonl").read_bytes())
    p = tmp_path / "spec.toml"
    p.write_text(body)
    return p


@pytest.mark.parametrize("body, message", [
    ('[[corpus]]\npath = "a.jsonl"\nweight = 0\n', "weight 0, not a positive number"),
    ('[[corpus]]\npath = "a.jsonl"\nweight = "two"\n', "weight 'two', not a positive number"),
    ('[[corpus]]\npath = "a.jsonl"\nweight = -1.5\n', "not a positive number"),
    ('[[corpus]]\npath = "missing.jsonl"\n', "does not exist"),
    ('[[corpus]]\npath = "a.jsonl"\nheldout = "some"\n', "heldout 'some'"),
    ('[[corpus]]\npath = "a.jsonl"\nvalidation = "sha256-mod5"\n', "validation 'sha256-mod5'"),
    ('[[corpus]]\npath = "a.jsonl"\nwieght = 2\n', "unknown keys wieght"),
    ('[[corpus]]\npath = "a.jsonl"\n[[corpus]]\npath = "a.jsonl"\n', "named twice"),
    ('title = "x"\n', r"no \[\[corpus\]\] tables"),
    ('[[corpus]\n', "not valid TOML"),
    ('[[corpus]]\npath = "a.jsonl"\nuntaught_scope = "words"\n', "untaught_scope 'words'"),
    ('[[corpus]]\npath = "a.jsonl"\njoin_split_names = "yes"\n', "join_split_names must be true or false"),
    ('[[corpus]]\npath = "a.jsonl"\nuntaught_compounds = 1\n', "untaught_compounds must be true or false"),
    ('[[corpus]]\npath = "a.jsonl"\ntypes = { geo = "B-geo" }\n', "maps type 'geo' to 'B-geo', which is a tag"),
    ('[[corpus]]\npath = "a.jsonl"\n[[corpus]]\nname = "b"\npath = "a.jsonl"\n', "is the same file as corpus 'a'"),
    ('[[corpus]]\npath = "a.jsonl"\n[[corpus]]\npath = "copy.jsonl"\n', "is the same file as corpus 'a'"),
    ('[[corpus]]\npath = "."\n', "is a directory"),
])
def test_bad_specs_are_refused_in_one_line(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_spec(_spec(tmp_path, body))


def test_the_shipped_spec_reads(tmp_path):
    if not (SHARED / "geoparsing" / "GeoVirus.jsonl").exists():
        pytest.skip("../shared/data is absent: the recommended model's spec names its corpora")
    spec = load_spec(ROOT / "training" / "geoparse.toml", SHARED)
    names = [c.name for c in spec.corpora]
    assert names[0] == "gmb" and "tud-loc-validation" in names
    assert {c.heldout for c in spec.corpora if c.name in ("geovirus", "geowebnews")} == {"sha256-mod5"}
    assert next(c for c in spec.corpora if c.name == "tud-loc-validation").heldout == "all"


def test_corpus_weight_overrides_one_corpus_for_one_run(tmp_path):
    spec = _spec(tmp_path, '[[corpus]]\npath = "a.jsonl"\nweight = 3\n[[corpus]]\nname = "b"\npath = "b.jsonl"\n')
    (tmp_path / "b.jsonl").write_text('{"id": "2", "text": "Lyon", "spans": [{"start": 0, "end": 4, "label": "geo"}]}\n')
    got = override_weights(load_spec(spec), ["a=0.35"])
    assert [(c.name, c.weight) for c in got.corpora] == [("a", 0.35), ("b", 1.0)]
    assert got.corpora[0].to_dict()["weight"] == 0.35  # the card's spec record says what was trained
    for bad, message in (("c=1", "names c, which"), ("a=0", "not NAME=W"), ("a=x", "not NAME=W"), ("a", "not NAME=W"),
                         ("=2", "not NAME=W"), ("a=nan", "not NAME=W")):
        with pytest.raises(InputError, match=message):
            override_weights(load_spec(spec), [bad])


def test_train_cli_refuses_a_bad_spec_in_one_line(tmp_path, capsys):
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from geobatch.cli import main
    from tests.run_helpers import one_error_line

    spec = _spec(tmp_path, '[[corpus]]\npath = "a.jsonl"\nweight = 0\n')
    assert main(["train", "--spec", str(spec), "--output", str(tmp_path / "ck")]) == 2
    assert "weight 0, not a positive number" in one_error_line(capsys)
    assert main(["train", "--output", str(tmp_path / "ck")]) == 2
    assert "--train FILE" in one_error_line(capsys)
    assert main(["train", "--train", str(tmp_path / "a.jsonl"), "--with-heldout", "--output", str(tmp_path / "ck")]) == 2
    assert "go with --spec" in one_error_line(capsys)
    good = _spec(tmp_path, '[[corpus]]\npath = "a.jsonl"\n')
    assert main(["train", "--spec", str(good), "--corpus-weight", "gmb=0.35", "--output", str(tmp_path / "ck")]) == 2
    assert "--corpus-weight names gmb" in one_error_line(capsys)


def test_any_place_loss_sums_the_place_types():
    tf = pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from training.model import masked_token_loss

    labels_order = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
    sets = np.eye(5).tolist() + [[0, 1, 0, 1, 0], [0, 0, 1, 0, 1]]  # codes 5: B-any place, 6: I-any place
    logits = tf.constant([[[0.0, 2.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.5, 0.0, 0.3], [0.0, 0.0, 0.0, 0.0, 0.0]]])
    p = tf.nn.softmax(logits).numpy()[0]
    got = float(masked_token_loss(tf.constant([[5, 6, -100]]), logits, None, sets))
    want = -(np.log(p[0, 1] + p[0, 3]) + np.log(p[1, 2] + p[1, 4])) / 2
    assert got == pytest.approx(want, rel=1e-5)
    # a plain label is plain cross-entropy, as without target sets
    plain = float(masked_token_loss(tf.constant([[1, 0, -100]]), logits))
    assert float(masked_token_loss(tf.constant([[1, 0, -100]]), logits, None, sets)) == pytest.approx(plain, rel=1e-5)
    assert labels_order[1] == "B-geo"


def test_demonyms_get_their_own_type_where_they_stand_alone():
    from geobatch.io.documents import Sentence
    from geobatch.resolve.sources import demonym_lexicon
    from geobatch.text.demonyms import demonym_matcher
    from training.data import tag_demonyms

    lexicon = demonym_lexicon()
    assert {"French", "Iraqi", "South Korean", "European"} <= lexicon and "South Georgia" not in lexicon
    m = demonym_matcher(lexicon)
    s = Sentence("x", ["The", "Iraqi", "army", "and", "South", "Korean", "troops", "near", "the", "Korean", "Peninsula", "."],
                 ["O", "B-gpe", "O", "O", "B-gpe", "I-gpe", "O", "O", "O", "B-geo", "I-geo", "O"])
    assert tag_demonyms(s, m, "dem").tags == ["O", "B-dem", "O", "O", "B-dem", "I-dem", "O", "O", "O", "B-geo", "I-geo", "O"]
    # untagged (TUD, GeoVirus) and any-place (GeoWebNews modifiers) demonyms alike; France stays a place
    s = Sentence("y", ["French", "envoys", "met", "Russian", "officials", "in", "France"], ["O", "O", "O", "B-*", "O", "O", "B-*"])
    assert tag_demonyms(s, m, "dem").tags == ["B-dem", "O", "O", "B-dem", "O", "O", "B-*"]


@pytest.mark.parametrize("value", ['"*"', '"?"', '"O"', '""', "3", '"B-dem"'])
def test_a_bad_demonym_type_is_refused(tmp_path, value):
    with pytest.raises(InputError, match="demonym_type"):
        load_spec(_spec(tmp_path, f'demonym_type = {value}\n[[corpus]]\npath = "a.jsonl"\n'))
