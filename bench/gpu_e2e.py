#!/usr/bin/env python
"""`geobatch run --provider cuda` end to end: docs/s and real tokens/s for fused fp32 and fp16, with
1, 2, 4 and 8 worker processes, next to the same graphs' model-only figure. For a lent GPU machine.

Needs there: onnxruntime-gpu with a loadable CUDA provider (the wheel is ~255 MB, over a 64 MiB
carry, so the machine must have it installed; no package registry is used), and a MODEL_DIR with
the two variants (`geobatch optimize MODEL_DIR --fuse --variant fused`, `--fuse --fp16 --variant
fp16`; --make-variants runs those first). Corpus: GeoVirus repeated --repeat times (under --work).
Model-only: the variant's `OnnxTagger` (IO binding as in a run) on random ids of --batch-size x
--max-length for --seconds. While the largest worker count runs, `nvidia-smi` is sampled for each
worker's GPU memory: how many sessions fit is the GPU's memory over one session's.
Writes OUT/gpu_e2e.json and .md; without a CUDA provider it says so in one line and exits 3.

    python bench/gpu_e2e.py --model models/gmb-locations --out "$OUT"
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, doc_parser
from pipeline_ceiling import repeated_geovirus

NO_CUDA = 3


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR holding the variants")
    p.add_argument("--variants", default="fused,fp16", help="fp32 and fp16 variant names (comma list)")
    p.add_argument("--make-variants", action="store_true", help="run geobatch optimize for the variants first")
    p.add_argument("--geovirus", default=str(ROOT.parent / "shared" / "data" / "geoparsing" / "GeoVirus.jsonl"))
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--workers", default="1,2,4,8")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--chunk-size", type=int, default=250)
    p.add_argument("--seconds", type=float, default=3.0, help="model-only timing per variant")
    p.add_argument("--work", default="/tmp/geobatch-gpu")
    p.add_argument("--out", default=os.environ.get("OUT", str(ROOT / "bench" / "results")))
    p.add_argument("--dry-run", action="store_true", help="print the commands, check nothing on a GPU")
    return p.parse_args(argv)


def cuda_available() -> str | None:
    """None when the CUDA provider loads, else why not."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        return f"onnxruntime is not importable ({e})"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (the CPU build); onnxruntime-gpu is needed"
    from geobatch.model.infer import cuda_usable

    return None if cuda_usable() else "the CUDA provider is listed but does not load (driver / CUDA libraries)"


def model_only(variant_dir: Path, batch: int, length: int, seconds: float) -> float:
    import numpy as np

    from geobatch.model.infer import OnnxTagger
    from geobatch.model.model_dir import load_model_dir
    from geobatch.text.batching import make_batches

    model = load_model_dir(variant_dir)
    tagger = OnnxTagger(model, "cuda")
    rng = np.random.default_rng(0)
    windows = [rng.integers(1000, 20000, length - 2) for _ in range(batch)]
    b = make_batches(windows, batch, 101, 102, 0)[0]
    for _ in range(5):
        tagger.run(b)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        tagger.run(b)
        n += 1
    return n * b.real_tokens / (time.perf_counter() - t)


