"""End to end: tiny random BERT -> `geobatch train --export` -> MODEL_DIR checked with ONNX Runtime."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from conftest import SAMPLE_LABELLED, train_tiny

pytestmark = [pytest.mark.train, pytest.mark.slow]

CARD_FIELDS = {"labels", "label_scheme", "max_length", "base_model", "lowercase", "inputs", "output", "opset",
               "onnx_sha256", "parity_max_abs_diff", "training", "validation_metrics", "versions", "created_at"}


def _check_model_dir(model_dir, head):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    assert sorted(p.name for p in model_dir.iterdir()) == ["model.onnx", "model_card.json", "tokenizer.json"]
    card = json.loads((model_dir / "model_card.json").read_text())
    assert CARD_FIELDS <= set(card)
    assert card["labels"] == ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
    assert card["label_scheme"] == "locations" and card["max_length"] == 64 and card["lowercase"] is True
    assert card["head"] == head and card["opset"] >= 17 and card["output"] == "logits"
    assert card["inputs"] == [{"name": n, "dtype": "int64"} for n in ("input_ids", "attention_mask", "token_type_ids")]
    assert 0 <= card["parity_max_abs_diff"] <= 1e-3
    assert card["onnx_sha256"] == hashlib.sha256((model_dir / "model.onnx").read_bytes()).hexdigest()
    tr = card["training"]
    assert tr["files"] == [{"path": str(SAMPLE_LABELLED), "sha256": hashlib.sha256(SAMPLE_LABELLED.read_bytes()).hexdigest()}]
    assert tr["sentences"] == 72 and tr["validation_sentences"] == 24 and tr["epochs"] == 2 and tr["best_epoch"] in (1, 2)
    # the hold-out's seed and share, so bench/selection_slice.py can rebuild it from the card
    assert tr["split_seed"] == tr["seed"] == 13 and tr["validation_fraction"] == 0.25
    vm = card["validation_metrics"]
    assert {"entity_precision", "entity_recall", "entity_f1", "per_type", "word_accuracy"} <= set(vm)
    assert 0.0 <= vm["entity_f1"] <= 1.0 and vm["words"] > 0
    for pkg in ("tensorflow", "transformers", "tf2onnx", "onnx", "tokenizers"):
        assert card["versions"].get(pkg), pkg
    assert card["created_at"].endswith("+00:00")

    # the runtime's view: tokenizer.json does not pad or truncate by itself, ONNX takes dynamic batch and length
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    short, long_ = tok.encode("Rain in Paris"), tok.encode("Officials in Burkina Faso and Ouagadougou met on Monday")
    assert len(short.ids) < len(long_.ids) < 64
    sess = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask", "token_type_ids"]
    for batch in ([short], [short, long_]):
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), np.int64)
        for i, e in enumerate(batch):
            ids[i, : len(e.ids)] = e.ids
        (logits,) = sess.run(["logits"], {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64), "token_type_ids": np.zeros_like(ids)})
        assert logits.shape == (len(batch), width, 5) and np.isfinite(logits).all()
    return card


def test_linear_head_train_export_parity_card(tiny_training):
    ckpt, model_dir = tiny_training
    card = _check_model_dir(model_dir, "linear")
    meta = json.loads((ckpt / "training.json").read_text())
    assert meta["seed"] == 13 and meta["options"]["batch_size"] == 16 and len(meta["history"]) == 2
    assert all(h["train_loss"] > 0 for h in meta["history"])
    assert card["validation_metrics"] == meta["validation_metrics"]


def test_export_command_and_parity_failure_writes_nothing(tiny_training, tmp_path, capsys):
    from geobatch.cli import main

    ckpt, _ = tiny_training
    again = tmp_path / "again"
    assert main(["export", str(ckpt), "--output", str(again)]) == 0
    assert (again / "model_card.json").exists()
    refused = tmp_path / "refused"
    # an impossible tolerance makes the parity check fail: exit 1, no model dir, no temp dir left behind
    assert main(["export", str(ckpt), "--output", str(refused), "--tolerance", "-1"]) == 1
    err = capsys.readouterr().err
    assert "ONNX logits differ from TensorFlow" in err and "no model directory written" in err
    assert not refused.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".refused")]


def test_conv_head_exports_with_parity(tmp_path):
    _, model_dir = train_tiny(tmp_path, head="conv")
    _check_model_dir(model_dir, "conv")


def test_export_of_non_checkpoint_is_a_user_error(tmp_path, capsys):
    from geobatch.cli import main

    assert main(["export", str(tmp_path), "--output", str(tmp_path / "m")]) == 2
    assert "not a geobatch checkpoint" in capsys.readouterr().err


def test_continue_training_from_a_checkpoint(tiny_training, tmp_path, capsys):
    """--base-model one of our checkpoints: the card counts the epochs behind the weights across both
    runs and names the checkpoint; other labels are refused with exit 2 before any training."""
    from geobatch.cli import main

    ckpt, _ = tiny_training
    first = json.loads((ckpt / "training.json").read_text())
    common = ["train", "--train", str(SAMPLE_LABELLED), "--base-model", str(ckpt), "--epochs", "1", "--batch-size", "16",
              "--max-length", "64", "--learning-rate", "1e-4", "--max-sentences", "96", "--validation-fraction", "0.25",
              "--log-every", "100"]
    out, model_dir = tmp_path / "ckpt2", tmp_path / "model2"
    # another training seed on the same validation slice (--split-seed: a second run scored like the first)
    assert main([*common, "--label-scheme", "locations", "--seed", "7", "--split-seed", "13", "--output", str(out),
                 "--export", str(model_dir)]) == 0
    tr = json.loads((model_dir / "model_card.json").read_text())["training"]
    assert tr["best_epoch"] == 1 and tr["total_epochs"] == first["best_epoch"] + 1
    assert tr["continued_from"]["checkpoint"] == str(ckpt) and tr["continued_from"]["total_epochs"] == first["best_epoch"]
    meta = json.loads((out / "training.json").read_text())
    assert (meta["seed"], meta["split_seed"]) == (7, 13)
    # epoch 0: the base scored before training, on the same slice (same data, fraction, split seed) as the
    # first run scored the epoch it kept, so the same weights give the same figures
    base_scores = json.loads((out / "training.json").read_text())["base_validation_metrics"]
    assert base_scores["entity_f1"] == pytest.approx(first["validation_metrics"]["entity_f1"], abs=1e-4)
    assert base_scores["word_accuracy"] == pytest.approx(first["validation_metrics"]["word_accuracy"], abs=1e-4)
    logged = capsys.readouterr()
    assert "epoch 0 (the base)" in logged.out + logged.err
    label_map = tmp_path / "tar_inc.json"
    label_map.write_text(json.dumps({"geo": "tar", "gpe": "inc"}))
    assert main([*common, "--label-map", str(label_map), "--output", str(tmp_path / "ckpt3")]) == 2
    err = capsys.readouterr().err
    assert "checkpoint trained on labels" in err and len(err.strip().splitlines()) == 1


def test_export_of_a_damaged_checkpoint_is_one_line(tiny_training, tmp_path, capsys):
    # a truncated tf_model.h5 ended export in h5py's 70-line traceback
    import shutil

    from geobatch.cli import main

    ckpt = shutil.copytree(tiny_training[0], tmp_path / "ckpt")
    with open(ckpt / "tf_model.h5", "r+b") as f:
        f.truncate(1000)
    assert main(["export", str(ckpt), "--output", str(tmp_path / "model")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert len(err) == 1 and "its weights cannot be read" in err[0] and not (tmp_path / "model").exists()
