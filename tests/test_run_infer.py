"""Stages: batching (sort + per-batch padding) and inference (one ORT session, provider choice)."""

import json
import shutil

import numpy as np
import pytest
from tiny_onnx import LABELS, build_tiny_model_dir, tiny_onnx_dir  # noqa: F401

from geobatch.errors import GeobatchError, ModelError
from geobatch.model.infer import OnnxTagger, _cuda_libraries_load
from geobatch.model.model_dir import load_model_dir
from geobatch.text.batching import make_batches


def test_batches_sorted_and_padded_per_batch():
    windows = [np.arange(n) + 10 for n in (5, 1, 9, 2, 8, 3)]
    batches = make_batches(windows, 2, cls_id=101, sep_id=102, pad_id=0)
    assert sorted(i for b in batches for i in b.window_index) == list(range(6))
    widths = [b.input_ids.shape[1] for b in batches]
    assert widths == [4, 7, 11]  # (1,2) (3,5) (8,9) + [CLS]/[SEP]
    b = batches[0]
    row = list(b.window_index).index(1)
    assert b.input_ids[row].tolist() == [101, 10, 102, 0] and b.attention_mask[row].tolist() == [1, 1, 1, 0]
    total_real = sum(bb.real_tokens for bb in batches)
    assert total_real == sum(len(w) + 2 for w in windows)
    assert 1 - total_real / sum(bb.slots for bb in batches) < 0.15


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_tagger_runs_with_card_dtypes(tmp_path, dtype):
    model = load_model_dir(build_tiny_model_dir(tmp_path / dtype, input_dtype=dtype))
    tagger = OnnxTagger(model, "cpu", threads=1)
    assert tagger.provider == "CPUExecutionProvider"
    (batch,) = make_batches([np.array([3000, 2003])], 4, 101, 102, 0)  # "paris is"
    logits = tagger.run(batch)
    assert logits.shape == (1, 4, len(LABELS)) and logits.dtype == np.float32
    assert logits[0, 1].argmax() == LABELS.index("B-geo") and logits[0, 2].argmax() == 0


def test_auto_provider_is_quiet_and_recorded(tiny_onnx_dir, capfd):  # noqa: F811
    tagger = OnnxTagger(load_model_dir(tiny_onnx_dir), "auto")
    assert tagger.provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
    err = capfd.readouterr().err
    assert "libcublas" not in err and "Failed to load" not in err


@pytest.mark.skipif(_cuda_libraries_load(), reason="a CUDA driver is present here")
def test_cuda_provider_without_cuda_is_a_clear_error(tiny_onnx_dir):  # noqa: F811
    with pytest.raises(GeobatchError, match="--provider cuda"):
        OnnxTagger(load_model_dir(tiny_onnx_dir), "cuda")


def test_card_label_count_mismatch(tmp_path, tiny_onnx_dir):  # noqa: F811
    d = tmp_path / "m"
    shutil.copytree(tiny_onnx_dir, d)
    card = json.loads((d / "model_card.json").read_text())
    card["labels"] = card["labels"][:3]
    (d / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="outputs 5 labels but the model card lists 3"):
        OnnxTagger(load_model_dir(d), "cpu")


def test_model_dir_missing_file(tmp_path, tiny_onnx_dir):  # noqa: F811
    d = tmp_path / "m"
    shutil.copytree(tiny_onnx_dir, d)
    (d / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="lacks tokenizer.json"):
        load_model_dir(d)


def test_file_sha256_is_cached_per_file_contents(tmp_path):
    """Hashed once per process for the same file, but a rewritten file (new mtime/size) is hashed again."""
    import hashlib
    import os

    from geobatch.model.model_dir import _sha256, file_sha256

    f = tmp_path / "model.onnx"
    f.write_bytes(b"a" * 1000)
    first = file_sha256(f)
    hits = _sha256.cache_info().hits
    assert file_sha256(f) == first == hashlib.sha256(b"a" * 1000).hexdigest()
    assert _sha256.cache_info().hits == hits + 1
    f.write_bytes(b"b" * 1000)
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a new mtime even on coarse clocks
    assert file_sha256(f) == hashlib.sha256(b"b" * 1000).hexdigest() != first
