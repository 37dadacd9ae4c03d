"""The token classifier: a BERT encoder with a linear or convolutional head, and the masked loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geobatch.errors import InputError

from .base import BaseModel
from .tf_env import keras, tf

from transformers import BertConfig, TFBertForTokenClassification  # noqa: E402  (after tf_env)
from transformers.modeling_tf_outputs import TFTokenClassifierOutput  # noqa: E402
from transformers.modeling_tf_utils import unpack_inputs  # noqa: E402
from transformers.models.bert.modeling_tf_bert import TFBertMainLayer, TFBertPreTrainedModel  # noqa: E402

HEADS = ("linear", "conv")


class TFBertConvTokenClassifier(TFBertPreTrainedModel):
    """The notebook's convolutional head: Conv1D over the encoder output, max-pool (same length,
    stride 1), dense, dropout, classifier.

    Padding positions are zeroed before the convolution and after it, so a word's logits do not depend
    on how much padding its batch has (ReLU outputs are >= 0, so a zero never wins the max-pool).
    """

    _keys_to_ignore_on_load_unexpected = [r"pooler", r"cls\.", r"position_ids"]
    _keys_to_ignore_on_load_missing = [r"dropout", r"conv_head", r"head_pool", r"head_dense", r"classifier"]

    def __init__(self, config, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.num_labels = config.num_labels
        self.bert = TFBertMainLayer(config, add_pooling_layer=False, name="bert")
        filters = getattr(config, "conv_filters", 256)
        kernel = getattr(config, "conv_kernel", 3)
        self.conv = keras.layers.Conv1D(filters, kernel, padding="same", activation="relu", name="conv_head")
        self.pool = keras.layers.MaxPool1D(pool_size=getattr(config, "pool_size", 3), strides=1, padding="same", name="head_pool")
        self.dense = keras.layers.Dense(getattr(config, "conv_dense", 128), activation="relu", name="head_dense")
        self.dropout = keras.layers.Dropout(rate=config.hidden_dropout_prob)
        self.classifier = keras.layers.Dense(config.num_labels, name="classifier")

    @unpack_inputs
    def call(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        labels=None,
        training=False,
    ):
        out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, training=training)
        hidden = out[0]
        if attention_mask is None:
            attention_mask = tf.ones(tf.shape(hidden)[:2], tf.int32)
        mask = tf.cast(tf.expand_dims(attention_mask, -1), hidden.dtype)
        h = self.conv(hidden * mask)
        h = self.pool(h * tf.cast(mask, h.dtype))
        h = self.dense(h)
        h = self.dropout(h, training=training)
        return TFTokenClassifierOutput(logits=self.classifier(h))

    def build(self, input_shape=None):
        if self.built:
            return
        self.built = True
        hs = self.config.hidden_size
        with tf.name_scope(self.bert.name):
            self.bert.build(None)
        with tf.name_scope(self.conv.name):
            self.conv.build([None, None, hs])
        with tf.name_scope(self.dense.name):
            self.dense.build([None, None, self.conv.filters])
        with tf.name_scope(self.classifier.name):
            self.classifier.build([None, None, self.dense.units])


def model_class(head: str):
    if head not in HEADS:
        raise InputError(f"unknown head {head!r}", f"use one of {', '.join(HEADS)}")
    return TFBertForTokenClassification if head == "linear" else TFBertConvTokenClassifier


def dummy_inputs() -> dict:
    ids = tf.constant([[101, 102, 0, 0]], dtype=tf.int32)
    return {"input_ids": ids, "attention_mask": tf.constant([[1, 1, 0, 0]], tf.int32), "token_type_ids": tf.zeros_like(ids)}


def _verify_encoder_loaded(model, state: dict) -> None:
    """Compare one encoder tensor with the file: a silent name mismatch would train from random weights."""
    key = next((k for k in state if k.endswith("embeddings.word_embeddings.weight")), None)
    if key is None:
        raise InputError("base weights have no word embeddings", "give a BERT-family model")
    tf_var = next((v for v in model.bert.weights if "word_embeddings" in v.name), None)
    if tf_var is None or not np.allclose(tf_var.numpy(), state[key], atol=1e-6):
        raise InputError("base model weights did not load into the encoder", "check that --base-model is a BERT model")


def build_model(base: BaseModel, labels: list[str], head: str = "linear", extra_config: dict | None = None):
    """A fresh classifier on the pretrained encoder (the head is randomly initialised)."""
    cls = model_class(head)
    id2label = dict(enumerate(labels))
    label2id = {l: i for i, l in enumerate(labels)}
    try:
        config = BertConfig.from_pretrained(base.path, num_labels=len(labels), id2label=id2label, label2id=label2id)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"cannot read the config of base model {base.name}: {e}", "give a BERT model directory") from None
    config.geobatch_head = head
    for k, v in (extra_config or {}).items():
        setattr(config, k, v)
    d = Path(base.path)
    if base.is_local and (d / "tf_model.h5").exists():
        return cls.from_pretrained(str(d), config=config)
    if base.is_local and (d / "model.safetensors").exists():
        # from_pretrained on a PyTorch-only safetensors dir fails in transformers 4.57 TF
        # ('builtins.safe_open' object is not iterable); load the tensors with numpy instead (no torch).
        from safetensors.numpy import load_file
        from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

        model = cls(config)
        model(**dummy_inputs())
        state = load_file(str(d / "model.safetensors"))
        _, info = load_pytorch_state_dict_in_tf2_model(model, state, allow_missing_keys=True, output_loading_info=True, skip_logger_warnings=True)
        enc_missing = [k for k in info["missing_keys"] if not any(h in k for h in ("classifier", "conv_head", "head_pool", "head_dense", "dropout"))]
        if enc_missing:
            raise InputError(f"base model {base.name} lacks encoder weights {enc_missing[:3]}", "give a BERT model directory")
        _verify_encoder_loaded(model, state)
        return model
    if base.is_local:
        raise InputError(f"base model directory {d} has no tf_model.h5 or model.safetensors", "give a directory with weights")
    return cls.from_pretrained(base.path, config=config, from_pt=True)


def load_checkpoint_model(checkpoint: str | Path, head: str):
    cls = model_class(head)
    model = cls.from_pretrained(str(checkpoint))
    return model


def masked_token_loss(labels, logits, class_weights=None, target_sets=None):
    """Cross-entropy averaged over labelled positions only (labels >= 0: not IGNORE, not UNTAUGHT_LABEL).

    With class weights, each labelled token counts with its class's weight and the mean is taken over
    the weights (as torch's weighted cross-entropy does). With target sets ([n_codes, n_labels] of 0/1,
    the first n_labels rows the identity), a label code past the model's labels names a set of labels
    any of which is right, and its loss is -log of their summed probability: a place whose type the
    corpus does not give (B-geo or B-gpe) is taught as a place without picking one at random.
    """
    logits = tf.cast(logits, tf.float32)
    mask = tf.greater_equal(labels, 0)
    safe = tf.where(mask, labels, tf.zeros_like(labels))
    if target_sets is None:
        per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    else:
        allowed = tf.gather(tf.constant(target_sets, tf.float32), safe) > 0
        log_p = tf.nn.log_softmax(logits, axis=-1)
        per_token = -tf.reduce_logsumexp(tf.where(allowed, log_p, tf.fill(tf.shape(log_p), -1e9)), axis=-1)
    weights = tf.cast(mask, tf.float32)
    if class_weights is not None:
        weights = weights * tf.gather(tf.constant(class_weights, tf.float32), safe)
    return tf.reduce_sum(per_token * weights) / tf.maximum(tf.reduce_sum(weights), 1e-9)


def balanced_class_weights(label_ids: np.ndarray, n_labels: int) -> list[float]:
    """sklearn's 'balanced': n / (k * count); classes never seen get weight 1."""
    ids = label_ids[(label_ids >= 0) & (label_ids < n_labels)]  # target-set codes count with weight 1
    counts = np.bincount(ids, minlength=n_labels).astype(np.float64)
    w = np.ones(n_labels)
    seen = counts > 0
    w[seen] = len(ids) / (seen.sum() * counts[seen])
    return w.tolist()
