"""`geobatch optimize`: fused, int8 and fp16 variants of a model directory.

- `rewrites.py` turns the tf2onnx BERT graph into the shapes ONNX Runtime's fusions recognise,
- `fuse.py` runs those rewrites and ORT's transformer optimizer, and counts the fused operators,
- `parity.py` compares the new model's logits with the source's on tokenizer-made inputs,
- `directory.py` orders the steps and writes the new MODEL_DIR atomically with its card.

Importing this package loads nothing heavy: onnx and ORT's optimizer load when a step runs.
"""

from __future__ import annotations


def optimize_model_dir(*args, **kwargs) -> dict:
    from .directory import optimize_model_dir as run

    return run(*args, **kwargs)
