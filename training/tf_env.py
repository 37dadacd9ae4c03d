"""Import TensorFlow and tf-keras the one way that works with transformers 4.57 on TF 2.21."""

from __future__ import annotations

import os

# must precede the first `import tensorflow` anywhere in the process
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras", "has_gpu"]


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))
