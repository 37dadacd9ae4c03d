"""The TensorFlow baseline: the fine-tuned checkpoint run with Keras `predict`, behind geobatch's tagger
interface (`run(batch) -> logits`, `provider`), so the bench's TensorFlow variant gets exactly the
runner's reading, tokenization, windows, batches, decoding and Parquet writing; only the forward pass
differs. TensorFlow is imported only when this class is built (the [train] extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class KerasPredictTagger:
    provider = "TensorFlow Keras predict (CPU)"

    def __init__(self, checkpoint: str | Path, threads: int | None = None):
        from training.checkpoint import load_model, read_metadata
        from training.tf_env import tf  # sets TF_USE_LEGACY_KERAS before TensorFlow loads

        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
            except RuntimeError:  # TensorFlow already ran in this process (tests): its thread count stays
                pass
        meta = read_metadata(checkpoint)
        self.model = load_model(Path(checkpoint), meta.get("head", "linear"))
        self.labels = list(meta["labels"])

    def run(self, batch) -> np.ndarray:
        feed = {
            "input_ids": batch.input_ids.astype(np.int32),
            "attention_mask": batch.attention_mask.astype(np.int32),
            "token_type_ids": batch.token_type_ids.astype(np.int32),
        }
        out = self.model.predict(feed, batch_size=len(batch.input_ids), verbose=0)
        logits = out["logits"] if isinstance(out, dict) or hasattr(out, "keys") else out
        return np.asarray(logits, dtype=np.float32)
