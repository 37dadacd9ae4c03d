"""Fine-tuning (TensorFlow) and ONNX export for geobatch: the `[train]` extra.

Never imported by the runtime package at module level. Modules that need TensorFlow import it
through `training.tf_env`, which sets TF_USE_LEGACY_KERAS first: with TensorFlow 2.21,
transformers' TF classes only work through tf-keras (Keras 2), chosen by that variable at import time.
`training.data` and `training.batching` need no TensorFlow, so they are testable without it.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
