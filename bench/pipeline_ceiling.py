#!/usr/bin/env python
"""The pipeline's ceiling: `geobatch run` with a zero-cost model, per stage, for 1, 2, ... worker processes.

The model is tests/tiny_onnx.py's single Gather (logits = table[input_ids]) at --max-length 128, so
what is timed is everything around a model: reading, words, wordpieces, windows, batches, tags,
spans, Arrow and Parquet. Corpora: GeoVirus repeated --repeat times (ids made unique, written under
--work, never into the project) and GMB test (`--format gmb`, gold tags: metrics are kept too).
Each setting runs `python -m geobatch run --no-resolve --workers N` in a fresh process, --runs times
(the fastest is reported). Every output is checked against the one-worker output: the same rows in
docs/, tokens/ and spans/ (sorted), a reconciled manifest. The load average before and after each
run is recorded: on a shared machine, figures taken at a load above the core count are not valid.
Writes OUT/pipeline_ceiling.json and .md.

    python bench/pipeline_ceiling.py --workers 1,2 --out bench/results
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, doc_parser

SHARED = ROOT.parent / "shared" / "data"


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--geovirus", default=str(SHARED / "geoparsing" / "GeoVirus.jsonl"), help="GeoVirus JSONL (text, doc_id)")
    p.add_argument("--repeat", type=int, default=20, help="times GeoVirus is repeated (default 20: 4,580 documents)")
    p.add_argument("--gmb", default=str(SHARED / "gmb" / "test.csv"), help="GMB test CSV ('' to skip)")
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    p.add_argument("--chunk-size", type=int, default=250, help="records per unit: enough units to share among the workers")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--runs", type=int, default=1, help="runs per setting; the fastest is reported")
    p.add_argument("--work", default="/tmp/geobatch-ceiling", help="scratch directory (model, corpus, outputs)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"), help="where pipeline_ceiling.json/.md go")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    return p.parse_args(argv)


def repeated_geovirus(src: Path, times: int, dst: Path) -> Path:
    with open(src, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    with open(dst, "w", encoding="utf-8") as f:
        for r in range(times):
            for d in docs:
                f.write(json.dumps({"id": f"r{r}-{d['doc_id']}", "text": d["text"]}, ensure_ascii=False) + "\n")
    return dst


def row_sets(out: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    return {t: sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in pq.read_table(out / t).to_pylist())
            for t in ("docs", "tokens", "spans")}


def run_once(cmd: list[str], out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    m = json.loads((out / "manifest.json").read_text())
    return {"process_wall_s": wall, "run_wall_s": m["wall_time_s"], "docs": m["docs_this_session"], "real_tokens": m["real_tokens"],
            "real_tokens_per_s": m["real_tokens_per_s"], "docs_per_s": m["docs_per_s"], "stage_seconds": m["stage_seconds"],
            "worker_stats": m.get("workers"), "reconciled": m["reconciled"], "load_before": load_before, "load_after": load_after}


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_onnx import build_tiny_model_dir

    model = build_tiny_model_dir(work / "zero-cost-model", max_length=args.max_length)
    corpora = [(f"GeoVirus x{args.repeat}", repeated_geovirus(Path(args.geovirus), args.repeat, work / f"geovirus_x{args.repeat}.jsonl"), [])]
    if args.gmb:
        corpora.append(("GMB test", Path(args.gmb), ["--format", "gmb"]))
    counts = [int(n) for n in args.workers.split(",")]
    results = []
    for name, path, extra in corpora:
        ref_rows = None
        for n in counts:
            out = work / f"out-{path.stem}-w{n}"
            cmd = [sys.executable, "-m", "geobatch", "run", "--quiet", "--overwrite", "--no-resolve", "--provider", "cpu",
                   "--model", str(model), "--input", str(path), "--output", str(out), "--max-length", str(args.max_length),
                   "--chunk-size", str(args.chunk_size), "--workers", str(n), *extra]
            if args.dry_run:
                print(" ".join(cmd))
                continue
            runs = [run_once(cmd, out) for _ in range(args.runs)]
            best = min(runs, key=lambda r: r["run_wall_s"])
            rows = row_sets(out)
            ref_rows = rows if ref_rows is None else ref_rows
            best.update(corpus=name, workers=n, command=" ".join(cmd[2:]), same_tables_as_first=rows == ref_rows,
                        all_runs_wall_s=[r["run_wall_s"] for r in runs])
            results.append(best)
            print(f"{name}, {n} worker(s): {best['run_wall_s']:.2f} s, {best['real_tokens_per_s']:,.0f} real tokens/s, "
                  f"same tables: {best['same_tables_as_first']}, load {best['load_before']:.2f} -> {best['load_after']:.2f}", flush=True)
    if args.dry_run:
        return 0
    report = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
              "settings": {"max_length": args.max_length, "chunk_size": args.chunk_size, "repeat": args.repeat, "runs": args.runs},
              "results": results}
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "pipeline_ceiling.json").write_text(json.dumps(report, indent=1))
    (outdir / "pipeline_ceiling.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    stages = ("read", "prepare", "tokenize", "infer", "decode", "write")
    lines = ["| corpus | workers | wall s | docs/s | real tokens/s | vs 1 worker | " + " | ".join(f"{s} s" for s in stages)
             + " | workers' encode s | same tables | load before/after |", "|" + " --- |" * (9 + len(stages))]
    base = {}
    for r in report["results"]:
        base.setdefault(r["corpus"], r["run_wall_s"])
        st = r["stage_seconds"]
        lines.append(f"| {r['corpus']} | {r['workers']} | {r['run_wall_s']:.2f} | {r['docs_per_s']:,.0f} | {r['real_tokens_per_s']:,.0f} | "
                     f"{base[r['corpus']] / r['run_wall_s']:.2f}x | " + " | ".join(f"{(st.get(s) or 0):.2f}" for s in stages)
                     + f" | {sum((r.get('worker_stats') or {}).get('encode_s') or [0]):.2f}"
                     + f" | {r['same_tables_as_first']} | {r['load_before']:.2f} / {r['load_after']:.2f} |")
    return ("Zero-cost model (one Gather), `--no-resolve`, max_length {max_length}, chunk {chunk_size}; stage seconds are summed "
            "over the workers (they run side by side); with workers, `write` is the parent's (files, fsync, journal) and the "
            "Parquet encoding is the workers' encode column.\n\n").format(**report["settings"]) + "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