class GpuMemory(threading.Thread):
    """Samples nvidia-smi's per-process GPU memory (MiB) until stopped."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak: dict[str, int] = {}
        self.total_mib: int | None = None
        self.stop = threading.Event()

    def run(self):
        try:
            q = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"], capture_output=True, text=True)
            self.total_mib = int(q.stdout.split()[0])
        except (OSError, ValueError, IndexError):
            return
        while not self.stop.wait(0.2):
            q = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True)
            for line in q.stdout.strip().splitlines():
                pid, mib = (x.strip() for x in line.split(","))
                if mib.isdigit():
                    self.peak[pid] = max(self.peak.get(pid, 0), int(mib))


def main(argv=None) -> int:
    a = parse_args(argv)
    work = Path(a.work)
    root = Path(a.model)
    variants = a.variants.split(",")
    counts = [int(n) for n in a.workers.split(",")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    geobatch = [sys.executable, "-m", "geobatch"]
    make = [[*geobatch, "optimize", str(root), "--fuse", *(["--fp16"] if "16" in v else []), "--variant", v] for v in variants]
    corpus = work / f"geovirus_x{a.repeat}.jsonl"

    def run_cmd(v: str, n: int) -> list[str]:
        return [*geobatch, "run", "--quiet", "--overwrite", "--no-resolve", "--provider", "cuda", "--variant", v, "--model", str(root),
                "--input", str(corpus), "--output", str(work / f"out-{v}-w{n}"), "--max-length", str(a.max_length),
                "--batch-size", str(a.batch_size), "--chunk-size", str(a.chunk_size), "--workers", str(n)]

    if a.dry_run:
        for cmd in [*(make if a.make_variants else []), *(run_cmd(v, n) for v in variants for n in counts)]:
            print(" ".join(cmd))
        return 0
    why = cuda_available()
    if why:
        print(f"not measured: {why}", file=sys.stderr)
        return NO_CUDA
    work.mkdir(parents=True, exist_ok=True)
    repeated_geovirus(Path(a.geovirus), a.repeat, corpus)
    if a.make_variants:
        for cmd in make:
            subprocess.run(cmd, check=True, env=env)
    rows = []
    for v in variants:
        only = model_only(root / "variants" / v, a.batch_size, a.max_length, a.seconds)
        print(f"{v}: model only {only:,.0f} real tokens/s ({a.batch_size} x {a.max_length})", flush=True)
        for n in counts:
            mem = GpuMemory() if n == max(counts) else None
            if mem:
                mem.start()
            t = time.perf_counter()
            proc = subprocess.run(run_cmd(v, n), capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t
            if mem:
                mem.stop.set()
                mem.join()
            if proc.returncode:
                print(f"{v}, {n} workers: exit {proc.returncode}: {proc.stderr.strip()[-500:]}", file=sys.stderr)
                rows.append({"variant": v, "workers": n, "error": proc.stderr.strip()[-500:]})
                continue
            m = json.loads((work / f"out-{v}-w{n}" / "manifest.json").read_text())
            row = {"variant": v, "workers": n, "wall_s": m["wall_time_s"], "process_wall_s": wall, "docs_per_s": m["docs_per_s"],
                   "real_tokens_per_s": m["real_tokens_per_s"], "model_only_tokens_per_s": only,
                   "share_of_model_only": m["real_tokens_per_s"] / only, "stage_seconds": m["stage_seconds"],
                   "worker_startup_s": (m.get("workers") or {}).get("startup_s")}
            if mem and mem.peak:
                per = sorted(mem.peak.values())
                row.update(gpu_mib_per_process=per, gpu_total_mib=mem.total_mib,
                           sessions_that_fit=(mem.total_mib // max(per)) if mem.total_mib else None)
            rows.append(row)
            print(f"{v}, {n} workers: {row['docs_per_s']:,.1f} docs/s, {row['real_tokens_per_s']:,.0f} real tokens/s "
                  f"({100 * row['share_of_model_only']:.0f}% of model only)", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_e2e.json").write_text(json.dumps({"settings": vars(a), "rows": rows}, indent=1))
    md = ["| variant | workers | docs/s | real tokens/s | model only tokens/s | share | wall s |", "|" + " --- |" * 7]
    md += [f"| {r['variant']} | {r['workers']} | {r['docs_per_s']:,.1f} | {r['real_tokens_per_s']:,.0f} | {r['model_only_tokens_per_s']:,.0f} | "
           f"{100 * r['share_of_model_only']:.0f}% | {r['wall_s']:.1f} |" for r in rows if "error" not in r]
    (out / "gpu_e2e.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
