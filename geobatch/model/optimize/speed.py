"""Model speed on a fixed input shape, the fp32 GEMM roofline, and a model's FLOPs per token.

Shared by `geobatch optimize`'s measurements and bench/: every figure comes from ONNX Runtime itself
(the roofline is one large MatMul run through an ORT session with the same thread count), so
"achieved / roofline" compares like with like. Timings interleave the models round by round, so a
burst of load from other processes hits every variant alike; both best and median are reported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INT_TYPES = {"tensor(int32)": np.int32, "tensor(int64)": np.int64}


def _session(model: str | bytes, threads: int | None, provider: str = "CPUExecutionProvider"):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=[provider])


@dataclass
class Timing:
    name: str
    seconds: list[float]
    items: int  # tokens (or FLOPs) per run

    @property
    def best(self) -> float:
        return self.items / min(self.seconds)

    @property
    def median(self) -> float:
        return self.items / float(np.median(self.seconds))


def matmul_roofline(n: int = 1024, threads: int | None = None, rounds: int = 10) -> Timing:
    """fp32 FLOP/s of one n x n x n MatMul through ONNX Runtime (Timing.items = FLOPs per run)."""
    from onnx import TensorProto, helper

    spec = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in ("a", "b", "c")]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm", spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    session = _session(model.SerializeToString(), threads)
    rng = np.random.default_rng(0)
    feed = {"a": rng.standard_normal((n, n), dtype=np.float32), "b": rng.standard_normal((n, n), dtype=np.float32)}
    return Timing(f"MatMul {n}^3 fp32", _run_seconds(session, feed, rounds), 2 * n**3)


def _run_seconds(session, feed: dict, rounds: int) -> list[float]:
    """Seconds of each of `rounds` runs of one session, after one warm-up run (allocations, kernels)."""
    session.run(None, feed)
    seconds = []
    for _ in range(rounds):
        t = time.perf_counter()
        session.run(None, feed)
        seconds.append(time.perf_counter() - t)
    return seconds


def weight_gemm_rates(m: int = 4096, k: int = 384, n: int = 1536, threads: int | None = None, rounds: int = 10) -> dict[str, float]:
    """Best (G)OP/s of an activation [m, k] times a constant weight [k, n], fp32 and dynamically
    quantized int8 (per channel, as `geobatch optimize --quantize int8` makes it). The default shape is
    MiniLM's feed-forward MatMul over 4,096 tokens: the ratio is the most int8 can gain on this CPU
    (1.02x on a Zen 2 EPYC without VNNI, where int8 multiply-adds are no faster than fp32 FMAs; docs/RESULTS.md §10)."""
    import logging
    import os
    import tempfile

    from onnx import TensorProto, helper, numpy_helper, save
    from onnxruntime.quantization import QuantType, quantize_dynamic

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "w"], ["c"])], "gemm",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [m, n])], [weight])
    feed = {"a": rng.standard_normal((m, k), dtype=np.float32)}
    rates = {}
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
        save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), fp32)
        root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process a graph of one MatMul
        try:
            quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8, per_channel=True)
        finally:
            root.setLevel(level)
        for name, path in (("fp32", fp32), ("int8", int8)):
            rates[name] = Timing(name, _run_seconds(_session(path, threads), feed, rounds), 2 * m * k * n).best
    return rates


def token_feeds(session, batch: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    """All-real (unpadded) ids of the dtype each graph input wants."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in session.get_inputs():
        dtype = INT_TYPES[inp.type]
        if inp.name == "input_ids":
            feeds[inp.name] = rng.integers(1000, 20000, (batch, seq)).astype(dtype)
        elif inp.name == "attention_mask":
            feeds[inp.name] = np.ones((batch, seq), dtype)
        else:
            feeds[inp.name] = np.zeros((batch, seq), dtype)
    return feeds


def compare_models(models: dict[str, str | Path], batch: int = 32, seq: int = 64, threads: int | None = 2,
                   rounds: int = 10, provider: str = "CPUExecutionProvider") -> list[Timing]:
    """Tokens/s of each model on the same [batch, seq] shape, interleaved round by round."""
    sessions = {name: _session(str(path), threads, provider) for name, path in models.items()}
    feeds = {name: token_feeds(s, batch, seq) for name, s in sessions.items()}
    for name, s in sessions.items():  # warm-up: allocations, kernel selection
        s.run(None, feeds[name])
    seconds: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(None, feeds[name])
            seconds[name].append(time.perf_counter() - t)
    return [Timing(name, seconds[name], batch * seq) for name in sessions]


def flops_per_token(model_path: str | Path, seq: int) -> float:
    """Multiply-adds x 2 per token: every MatMul (or fused Attention/Gemm) against a constant weight,
    plus the two attention products (QK^T and AV: 4 * seq * hidden per layer)."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    shapes = {t.name: list(t.dims) for t in model.graph.initializer}
    total, attention_layers, hidden = 0.0, 0, 0
    widths: list[int] = []
    for node in model.graph.node:
        if node.op_type in ("MatMul", "Gemm", "Attention", "MatMulInteger", "QAttention", "DynamicQuantizeMatMul"):
            weight = shapes.get(node.input[1]) if len(node.input) > 1 else None
            if weight is not None and len(weight) == 2:
                total += 2.0 * weight[0] * weight[1]
                widths.append(weight[0])
                if node.op_type in ("Attention", "QAttention"):
                    hidden = weight[1] // 3
        if node.op_type in ("Softmax", "Attention", "QAttention", "MultiHeadAttention"):
            attention_layers += 1
    if not hidden and widths:  # unfused: most projections (Q, K, V, output, FFN in) read hidden-wide inputs
        hidden = max(set(widths), key=widths.count)
    return total + attention_layers * 4.0 * seq * hidden
