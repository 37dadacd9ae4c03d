"""The casing channel (geobatch/text/case_types.py): an uncased encoder told which words start with a
capital through token_type_ids. Training and `geobatch run` must give the same types to the same words,
and only a model whose card says `case_types` gets any."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from run_helpers import BatchRecorder, run
from tiny_onnx import LABELS, build_tiny_model_dir, tokenizer_json
from tokenizers import Tokenizer

from geobatch.errors import InputError
from geobatch.io.documents import Sentence
from geobatch.pipeline import Pipeline, PipelineOptions
from geobatch.text.batching import make_batches
from geobatch.text.case_types import piece_case_types, word_case_types
from geobatch.text.words import split_words
from training.batching import pad_batch
from training.data import encode_sentences
from training.spec import load_spec

TEXT = "Rain fell on the turkey farms of Turkey, said Mr. Bush in Reading on Monday."


def _tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(tokenizer_json()))


def test_words_that_start_with_a_capital_are_type_1_where_capitals_mark_names():
    words, _ = split_words(TEXT)
    types = dict(zip(words, word_case_types(words).tolist()))
    assert types["turkey"] == 0 and types["Turkey"] == 1 and types["Bush"] == 1 and types["Reading"] == 1
    assert types["fell"] == 0 and types[","] == 0  # punctuation has no case
    # text whose capitals say nothing gets no types at all: lowercased, all caps, a title-case headline
    for text in (TEXT.lower(), TEXT.upper(), "Floods Hit Villages Near Turkey's Border With Syria"):
        assert not word_case_types(split_words(text)[0]).any(), text
    assert word_case_types([]).size == 0 and not word_case_types(["3", "%"]).any()


def test_a_words_type_is_on_each_of_its_wordpieces():
    assert piece_case_types(np.array([1, 0, 1]), np.array([2, 1, 0])).tolist() == [1, 1, 0]


def _rows(tagger: BatchRecorder) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(b.input_ids[i][b.attention_mask[i] == 1], b.token_type_ids[i][b.attention_mask[i] == 1])
            for b in tagger.batches for i in range(len(b.input_ids))]


@pytest.fixture(scope="module")
def case_model(tmp_path_factory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("case"), card_extra={"case_types": True})


def test_the_run_feeds_the_types_training_fed(case_model):
    """The same text, as training encodes it (a long one cut into inputs) and as `geobatch run` windows it."""
    words, _ = split_words(TEXT)
    trained, _ = encode_sentences([Sentence("s", words, ["O"] * len(words))], _tokenizer(), {"O": 0}, 16, case_types=True)
    batch = pad_batch(trained)
    tagger = BatchRecorder(len(LABELS))
    Pipeline(case_model, PipelineOptions(stride=0), tagger=tagger).process([{"id": "s", "text": TEXT}])
    rows = sorted(_rows(tagger), key=lambda r: r[0].tolist())  # the run batches windows by length
    assert len(rows) == len(trained) > 1
    fed = sorted(((e.input_ids, padded[:len(e.input_ids)]) for e, padded in zip(trained, batch["token_type_ids"])),
                 key=lambda r: r[0].tolist())  # the types the training batch hands the model
    for (t_ids, t_types), (ids, types) in zip(fed, rows):
        assert np.array_equal(t_ids, ids) and np.array_equal(t_types, types)
    assert any(types.any() for _, types in rows) and all(types[0] == 0 and types[-1] == 0 for _, types in rows)


def test_a_model_without_case_types_gets_zeros(tmp_path):
    plain = build_tiny_model_dir(tmp_path / "plain")
    tagger = BatchRecorder(len(LABELS))
    Pipeline(plain, PipelineOptions(), tagger=tagger).process([{"id": "s", "text": TEXT}])
    assert tagger.batches and not any(b.token_type_ids.any() for b in tagger.batches)
    # and training without the channel hands the model zeros too
    words, _ = split_words(TEXT)
    trained, _ = encode_sentences([Sentence("s", words, ["O"] * len(words))], _tokenizer(), {"O": 0}, 64)
    assert trained[0].token_types is None and not pad_batch(trained)["token_type_ids"].any()


def test_a_share_of_training_inputs_goes_without_case():
    words, _ = split_words(TEXT)
    sents = [Sentence(f"s{i}", words, ["O"] * len(words)) for i in range(200)]
    enc, _ = encode_sentences(sents, _tokenizer(), {"O": 0}, 64, case_types=True, case_zero_share=0.1, seed=3)
    zeroed = sum(not e.token_types.any() for e in enc)
    assert 5 <= zeroed <= 40  # about a tenth, drawn by the seed
    again, _ = encode_sentences(sents, _tokenizer(), {"O": 0}, 64, case_types=True, case_zero_share=0.1, seed=3)
    assert [e.token_types.tolist() for e in again] == [e.token_types.tolist() for e in enc]


def test_batches_put_types_under_the_content_only():
    b = make_batches([np.array([5, 6, 7])], 1, 101, 102, 0, markers=[1], window_types=[np.array([1, 0, 1])])[0]
    assert b.input_ids[0].tolist() == [101, 1, 5, 6, 7, 102] and b.token_type_ids[0].tolist() == [0, 0, 1, 0, 1, 0]


def _spec(tmp_path: Path, body: str) -> Path:
    (tmp_path / "a.jsonl").write_text('{"id": "d1", "text": "Rain in Paris.", "spans": [{"start": 8, "end": 13, "label": "*"}]}\n')
    p = tmp_path / "spec.toml"
    p.write_text(body + '[[corpus]]\npath = "a.jsonl"\n')
    return p


def test_the_spec_turns_the_channel_on(tmp_path):
    assert load_spec(_spec(tmp_path, "case_types = true\n")).case_types
    assert not load_spec(_spec(tmp_path, "")).case_types
    with pytest.raises(InputError, match="case_types must be true or false"):
        load_spec(_spec(tmp_path, 'case_types = "yes"\n'))


def test_a_teacher_must_read_the_same_types(tmp_path):
    from training.distill import load_teacher

    teacher = tmp_path / "teacher"
    teacher.mkdir()
    (teacher / "labels.json").write_text(json.dumps(LABELS))
    (teacher / "training.json").write_text(json.dumps({"case_types": True}))
    (teacher / "tokenizer.json").write_bytes(tokenizer_json().read_bytes())
    assert load_teacher(str(teacher), LABELS, _tokenizer(), None, case_types=True).path == teacher
    with pytest.raises(InputError, match="was trained with case_types"):  # it would read capitals where the student has none
        load_teacher(str(teacher), LABELS, _tokenizer(), None)


@pytest.mark.train
@pytest.mark.slow
def test_a_model_trained_with_case_types_carries_them_to_the_run(tmp_path):
    """Train (tiny base) with the channel and export: the card says so, the export's parity batch holds the
    types, `geobatch run` runs it, and a continuation without the channel is refused."""
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from conftest import SAMPLE_LABELLED, build_tiny_base

    from geobatch.cli import main

    (tmp_path / "gmb.csv").write_bytes(SAMPLE_LABELLED.read_bytes())
    spec = tmp_path / "case.toml"
    spec.write_text('case_types = true\n[[corpus]]\nname = "gmb"\npath = "gmb.csv"\nformat = "gmb"\nmax_sentences = 64\n')
    base = build_tiny_base(tmp_path / "base")
    args = ["--data-dir", str(tmp_path), "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--learning-rate", "1e-3",
            "--log-every", "100"]
    assert main(["train", "--spec", str(spec), *args, "--base-model", str(base), "--output", str(tmp_path / "ck"),
                 "--export", str(tmp_path / "m")]) == 0
    assert json.loads((tmp_path / "m" / "model_card.json").read_text())["case_types"] is True
    assert np.load(tmp_path / "ck" / "parity_inputs.npz")["token_type_ids"].any()  # ONNX was checked with types, not zeros
    (tmp_path / "in.jsonl").write_text('{"id": "a", "text": "Rain fell in Paris."}\n')
    assert run("--model", tmp_path / "m", "--input", tmp_path / "in.jsonl", "--output", tmp_path / "o") == 0
    plain = tmp_path / "plain.toml"
    plain.write_text(spec.read_text().replace("case_types = true\n", ""))
    assert main(["train", "--spec", str(plain), *args, "--base-model", str(tmp_path / "ck"), "--output", str(tmp_path / "ck2")]) == 2
