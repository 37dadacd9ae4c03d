"""Annotation conventions: corpora that disagree on what a place is (GeoWebNews counts "Russian" and the
"Dubai" of "Dubai World Trade Centre", GMB does not) each mark their inputs with a token of their own
after [CLS], and `geobatch run --convention` says which one to follow (training/spec.py,
docs/TRAINING.md). Training and the runtime must lay the marker out the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from run_helpers import BatchRecorder, manifest, one_error_line, read, run
from tiny_onnx import LABELS, build_tiny_model_dir, tokenizer_json
from tokenizers import Tokenizer

from geobatch.errors import InputError
from geobatch.io.documents import Sentence
from geobatch.pipeline import Pipeline, PipelineOptions
from geobatch.text.words import split_words
from training.data import IGNORE, encode_sentences
from training.spec import convention_markers, load_spec

GMB, NEWS = 1, 2  # [unused0], [unused1]: the ids training gives "gmb" and "news" (sorted names)
CONVENTIONS = {"tokens": {"gmb": "[unused0]", "news": "[unused1]"}, "ids": {"gmb": GMB, "news": NEWS}, "default": "news"}
# under "gmb" the tiny model finds no place at all: only the marker can tell it so
SILENCE = [0.0, -10.0, -10.0, -10.0, -10.0]


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("conv"), card_extra={"conventions": CONVENTIONS},
                                marker_bias={GMB: SILENCE})


def _spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a.jsonl").write_text('{"id": "d1", "text": "Rain in Paris.", "spans": [{"start": 8, "end": 13, "label": "*"}]}\n')
    (tmp_path / "b.jsonl").write_text('{"id": "d2", "text": "Snow in Lima.", "spans": [{"start": 8, "end": 12, "label": "*"}]}\n')
    p = tmp_path / "spec.toml"
    p.write_text(body)
    return p


def test_a_spec_names_a_convention_per_corpus_and_a_default(tmp_path):
    spec = load_spec(_spec(tmp_path, 'default_convention = "news"\n[[corpus]]\npath = "a.jsonl"\nconvention = "news"\n'
                                     '[[corpus]]\npath = "b.jsonl"\nconvention = "gmb"\nretype_demonyms = false\n'))
    assert spec.conventions == {"gmb": "[unused0]", "news": "[unused1]"}  # sorted names, whatever the file's order
    assert [c.retype_demonyms for c in spec.corpora] == [True, False]
    assert load_spec(_spec(tmp_path, '[[corpus]]\npath = "a.jsonl"\n')).conventions is None


@pytest.mark.parametrize("body, message", [
    ('default_convention = "news"\n[[corpus]]\npath = "a.jsonl"\nconvention = "news"\n[[corpus]]\npath = "b.jsonl"\n',
     "corpus 'b' names no convention, while others do"),
    ('[[corpus]]\npath = "a.jsonl"\nconvention = "news"\n', "default_convention None, not one of its conventions"),
    ('default_convention = "web"\n[[corpus]]\npath = "a.jsonl"\nconvention = "news"\n', "default_convention 'web', not one"),
    ('default_convention = "news"\n[[corpus]]\npath = "a.jsonl"\n', "but no corpus names a convention"),
    ('default_convention = "News"\n[[corpus]]\npath = "a.jsonl"\nconvention = "News"\n', "convention 'News', not a name"),
    ('[[corpus]]\npath = "a.jsonl"\nretype_demonyms = "no"\n', "retype_demonyms must be true or false"),
])
def test_bad_conventions_are_refused_in_one_line(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        load_spec(_spec(tmp_path, body))


def _tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(tokenizer_json()))


def test_training_puts_the_marker_after_cls_and_counts_it_in_max_length():
    label_to_id = {"O": 0, "B-geo": 1, "I-geo": 2}
    short = Sentence("s", ["Rain", "in", "Paris"], ["O", "O", "B-geo"])
    long = Sentence("l", ["rain"] * 30, ["O"] * 30)
    enc, stats = encode_sentences([short, long], _tokenizer(), label_to_id, 16, markers=[GMB, NEWS])
    first = enc[0]
    assert first.input_ids[:2].tolist() == [101, GMB] and first.labels[1] == IGNORE
    assert first.labels[first.first_piece].tolist() == [0, 0, 1]  # each word's label at its own first piece
    assert [int(e.input_ids[1]) for e in enc[1:]] == [NEWS] * (len(enc) - 1)
    assert stats.split_sentences == 1 and all(len(e.input_ids) <= 16 for e in enc)
    # the same sentence without a marker: the same pieces, one place earlier
    plain, _ = encode_sentences([short], _tokenizer(), label_to_id, 16)
    assert np.array_equal(np.delete(first.input_ids, 1), plain[0].input_ids)


def test_the_run_feeds_the_model_what_training_fed_it(conv_model):
    """One sentence, as training encodes it with the gmb marker and as `geobatch run --convention gmb` batches it."""
    text = "Rain fell in Paris and New York on Monday."
    words, _ = split_words(text)
    trained, _ = encode_sentences([Sentence("s", words, ["O"] * len(words))], _tokenizer(), {"O": 0}, 16, markers=[GMB])
    tagger = BatchRecorder(len(LABELS))
    Pipeline(conv_model, PipelineOptions(convention="gmb"), tagger=tagger).process([{"id": "s", "text": text}])
    rows = [b.input_ids[i][b.attention_mask[i] == 1] for b in tagger.batches for i in range(len(b.input_ids))]
    assert all(len(r) <= 16 and r[1] == GMB for r in rows)  # every window marked, within the card's max_length
    assert len(trained) == len(rows) and all(np.array_equal(t.input_ids, r) for t, r in zip(trained, rows))


def test_run_follows_the_default_convention_or_the_one_asked_for(tmp_path, conv_model):
    text = "Officials in Paris met envoys from London, Berlin and France. " * 3  # longer than a window
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": text}) + "\n")
    assert run("--model", conv_model, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "news") == 0
    found = [s["text"] for s in read(tmp_path / "news", "spans")]
    assert found == ["Paris", "London", "Berlin", "France"] * 3  # every word read at its own position
    assert manifest(tmp_path / "news")["job"]["settings"]["convention"] == "news"
    assert run("--model", conv_model, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "gmb", "--convention", "gmb") == 0
    assert read(tmp_path / "gmb", "spans") == []
    assert manifest(tmp_path / "gmb")["job"]["settings"]["convention"] == "gmb"


def test_a_convention_the_model_lacks_is_one_line_and_exit_2(tmp_path, conv_model, tiny_onnx_dir, capsys):
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "Rain in Paris."}\n')
    assert run("--model", conv_model, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "o", "--convention", "web") == 2
    assert "--convention web: model" in one_error_line(capsys) and not (tmp_path / "o" / "spans").exists()
    assert run("--model", tiny_onnx_dir, "--input", tmp_path / "in.jsonl", "--output", tmp_path / "p", "--convention", "news") == 2
    assert "was trained without conventions" in one_error_line(capsys)


@pytest.fixture(scope="module")
def tiny_onnx_dir(tmp_path_factory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("plain"))


def test_a_continuation_keeps_its_checkpoints_markers(tmp_path):
    spec = load_spec(_spec(tmp_path, 'default_convention = "news"\n[[corpus]]\npath = "a.jsonl"\nconvention = "news"\n'))
    tok = _tokenizer()
    got = convention_markers(spec, tok, None)
    assert got == {"tokens": {"news": "[unused0]"}, "ids": {"news": 1}, "default": "news"}
    assert convention_markers(spec, tok, {"conventions": got}) == got
    other = {"tokens": {"gmb": "[unused0]", "news": "[unused1]"}}
    with pytest.raises(InputError, match="was trained with conventions"):  # [unused0] meant gmb there
        convention_markers(spec, tok, {"conventions": other})
    with pytest.raises(InputError, match="was trained with conventions"):
        convention_markers(load_spec(_spec(tmp_path, '[[corpus]]\npath = "a.jsonl"\n')), tok, {"conventions": got})
    vocab_without = json.loads(tok.to_str())
    vocab_without["model"]["vocab"] = {k: v for k, v in vocab_without["model"]["vocab"].items() if not k.startswith("[unused")}
    with pytest.raises(InputError, match=r"has no \[unused0\] token"):
        convention_markers(spec, Tokenizer.from_str(json.dumps(vocab_without)), None)


def test_a_teacher_must_read_the_same_markers(tmp_path):
    from training.distill import load_teacher

    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "labels.json").write_text(json.dumps(LABELS))
    (teacher / "training.json").write_text(json.dumps({"conventions": CONVENTIONS}))
    (teacher / "tokenizer.json").write_bytes(tokenizer_json().read_bytes())
    assert load_teacher(str(teacher), LABELS, _tokenizer(), CONVENTIONS).path == teacher
    with pytest.raises(InputError, match="was trained with conventions"):  # its logits would follow a marker the student never sees
        load_teacher(str(teacher), LABELS, _tokenizer(), None)


@pytest.mark.train
@pytest.mark.slow
def test_a_model_trained_with_conventions_carries_them_to_the_run(tmp_path):
    """Train (tiny base) with two conventions, export, and run: the card names the markers training used
    and `geobatch run` follows the default or the one asked for; a continuation with other markers is refused."""
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from conftest import SAMPLE_LABELLED, build_tiny_base

    from geobatch.cli import main

    (tmp_path / "gmb.csv").write_bytes(SAMPLE_LABELLED.read_bytes())
    _spec(tmp_path, "")
    spec = tmp_path / "conv.toml"
    spec.write_text('default_convention = "news"\n[[corpus]]\nname = "gmb"\npath = "gmb.csv"\nformat = "gmb"\nconvention = "gmb"\n'
                    'max_sentences = 64\n[[corpus]]\npath = "a.jsonl"\nconvention = "news"\nweight = 8\n')
    base = build_tiny_base(tmp_path / "base")
    args = ["train", "--spec", str(spec), "--data-dir", str(tmp_path), "--epochs", "1", "--batch-size", "16",
            "--max-length", "32", "--learning-rate", "1e-3", "--log-every", "100"]
    assert main([*args, "--base-model", str(base), "--output", str(tmp_path / "ck"), "--export", str(tmp_path / "m")]) == 0
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["conventions"] == CONVENTIONS
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "Rain fell in Paris."}\n')
    for conv, out in ((None, "o1"), ("gmb", "o2")):
        extra = ["--convention", conv] if conv else []
        assert run("--model", tmp_path / "m", "--input", tmp_path / "in.jsonl", "--output", tmp_path / out, *extra) == 0
        assert manifest(tmp_path / out)["job"]["settings"]["convention"] == (conv or "news")
    # the checkpoint read [unused0] as gmb: a spec that gives it to another convention is refused
    other = tmp_path / "other.toml"
    other.write_text(spec.read_text().replace('"gmb"\nmax', '"zz"\nmax'))
    assert main([*args, "--base-model", str(tmp_path / "ck"), "--output", str(tmp_path / "ck2")]) == 0
    assert main(["train", "--spec", str(other), *args[3:], "--base-model", str(tmp_path / "ck"), "--output", str(tmp_path / "ck3")]) == 2
