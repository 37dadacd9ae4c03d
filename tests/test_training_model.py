"""Loss mask and heads (TensorFlow, tiny random models: seconds)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.train
tf = pytest.importorskip("tensorflow", reason="needs the [train] extra (TensorFlow)")

from training.data import IGNORE, UNTAUGHT_LABEL  # noqa: E402
from training.model import balanced_class_weights, masked_token_loss  # noqa: E402


def _ce(logits, label):
    z = logits - logits.max()
    return -(z[label] - np.log(np.exp(z).sum()))


def test_loss_averages_over_labelled_tokens_only():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 3)).astype(np.float32)
    labels = np.array([[IGNORE, 1, IGNORE, 2, IGNORE], [IGNORE, 0, IGNORE, IGNORE, IGNORE]], np.int32)
    expected = np.mean([_ce(logits[0, 1], 1), _ce(logits[0, 3], 2), _ce(logits[1, 1], 0)])
    got = float(masked_token_loss(tf.constant(labels), tf.constant(logits)))
    assert got == pytest.approx(expected, rel=1e-5)
    # whatever the model says at ignored positions (padding, [CLS]/[SEP], continuation pieces) changes nothing
    noisy = logits.copy()
    noisy[labels == IGNORE] += rng.normal(scale=50, size=noisy[labels == IGNORE].shape).astype(np.float32)
    assert float(masked_token_loss(tf.constant(labels), tf.constant(noisy))) == pytest.approx(expected, rel=1e-5)
    # more padding does not dilute the mean (the notebook's loss averaged over padding too)
    padded_labels = np.pad(labels, ((0, 0), (0, 11)), constant_values=IGNORE)
    padded_logits = np.pad(logits, ((0, 0), (0, 11), (0, 0)))
    assert float(masked_token_loss(tf.constant(padded_labels), tf.constant(padded_logits))) == pytest.approx(expected, rel=1e-5)
    # an untaught word (UNTAUGHT_LABEL) has no gold loss either, whatever the model says there
    untaught = labels.copy()
    untaught[0, 2] = UNTAUGHT_LABEL
    noisy[0, 2] = [90.0, -90.0, 0.0]
    assert float(masked_token_loss(tf.constant(untaught), tf.constant(noisy))) == pytest.approx(expected, rel=1e-5)


def test_class_weighted_loss_and_balanced_weights():
    logits = np.zeros((1, 3, 2), np.float32)
    logits[0, 0, 0] = 2.0
    labels = np.array([[0, 1, IGNORE]], np.int32)
    w = [1.0, 3.0]
    expected = (1.0 * _ce(logits[0, 0], 0) + 3.0 * _ce(logits[0, 1], 1)) / 4.0
    assert float(masked_token_loss(tf.constant(labels), tf.constant(logits), w)) == pytest.approx(expected, rel=1e-5)
    weights = balanced_class_weights(np.array([0, 0, 0, 1, IGNORE, IGNORE, UNTAUGHT_LABEL]), 3)
    assert weights == pytest.approx([4 / (2 * 3), 4 / (2 * 1), 1.0])


def _tiny_classifier(head):
    from transformers import BertConfig

    from training.model import model_class

    tf.random.set_seed(1)
    config = BertConfig(vocab_size=200, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        num_labels=3, conv_filters=8, conv_dense=8)
    return model_class(head)(config)


@pytest.mark.parametrize("head", ["linear", "conv"])
def test_logits_do_not_depend_on_batch_padding(head):
    """A word's logits must not change with how much padding its batch got (dynamic padding)."""
    model = _tiny_classifier(head)
    ids = np.array([[101, 7, 8, 9, 102]], np.int32)

    def run(width):
        x = np.zeros((1, width), np.int32)
        x[0, :5] = ids
        mask = (x != 0).astype(np.int32)
        return model(input_ids=x, attention_mask=mask, token_type_ids=np.zeros_like(x), training=False).logits.numpy()[0, :5]

    np.testing.assert_allclose(run(5), run(16), atol=1e-5)
    np.testing.assert_allclose(run(5), run(40), atol=1e-5)
