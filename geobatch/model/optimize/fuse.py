"""Operator fusion: our tf2onnx rewrites, then ONNX Runtime's BERT fusions.

ORT's optimizer is run with `model_type="bert"` and `opt_level=0`: only its Python fusions, no ORT
session-level rewrites baked into the file, so the saved graph stays portable between the CPU and
CUDA providers (each session still applies its own graph optimizations when it loads the model).
Its symbolic shape inference needs sympy, which geobatch does not depend on; it is switched off,
which only costs the shape checks of SkipLayerNormalization (our rewrites match exact shapes anyway).
The attention mask stays a raw 2-D mask (AttentionMaskFormat.AttentionMask) rather than a
per-row length, so left padding or holes in a mask keep the source model's meaning.
"""

from __future__ import annotations

import logging
from collections import Counter

import onnx

from ...errors import ModelError
from .graph import Graph
from .rewrites import attention_geometry, rewrite_tf2onnx_bert

FUSED_OPS = (
    "Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization",
    "LayerNormalization", "BiasGelu", "Gelu", "FastGelu",
)


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(sorted(Counter(n.op_type for n in model.graph.node).items()))


def fuse(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict]:
    """Returns the fused model and a report: rewrites matched, fused operator counts, op counts before/after."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions

    before = op_counts(model)
    graph = Graph(model)
    geometry = attention_geometry(graph)  # read before the rewrites drop the Q/K/V shape chains
    rewrites = rewrite_tf2onnx_bert(graph)
    heads, hidden = geometry or (0, 0)  # 0: let ORT detect them

    options = FusionOptions("bert")
    options.enable_shape_inference = False
    options.attention_mask_format = AttentionMaskFormat.AttentionMask
    # its modules log through loggers of their own file names: warnings about the producer name
    # ("tf2onnx", not "pytorch") and the disabled shape inference are expected here
    logging.disable(logging.WARNING)
    try:
        fused = optimizer.optimize_model(
            graph.model, model_type="bert", num_heads=heads, hidden_size=hidden,
            optimization_options=options, opt_level=0, use_gpu=False,
        )
    except Exception as e:  # the optimizer asserts on graphs it does not understand
        raise ModelError(f"ONNX Runtime's transformer optimizer failed: {e}", "run without --fuse") from None
    finally:
        logging.disable(logging.NOTSET)
    after = op_counts(fused.model)
    fused_ops = {op: after.get(op, 0) for op in FUSED_OPS}
    report = {
        "attention_heads": heads or None,
        "hidden_size": hidden or None,
        "rewrites": rewrites,
        "fused_operators": fused_ops,
        "nodes_before": sum(before.values()),
        "nodes_after": sum(after.values()),
        "op_counts_before": before,
        "op_counts_after": after,
    }
    return fused.model, report
