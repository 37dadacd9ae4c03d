"""Shared by `geobatch train` and `geobatch export`: load the [train] extra or explain how to get it."""

from __future__ import annotations

import importlib.util
import os
import sys

from ..errors import GeobatchError

INSTALL_HINT = "pip install 'geobatch[train]'"


def _installed(module: str) -> bool:
    """Look the module up without importing it (importing transformers without TF prints warnings)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require_training():
    """Import the training package; missing TensorFlow/transformers/tf2onnx becomes a one-line hint (exit 2)."""
    # transformers' TF classes need tf-keras on TF 2.21, selected by this variable before TensorFlow loads
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    missing = [m for m in ("tensorflow", "tf_keras", "transformers", "tf2onnx", "onnx") if not _installed(m)]
    if missing:
        raise GeobatchError(f"this command needs the [train] extra ({', '.join(missing)} not installed)", f"run: {INSTALL_HINT}")
    import training

    return training
