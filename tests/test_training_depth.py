"""A shallower student (`--layers K`) and knowledge distillation (`--teacher`), issue 15.

The end-to-end tests train on the suite's tiny random BERT (hidden 32), built here with 4 layers so
that picking 2 of them is a real choice: seconds each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from geobatch.errors import InputError
from training.depth import parse_layers, pick_layers

from conftest import SAMPLE_LABELLED, build_tiny_base

pytestmark = pytest.mark.train


def test_pick_layers_spreads_them_and_keeps_first_and_last():
    assert pick_layers(6, 6) == [0, 1, 2, 3, 4, 5]
    assert pick_layers(6, 4) == [0, 2, 3, 5]
    assert pick_layers(6, 3) == [0, 2, 5]
    assert pick_layers(6, 2) == [0, 5]
    assert pick_layers(6, 1) == [5]
    assert pick_layers(12, 4) == [0, 4, 7, 11]
    for n in range(1, 13):
        for k in range(1, n + 1):
            picks = pick_layers(n, k)
            assert len(picks) == k and picks == sorted(set(picks)) and picks[-1] == n - 1


def test_pick_layers_refuses_more_layers_than_the_base_has():
    with pytest.raises(InputError, match="exceeds the base model's 6 layers"):
        pick_layers(6, 7)
    with pytest.raises(InputError, match="not a positive number"):
        pick_layers(6, 0)


def test_layers_given_by_index():
    """--layers 0,1,2,3 keeps exactly those layers; a count still spreads them."""
    assert parse_layers("4") == 4 and parse_layers("0,1,2,3") == (0, 1, 2, 3) and parse_layers(" 1, 4 ") == (1, 4)
    assert pick_layers(6, (0, 1, 2, 3)) == [0, 1, 2, 3]
    assert pick_layers(6, (2, 5)) == [2, 5]
    with pytest.raises(InputError, match="names layer 6, but the base model has layers 0-5"):
        pick_layers(6, (0, 6))
    with pytest.raises(InputError, match="repeats a layer or is out of order"):
        parse_layers("0,2,1")
    with pytest.raises(InputError, match="repeats a layer or is out of order"):
        parse_layers("1,1")
    for bad in ("four", "0,,2", "-1", "1.5", ""):
        with pytest.raises(InputError, match="neither a number of layers nor a list of layer indices"):
            parse_layers(bad)


def _onnx_layers(model_dir: Path) -> list[int]:
    """Encoder layer indices named in the exported graph (tf2onnx keeps the Keras scopes in node names)."""
    import onnx

    graph = onnx.load(str(model_dir / "model.onnx")).graph
    return sorted({int(i) for node in graph.node for i in re.findall(r"layer_\._(\d+)/", node.name)})


@pytest.mark.parametrize("layers, picked", [(3, [0, 2, 5]), ((0, 1, 2), [0, 1, 2])])
def test_shallow_copy_takes_the_picked_layers_weights(layers, picked):
    tf = pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from transformers import BertConfig

    from training.depth import shallow_copy
    from training.model import dummy_inputs, model_class

    tf.random.set_seed(3)
    config = BertConfig(vocab_size=120, hidden_size=16, num_hidden_layers=6, num_attention_heads=2, intermediate_size=32, num_labels=3)
    full = model_class("linear")(config)
    full(**dummy_inputs())
    expected = {
        "emb": full.bert.embeddings.get_weights(),
        "layers": [full.bert.encoder.layer[j].get_weights() for j in picked],
        "head": full.classifier.get_weights(),
    }
    student, picks = shallow_copy(full, layers)
    assert picks == picked
    assert student.config.num_hidden_layers == 3 and student.config.geobatch_base_layers == 6
    assert len(student.bert.encoder.layer) == 3
    for got, want in zip(student.bert.embeddings.get_weights(), expected["emb"]):
        np.testing.assert_array_equal(got, want)
    for i, layer in enumerate(student.bert.encoder.layer):
        for got, want in zip(layer.get_weights(), expected["layers"][i]):
            np.testing.assert_array_equal(got, want)
    for got, want in zip(student.classifier.get_weights(), expected["head"]):
        np.testing.assert_array_equal(got, want)


def test_distillation_loss_mixes_gold_and_teacher():
    tf = pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from training.data import IGNORE, UNTAUGHT_LABEL
    from training.distill import distillation_loss
    from training.model import masked_token_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 3)).astype(np.float32)
    labels = np.array([[IGNORE, 1, 2, IGNORE], [IGNORE, 0, IGNORE, IGNORE]], np.int32)
    hard = masked_token_loss(tf.constant(labels), tf.constant(logits))
    # a teacher that says what the student says adds nothing: only the gold share is left
    same = distillation_loss(tf.constant(labels), tf.constant(logits), tf.constant(logits), hard, 2.0, 0.5)
    assert float(same) == pytest.approx(0.5 * float(hard), rel=1e-5)
    teacher = rng.normal(scale=3, size=logits.shape).astype(np.float32)
    # by hand: T^2 * mean over labelled positions of KL(teacher_T || student_T)
    def log_softmax(z):
        z = z - z.max(-1, keepdims=True)
        return z - np.log(np.exp(z).sum(-1, keepdims=True))
    t, s = log_softmax(teacher / 2.0), log_softmax(logits / 2.0)
    kl = (np.exp(t) * (t - s)).sum(-1)[labels != IGNORE].mean()
    got = distillation_loss(tf.constant(labels), tf.constant(logits), tf.constant(teacher), hard, 2.0, 0.25)
    assert float(got) == pytest.approx(0.75 * float(hard) + 0.25 * 4.0 * kl, rel=1e-4)
    # the teacher's values where the loss does not read (padding, continuation pieces) change nothing
    noisy = teacher.copy()
    noisy[labels == IGNORE] = 99.0
    assert float(distillation_loss(tf.constant(labels), tf.constant(logits), tf.constant(noisy), hard, 2.0, 0.25)) == pytest.approx(float(got), rel=1e-5)
    # an untaught word (no gold tag, UNTAUGHT_LABEL) still learns the teacher's distribution: its KL
    # counts in the soft mean, and nothing in the hard loss
    untaught = labels.copy()
    untaught[1, 2] = UNTAUGHT_LABEL
    hard_u = masked_token_loss(tf.constant(untaught), tf.constant(logits))
    assert float(hard_u) == pytest.approx(float(hard), rel=1e-6)
    kl_u = (np.exp(t) * (t - s)).sum(-1)[untaught != IGNORE].mean()
    got_u = distillation_loss(tf.constant(untaught), tf.constant(logits), tf.constant(teacher), hard_u, 2.0, 0.25)
    assert kl_u != pytest.approx(kl) and float(got_u) == pytest.approx(0.75 * float(hard) + 0.25 * 4.0 * kl_u, rel=1e-4)


def _train(tmp: Path, base: Path, out: str, *extra: str) -> tuple[int, Path, Path]:
    from geobatch.cli import main

    ckpt, model_dir = tmp / f"{out}-ckpt", tmp / out
    rc = main([
        "train", "--train", str(SAMPLE_LABELLED), "--label-scheme", "locations", "--base-model", str(base),
        "--epochs", "1", "--batch-size", "16", "--max-length", "64", "--learning-rate", "1e-3",
        "--max-sentences", "64", "--validation-fraction", "0.25", "--log-every", "100",
        "--output", str(ckpt), "--export", str(model_dir), *extra,
    ])
    return rc, ckpt, model_dir


@pytest.fixture(scope="module")
def four_layer_base(tmp_path_factory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny4") / "base", layers=4)


def test_layers_and_teacher_train_export_and_run(four_layer_base, tiny_model_dir, tmp_path, capsys):
    """--layers 2 of a 4-layer base, distilled from the suite's exported tiny model through ONNX
    Runtime: the export's parity check passes, the graph has 2 layers, the card says so, and
    geobatch run uses the student like any model."""
    rc, ckpt, student = _train(tmp_path, four_layer_base, "student", "--layers", "2", "--teacher", str(tiny_model_dir),
                               "--distill-temperature", "3", "--distill-weight", "0.7")
    out = capsys.readouterr().out
    assert rc == 0
    assert "encoder: 2 of the base's 4 layers, [0, 3]" in out
    assert re.search(r"teacher .* \(onnx\): logits for \d+ inputs", out)
    card = json.loads((student / "model_card.json").read_text())
    assert card["parity_max_abs_diff"] <= 1e-4
    assert card["training"]["layers"] == 2 and card["training"]["base_layers"] == 4
    assert card["training"]["layers_kept"] == [0, 3]
    assert card["training"]["distillation"] == {"path": str(tiny_model_dir), "kind": "onnx", "temperature": 3.0, "weight": 0.7,
                                                "hidden_weight": 0.0, "augment_copies": 0}
    assert _onnx_layers(student) == [0, 1]

    from geobatch.cli import main

    text = tmp_path / "docs.jsonl"
    text.write_text(json.dumps({"id": "a", "text": "Officials in Paris met envoys from Kenya."}) + "\n")
    assert main(["run", "--model", str(student), "--input", str(text), "--output", str(tmp_path / "out"), "--no-resolve"]) == 0
    import pyarrow.parquet as pq

    tokens = pq.read_table(tmp_path / "out" / "tokens").to_pylist()
    assert [t["word"] for t in tokens] == ["Officials", "in", "Paris", "met", "envoys", "from", "Kenya", "."]


def test_teacher_checkpoint_and_a_full_depth_student(four_layer_base, tiny_training, tmp_path, capsys):
    """A checkpoint teacher runs through TensorFlow; without --layers the student keeps every layer."""
    rc, _, student = _train(tmp_path, four_layer_base, "student", "--teacher", str(tiny_training[0]))
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"\(checkpoint\): logits for \d+ inputs", out)
    card = json.loads((student / "model_card.json").read_text())
    assert card["training"]["layers"] == 4 and card["training"]["base_layers"] == 4 and card["training"]["layers_kept"] is None
    assert card["training"]["distillation"]["kind"] == "checkpoint"
    assert _onnx_layers(student) == [0, 1, 2, 3]


def test_hidden_state_loss_is_the_relative_error_at_first_pieces():
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    from training.data import IGNORE
    from training.distill import hidden_state_loss
    from training.tf_env import tf

    rng = np.random.default_rng(1)
    labels = np.array([[0, IGNORE, 2, IGNORE], [1, 3, IGNORE, IGNORE]], np.int32)
    teacher = rng.normal(size=(2, 4, 2, 5)).astype(np.float32)
    student = [rng.normal(size=(2, 4, 5)).astype(np.float32) for _ in range(2)]
    at = labels != IGNORE
    want = np.mean([np.sum((student[j][at] - teacher[:, :, j][at]) ** 2) / np.sum(teacher[:, :, j][at] ** 2) for j in range(2)])
    got = float(hidden_state_loss(tf.constant(labels), [tf.constant(x) for x in student], tf.constant(teacher)))
    assert got == pytest.approx(want, rel=1e-5)
    # a student that already says what its teacher says: nothing to learn, whatever lies off the first pieces
    same = [np.where(at[..., None], teacher[:, :, j], 9.0).astype(np.float32) for j in range(2)]
    assert float(hidden_state_loss(tf.constant(labels), [tf.constant(x) for x in same], tf.constant(teacher))) == pytest.approx(0.0, abs=1e-7)


def test_layer_outputs_distilled_from_a_checkpoint_teacher(four_layer_base, tmp_path, capsys):
    """--distill-hidden: a 2-layer student of a 4-layer teacher reads the teacher's layers 0 and 3
    (those it was copied from), trains, exports with parity, and the card records the weight."""
    rc, teacher, _ = _train(tmp_path, four_layer_base, "teacher")
    assert rc == 0
    capsys.readouterr()
    rc, _, student = _train(tmp_path, teacher, "student", "--layers", "2", "--teacher", str(teacher), "--distill-hidden", "1")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"\(checkpoint\): logits and layers \[0, 3\]' outputs for \d+ inputs", out)
    card = json.loads((student / "model_card.json").read_text())
    assert card["training"]["distillation"]["hidden_weight"] == 1.0
    assert card["parity_max_abs_diff"] <= 1e-4
    assert _onnx_layers(student) == [0, 1]
    # continuing the student: its layers are still the teacher's 0 and 3 (it paired them with 0 and 1)
    rc, _, again = _train(tmp_path, tmp_path / "student-ckpt", "again", "--teacher", str(teacher), "--distill-hidden", "1")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "logits and layers [0, 3]' outputs" in out
    assert json.loads((again / "model_card.json").read_text())["training"]["layers_kept"] == [0, 3]


def test_layer_outputs_need_a_checkpoint_teacher_of_the_base_s_depth(four_layer_base, tiny_training, tiny_model_dir, tmp_path, capsys):
    for teacher, message in ((tiny_model_dir, "is an exported model (logits only)"), (tiny_training[0], "the teacher has 2 layers")):
        rc, ckpt, _ = _train(tmp_path, four_layer_base, f"student-{teacher.name}", "--layers", "2", "--teacher", str(teacher),
                             "--distill-hidden", "1")
        err = capsys.readouterr().err
        lines = [l for l in err.splitlines() if l.strip()]
        assert rc == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
        assert not (ckpt / "tf_model.h5").exists()


def _copy_teacher(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("model.onnx", "model_card.json", "tokenizer.json"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_teacher_with_other_labels_is_refused(four_layer_base, tiny_model_dir, tmp_path, capsys):
    """A teacher whose label rows are in another order would teach B-geo as B-gpe: one line, exit 2,
    before any training."""
    teacher = _copy_teacher(tiny_model_dir, tmp_path / "teacher")
    card = json.loads((teacher / "model_card.json").read_text())
    card["labels"] = [card["labels"][0]] + card["labels"][1:][::-1]
    (teacher / "model_card.json").write_text(json.dumps(card))
    rc, ckpt, _ = _train(tmp_path, four_layer_base, "student", "--teacher", str(teacher))
    err = capsys.readouterr().err
    assert rc == 2
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "predicts labels" in lines[0] and "same data and label scheme" in lines[0]
    assert "Traceback" not in err
    assert not (ckpt / "tf_model.h5").exists()


def test_teacher_with_another_tokenizer_is_refused(four_layer_base, tiny_model_dir, tmp_path, capsys):
    teacher = _copy_teacher(tiny_model_dir, tmp_path / "teacher")
    tok = json.loads((tiny_model_dir / "tokenizer.json").read_text())
    tok["model"]["vocab"]["geobatchxyz"] = len(tok["model"]["vocab"])
    (teacher / "tokenizer.json").write_text(json.dumps(tok))
    rc, _, _ = _train(tmp_path, four_layer_base, "student", "--teacher", str(teacher))
    err = capsys.readouterr().err
    assert rc == 2 and "uses another tokenizer" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--teacher", "/nonexistent/teacher"], "is not a directory"),
    (["--layers", "5"], "exceeds the base model's 4 layers"),
    (["--layers", "0,4"], "names layer 4, but the base model has layers 0-3"),
    (["--layers", "three"], "neither a number of layers nor a list of layer indices"),
    (["--layers", "0,\u00b2"], "neither a number of layers nor a list of layer indices"),
    (["--teacher", "{teacher}", "--distill-weight", "1.5"], "outside 0..1"),
    (["--teacher", "{teacher}", "--distill-temperature", "0"], "not a positive number"),
    (["--teacher", "{teacher}", "--distill-hidden", "-1"], "not a number >= 0"),
    (["--distill-hidden", "1"], "without --teacher"),
    (["--distill-augment", "1"], "without --teacher"),
    (["--teacher", "{teacher}", "--distill-augment", "1", "--augment", "1"], "--augment and --distill-augment both add copies"),
])
def test_bad_depth_and_distillation_options(four_layer_base, tiny_model_dir, tmp_path, capsys, args, message):
    args = [a.replace("{teacher}", str(tiny_model_dir)) for a in args]
    rc, _, _ = _train(tmp_path, four_layer_base, "student", *args)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_swapped_place_names_keep_the_rest_of_the_sentence_and_teach_nothing_of_their_own():
    """Each place span (typed or any-place) becomes a pool name's words, split as run splits text;
    other words, a demonym included, stay; every word of a copy is untaught; no place, no copy."""
    from geobatch.io.documents import Sentence
    from training.augment import swap_place_names

    s = Sentence("s1", ["French", "envoys", "in", "Paris", "and", "New", "York", "met", "."],
                 ["B-dem", "O", "O", "B-geo", "O", "B-*", "I-*", "O", "O"])
    none = Sentence("s2", ["Nothing", "here", "."], ["O", "O", "O"])
    pool = ["Port-au-Prince", "Kharkiv"]
    copies, source = swap_place_names([none, s], {"geo", "gpe", "*"}, pool, 3, seed=5)
    assert source == [1, 1, 1] and [c.id for c in copies] == ["s1#swap1", "s1#swap2", "s1#swap3"]
    names = {"Port-au-Prince": ["Port", "-", "au", "-", "Prince"], "Kharkiv": ["Kharkiv"]}
    seen = set()
    for c in copies:
        assert c.words[:3] == ["French", "envoys", "in"] and c.words[-2:] == ["met", "."]
        first = next(v for v in names.values() if c.words[3:3 + len(v)] == v)
        rest = c.words[3 + len(first):-2]
        assert rest[0] == "and" and rest[1:] in names.values()
        seen.add((tuple(first), tuple(rest[1:])))
        assert c.tags == ["B-?"] + ["I-?"] * (len(c.words) - 1)
    assert len(seen) > 1  # names are drawn, not fixed
    again, _ = swap_place_names([none, s], {"geo", "gpe", "*"}, pool, 3, seed=5)
    assert [c.words for c in again] == [c.words for c in copies]  # the seed fixes the draw


def test_taught_copies_tag_the_new_names_as_places_and_keep_every_other_tag():
    """--augment: the same draw as the teacher's copies, but taught: each new name is a place ("*", or the
    replaced span's type when the run has no untyped places), every other word keeps its gold tag."""
    from geobatch.io.documents import Sentence
    from training.augment import swap_place_names

    s = Sentence("s1", ["French", "envoys", "in", "Paris", "and", "New", "York", "met", "."],
                 ["B-dem", "O", "O", "B-geo", "O", "B-*", "I-*", "O", "O"])
    pool = ["Port-au-Prince", "Kharkiv", "Kanawha County"]
    untaught, _ = swap_place_names([s], {"geo", "gpe", "*"}, pool, 4, seed=7)
    for taught_as in ("*", None):
        copies, source = swap_place_names([s], {"geo", "gpe", "*"}, pool, 4, seed=7, taught_as=taught_as, taught=True)
        assert source == [0] * 4 and [c.words for c in copies] == [c.words for c in untaught]
        for c in copies:
            tags = dict(zip(c.words, c.tags))
            assert c.tags[:3] == ["B-dem", "O", "O"] and c.tags[-2:] == ["O", "O"] and tags["and"] == "O"
            starts = [(w, t) for w, t in zip(c.words, c.tags) if t.startswith("B-") and t != "B-dem"]
            assert len(starts) == 2 and all(w in ("Port", "Kharkiv", "Kanawha") for w, _ in starts)
            assert [t for _, t in starts] == (["B-*", "B-*"] if taught_as else ["B-geo", "B-*"])
            assert all(t != "O" for w, t in zip(c.words, c.tags) if w in ("au", "Prince", "County"))


