#!/usr/bin/env python
"""docs/s of `geobatch run` on the local engine vs the Ray engine with 1 and 2 workers, same corpus, one run.

Builds a corpus of --docs documents by repeating --corpus (ids made unique), then runs, one after
the other in this process: the local engine with 1 ORT thread and with ORT's default threads, and
the Ray engine (a fresh local Ray instance each time, as a CLI user gets) with each --workers
count, 1 ORT thread per worker. Each Ray output is checked against the local engine's (same rows
in docs/, tokens/, spans/; confidences to 1e-5). Writes OUT/ray_vs_local.json and .md.

Where the Ray time goes comes from its manifest: `startup_s` (ray.init), `first_piece_s` (from
the start of execution to the first result: worker processes, actor init, first batch), per-actor
`init_s` (Pipeline: ONNX session, tokenizer, resolver), `process_s` (Pipeline.process, the work
the local engine also does), `serialize_s` (Arrow IPC of the pieces) and the driver's `commit_s`.

    python bench/ray_vs_local.py --docs 3000 --out bench/results
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from common import ROOT, doc_parser


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--model", default=None, help="MODEL_DIR (default: models/gmb-locations if it exists, else the tiny test model); 'tiny': the tiny test model")
    p.add_argument("--corpus", default=str(ROOT / "data" / "sample_corpus.parquet"), help="Parquet or JSONL to repeat")
    p.add_argument("--text-column", default="text")
    p.add_argument("--id-column", default="id")
    p.add_argument("--spans-column", default=None, help="gold spans column to carry along (metrics are then compared too)")
    p.add_argument("--docs", type=int, default=3000, help="documents in the benchmark corpus")
    p.add_argument("--workers", default="1,2", help="Ray worker counts to run, comma-separated")
    p.add_argument("--chunk-size", type=int, default=250, help="records per unit (and per Ray batch)")
    p.add_argument("--batch-size", type=int, default=32, help="windows per model call")
    p.add_argument("--resolve", action="store_true", help="also resolve toponyms (default: off, model work only)")
    p.add_argument("--work", default="/tmp/geobatch-bench-ray", help="scratch directory (corpus, outputs)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"), help="where NAME.json and NAME.md go")
    p.add_argument("--name", default="ray_vs_local", help="file name of the results (default ray_vs_local)")
    return p.parse_args(argv)


def pick_model(arg: str | None, work: Path) -> tuple[Path, str]:
    if arg and arg != "tiny":
        return Path(arg), "given"
    real = ROOT / "models" / "gmb-locations"
    if arg != "tiny" and (real / "model.onnx").is_file():
        return real, "models/gmb-locations"
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_onnx import build_tiny_model_dir

    return build_tiny_model_dir(work / "tiny-model"), "tiny test model (tests/tiny_onnx.py: one Gather, no transformer)"


def build_corpus(args, work: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = Path(args.corpus)
    if src.suffix == ".parquet":
        table = pq.read_table(src)
    else:
        with open(src, encoding="utf-8") as f:
            table = pa.Table.from_pylist([json.loads(line) for line in f if line.strip()])
    keep = [c for c in (args.id_column, args.text_column, args.spans_column) if c and c in table.schema.names]
    table = table.select(keep)
    n = table.num_rows
    reps = -(-args.docs // n)
    parts = []
    for k in range(reps):
        t = table
        ids = [f"{i}#{k}" for i in (t.column(args.id_column).to_pylist() if args.id_column in keep else range(n))]
        t = t.drop_columns([args.id_column]) if args.id_column in keep else t
        parts.append(t.add_column(0, args.id_column or "id", pa.array(ids, pa.string())))
    corpus = pa.concat_tables(parts).slice(0, args.docs)
    path = work / f"corpus-{args.docs}.parquet"
    pq.write_table(corpus, path, row_group_size=500)
    return path


def config_for(args, model: Path, corpus: Path, out: Path, threads):
    from geobatch.engines import RunConfig
    from geobatch.pipeline import PipelineOptions

    return RunConfig(model=str(model), inputs=[str(corpus)], output=str(out), overwrite=True, quiet=True,
                     resolve=args.resolve, chunk_size=args.chunk_size,
                     pipeline=PipelineOptions(text_column=args.text_column, id_column=args.id_column or None,
                                              spans_column=args.spans_column, batch_size=args.batch_size, threads=threads))


def pipeline_seconds(out: Path) -> float:
    m = json.loads((out / "manifest.json").read_text())
    return sum(u["stats"]["total_s"] for u in m["units"].values())


def compare(a: Path, b: Path) -> dict:
    """Same rows in every table; confidences within 1e-5 (batch composition differs between engines)."""
    import pyarrow.parquet as pq

    result = {}
    for table in ("docs", "tokens", "spans"):
        ta = sorted(pq.read_table(a / table).to_pylist(), key=lambda r: (r["doc_id"], r.get("word_index", r.get("span_index", 0))))
        tb = sorted(pq.read_table(b / table).to_pylist(), key=lambda r: (r["doc_id"], r.get("word_index", r.get("span_index", 0))))
        diff, same = 0.0, len(ta) == len(tb)
        for ra, rb in zip(ta, tb):
            for k, v in ra.items():
                if k.startswith("confidence") and v is not None and rb[k] is not None:
                    diff = max(diff, abs(v - rb[k]))
                elif rb[k] != v:
                    same = False
        result[table] = {"rows": len(ta), "same_rows": same and diff <= 1e-5, "max_confidence_diff": diff}
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    result["same_units"] = sorted(ma["units"]) == sorted(mb["units"])
    if (a / "metrics.json").exists():
        result["same_metrics"] = json.loads((a / "metrics.json").read_text()) == json.loads((b / "metrics.json").read_text())
    return result


def run_one(name, fn, out: Path) -> dict:
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    summary = fn()
    call_s = time.perf_counter() - t0
    m = summary.manifest
    row = {
        "run": name, "docs": m["docs_this_session"], "wall_s": m["wall_time_s"], "call_s": call_s,
        "docs_per_s": m["docs_per_s"], "real_tokens_per_s": m["real_tokens_per_s"], "provider": m["provider"],
        "pipeline_s": pipeline_seconds(out), "load_before": load0, "load_after": os.getloadavg()[0],
    }
    if "ray" in m:
        r = m["ray"]
        actors = r["actors"].values()
        row["ray"] = {
            "startup_s": r["startup_s"], "first_piece_s": r["first_piece_s"], "execution_s": r["execution_s"],
            "commit_s": r["commit_s"], "actors_used": len(r["actors"]), "actor_start_delay_s": r["actor_start_delay_s"],
            "actor_init_s": [round(a["init_s"], 3) for a in actors],
            "process_s": [round(a["process_s"], 3) for a in actors],
            "serialize_s": sum(a["serialize_s"] for a in actors),
            "rows_per_actor": [a["rows"] for a in actors],
            "shutdown_s": call_s - m["wall_time_s"],
        }
    print(f"  {name}: {row['docs']} docs in {row['wall_s']:.1f} s -> {row['docs_per_s']:.1f} docs/s", file=sys.stderr, flush=True)
    return row


def markdown(report: dict) -> str:
    e = report["environment"]
    lines = [
        "# Ray engine vs local engine (bench/ray_vs_local.py)", "",
        f"Command: `{report['command']}`  ",
        f"Corpus: {report['corpus']['docs']} docs ({report['corpus']['source']} repeated), chunk {report['settings']['chunk_size']}, "
        f"batch {report['settings']['batch_size']}, resolve {report['settings']['resolve']}.  ",
        f"Model: {report['model']['kind']} ({report['model']['path']}).  ",
        f"Machine: {e['cpus']} CPUs, {e['platform']}, Python {e['python']}, ray {e['ray']}, onnxruntime {e['onnxruntime']}; "
        f"load average {e['load_start']:.1f} at start" + (": **other jobs shared these cores**, so absolute figures are noisy." if e["load_start"] >= 1.0
                                                          else " (quiet)."), "",
        "| run | docs | wall s | docs/s | Pipeline.process s (sum) | vs local 1 thread |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = report["runs"][0]["docs_per_s"]
    for r in report["runs"]:
        lines.append(f"| {r['run']} | {r['docs']} | {r['wall_s']:.1f} | {r['docs_per_s']:.1f} | {r['pipeline_s']:.1f} | "
                     f"{r['docs_per_s'] / base:.2f}x |")
    lines += ["", "Where the Ray time goes (seconds). *Work* is the busiest actor's Pipeline.process + IPC serialisation; "
              "*overhead* = wall - work. Startup is sequential: ray.init, then (from the start of execution) the actor "
              "processes reach our code, then each builds its Pipeline (ONNX session, tokenizer). *Other* is what is left: "
              "reading and numbering before the first batch, waiting on the slowest actor at the end, the last commit. "
              "The driver's commits (deserialise + write Parquet) mostly overlap the work. Shutdown comes after wall.", "",
              "| run | wall | work | overhead | ray.init | actors ready after (each) | Pipeline init (each) | other | driver commit | IPC serialize | rows per actor | shutdown |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["runs"]:
        if "ray" not in r:
            continue
        x = r["ray"]
        work = max(p + x["serialize_s"] / len(x["process_s"]) for p in x["process_s"])
        overhead = r["wall_s"] - work
        startup = x["startup_s"] + max(x["actor_start_delay_s"]) + max(x["actor_init_s"])
        lines.append(f"| {r['run']} | {r['wall_s']:.1f} | {work:.1f} | {overhead:.1f} | {x['startup_s']:.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in x['actor_start_delay_s'])} | {', '.join(f'{v:.1f}' for v in x['actor_init_s'])} | "
                     f"{overhead - startup:.1f} | {x['commit_s']:.2f} | {x['serialize_s']:.2f} | "
                     f"{', '.join(map(str, x['rows_per_actor']))} | {x['shutdown_s']:.1f} |")
    lines += ["", "Load average (1 min) before/after each run: " + "; ".join(
        f"{r['run']} {r['load_before']:.1f}/{r['load_after']:.1f}" for r in report["runs"])]
    lines += ["", "Parity with the local engine (1 thread):", ""]
    for name, c in report["parity"].items():
        lines.append(f"- {name}: " + ", ".join(f"{t} {c[t]['rows']} rows same={c[t]['same_rows']} (max conf diff {c[t]['max_confidence_diff']:.1e})"
                                              for t in ("docs", "tokens", "spans"))
                     + f", units same={c['same_units']}" + (f", metrics same={c['same_metrics']}" if "same_metrics" in c else ""))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from geobatch.engines.local import run_local
    from geobatch.engines.ray import RayOptions, run_ray

    model, kind = pick_model(args.model, work)
    corpus = build_corpus(args, work)
    print(f"corpus {corpus} ({args.docs} docs), model {model} ({kind})", file=sys.stderr)
    import onnxruntime
    import ray

    report = {
        "command": " ".join(["python", "bench/ray_vs_local.py", *(argv if argv is not None else sys.argv[1:])]),
        "environment": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "ray": ray.__version__, "onnxruntime": onnxruntime.__version__, "load_start": os.getloadavg()[0]},
        "model": {"path": str(model), "kind": kind, "onnx_bytes": (model / "model.onnx").stat().st_size},
        "corpus": {"source": args.corpus, "docs": args.docs, "path": str(corpus)},
        "settings": {"chunk_size": args.chunk_size, "batch_size": args.batch_size, "resolve": args.resolve},
        "runs": [], "parity": {},
    }
    outs = {}
    plan = [("local, 1 ORT thread", lambda o: run_local(config_for(args, model, corpus, o, 1))),
            ("local, ORT default threads", lambda o: run_local(config_for(args, model, corpus, o, None)))]
    for w in (int(x) for x in args.workers.split(",")):
        plan.append((f"ray, {w} worker{'s' if w > 1 else ''} x 1 thread",
                     lambda o, w=w: run_ray(config_for(args, model, corpus, o, 1), RayOptions(workers=w))))
    for k, (name, fn) in enumerate(plan):
        out = work / f"out-{k}"
        outs[name] = out
        report["runs"].append(run_one(name, lambda: fn(out), out))
    first = plan[0][0]
    for name, _ in plan[1:]:
        report["parity"][name] = compare(outs[first], outs[name])
    (out_dir / f"{args.name}.json").write_text(json.dumps(report, indent=1))
    (out_dir / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
