#!/usr/bin/env python
"""Model calls only: real tokens/s of each registered variant of a MODEL_DIR by batch size and window length.

Answers "which --batch-size, and how fast can the model itself go here" without reading, tokenizing,
decoding or writing: random token ids, full attention masks, ONNX Runtime's CPU provider with
--threads intra-op threads. Shapes and variants are interleaved round by round (best of --rounds),
so a change in machine load hits every cell alike. Not a test: it reports figures.

    python bench/model_calls.py --model models/gmb-locations --out bench/results
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from common import doc_parser


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR (model.onnx at its root, variants under variants/)")
    p.add_argument("--variants", default="fp32,int8,int8-pc", help="comma list; fp32 is the root model.onnx")
    p.add_argument("--shapes", default="32x27,64x27,128x27,256x27,32x128,64x128,128x128",
                   help="comma list of BATCHxTOKENS (27: a mean GMB sentence window; 128: a full window)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of them is reported")
    p.add_argument("--seconds", type=float, default=1.0, help="time per cell per round")
    p.add_argument("--out", default=None, help="write OUT/model_calls.json and .md")
    return p.parse_args(argv)


def main(argv=None) -> int:
    import numpy as np
    import onnxruntime as ort

    a = parse_args(argv)
    root = Path(a.model)
    paths = {v: root / "model.onnx" if v == "fp32" else root / "variants" / v / "model.onnx" for v in a.variants.split(",")}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        print(f"error: no such model file: {', '.join(missing)}; pass --variants with names under {root / 'variants'}", file=sys.stderr)
        return 2
    shapes = [tuple(int(x) for x in s.split("x")) for s in a.shapes.split(",")]
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sessions = {v: ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]) for v, p in paths.items()}
    rng = np.random.default_rng(0)
    best: dict[tuple, float] = {}
    load_start = os.getloadavg()[0]
    for _ in range(a.rounds):
        for b, t in shapes:
            ids = rng.integers(1000, 20000, (b, t)).astype(np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            for v, s in sessions.items():
                s.run(None, feed)  # warm-up: first-call allocations
                t0, n = time.perf_counter(), 0
                while time.perf_counter() - t0 < a.seconds:
                    s.run(None, feed)
                    n += 1
                rate = n * b * t / (time.perf_counter() - t0)
                best[(v, b, t)] = max(best.get((v, b, t), 0.0), rate)
    from geobatch.model.optimize.speed import weight_gemm_rates

    gemm = weight_gemm_rates(threads=a.threads)  # what int8 can gain on this CPU at most
    header = "| variant | " + " | ".join(f"{b}x{t}" for b, t in shapes) + " |"
    rows = [header, "|---|" + "---:|" * len(shapes)]
    for v in sessions:
        rows.append(f"| {v} | " + " | ".join(f"{best[(v, b, t)]:,.0f}" for b, t in shapes) + " |")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load_start:.1f} at start, {os.getloadavg()[0]:.1f} at end"
    md = "\n".join([
        "# Model calls only (bench/model_calls.py)", "",
        f"Command: `python bench/model_calls.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
        f"Model: {root}; {a.threads} ORT threads; best of {a.rounds} interleaved rounds, {a.seconds:g} s per cell; "
        f"onnxruntime {ort.__version__}; {machine}; {datetime.now(timezone.utc).isoformat(timespec='seconds')}.", "",
        "Real tokens/s (batch x tokens per window, no padding):", "", *rows, "",
        f"One feed-forward MatMul (4096 x 384 x 1536, constant weight) on this CPU: fp32 {gemm['fp32'] / 1e9:.0f} GFLOP/s, "
        f"int8 (dynamic, per channel) {gemm['int8'] / 1e9:.0f} GOP/s: int8 can gain at most {gemm['int8'] / gemm['fp32']:.2f}x here.", ""])
    print(md)
    if a.out:
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "model_calls.md").write_text(md, encoding="utf-8")
        (out / "model_calls.json").write_text(json.dumps({
            "model": str(root), "threads": a.threads, "rounds": a.rounds, "machine": machine,
            "gemm_ops_per_s": {k: round(v) for k, v in gemm.items()},
            "tokens_per_s": [{"variant": v, "batch": b, "tokens": t, "tokens_per_s": round(r, 1)} for (v, b, t), r in best.items()],
        }, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