def test_augment_without_a_teacher_trains_on_the_copies(four_layer_base, tmp_path, capsys):
    rc, _, model = _train(tmp_path, four_layer_base, "aug", "--augment", "1")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"augment: [1-9]\d* copies of \d+ training sentences with a place, names swapped, the new names taught as places", out)
    card = json.loads((model / "model_card.json").read_text())
    assert card["training"]["augment_copies"] == 1 and card["training"]["distillation"] is None


def test_augmented_copies_are_learnt_from_the_teacher(four_layer_base, tiny_model_dir, tmp_path, capsys):
    """--distill-augment 1: the teacher reads the training inputs and one copy of each with a place,
    the card says so; the validation slice is the one of a run without copies."""
    rc, _, plain = _train(tmp_path, four_layer_base, "plain", "--layers", "2", "--teacher", str(tiny_model_dir))
    out_plain = capsys.readouterr().out
    rc2, _, student = _train(tmp_path, four_layer_base, "student", "--layers", "2", "--teacher", str(tiny_model_dir),
                             "--distill-augment", "1")
    out = capsys.readouterr().out
    assert rc == 0 and rc2 == 0, out
    n_copies = int(re.search(r"augment: (\d+) copies of (\d+) training sentences", out).group(1))
    assert n_copies > 0
    read = [int(re.search(r"logits for (\d+) inputs", o).group(1)) for o in (out_plain, out)]
    assert read[1] == read[0] + n_copies  # sample sentences fit one input each
    val = [re.search(r"(\d+) validation \(", o).group(1) for o in (out_plain, out)]
    assert val[0] == val[1]
    card = json.loads((student / "model_card.json").read_text())
    assert card["training"]["distillation"]["augment_copies"] == 1
    assert card["parity_max_abs_diff"] <= 1e-4
