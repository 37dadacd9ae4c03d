#!/usr/bin/env python
"""Peak RSS of `geobatch run` on corpora of growing size: memory must not grow with the corpus.

Makes corpora of --sizes documents (default 10,000 and 100,000) by repeating --sample (ids made
unique, gold spans kept), writes them under --work (default /tmp/geobatch-rss), and runs
`geobatch run` on each in a subprocess of its own under `/usr/bin/time -v` (its "Maximum resident
set size" is the peak RSS) while psutil samples the RSS every --interval seconds, so the JSON also
shows whether memory climbs during the run. Passes when the largest corpus's peak is within
--tolerance (default 10 %) of the smallest's. Writes OUT/rss_scaling.json and .md.

    python bench/rss_scaling.py --model models/gmb-locations --sizes 10000,100000
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from common import HERE, ROOT, doc_parser


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR for `geobatch run --model`")
    p.add_argument("--variant", default="auto", help="`geobatch run --variant` (default auto: the card's CPU default)")
    p.add_argument("--sample", default=str(ROOT / "data" / "sample_corpus.parquet"), help="Parquet corpus to repeat")
    p.add_argument("--spans-column", default="spans", help="gold spans column of the sample ('' for none)")
    p.add_argument("--sizes", default="10000,100000", help="comma list of corpus sizes, documents")
    p.add_argument("--work", default="/tmp/geobatch-rss", help="where the corpora and outputs go (removed after, unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the corpora and outputs")
    p.add_argument("--run-args", default="--no-resolve", help="more `geobatch run` options, one string (default: --no-resolve)")
    p.add_argument("--interval", type=float, default=0.5, help="RSS sampling period, seconds")
    p.add_argument("--tolerance", type=float, default=0.10, help="allowed peak-RSS growth from the smallest to the largest corpus")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--name", default="rss_scaling", help="result file stem")
    return p.parse_args(argv)


def make_corpus(sample: str, n_docs: int, path: Path) -> Path:
    """n_docs rows: the sample repeated (ids '<copy>-<id>'), written in row groups of 10,000."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = pq.read_table(sample)
    ids = [str(x) for x in base.column("id").to_pylist()] if "id" in base.column_names else [str(i) for i in range(base.num_rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(str(path), base.schema) as w:
        copy, written = 0, 0
        while written < n_docs:
            take = min(base.num_rows, n_docs - written)
            t = base.slice(0, take)
            if "id" in t.column_names:
                t = t.set_column(t.column_names.index("id"), "id", pa.array([f"{copy}-{i}" for i in ids[:take]], pa.string()))
            w.write_table(t, row_group_size=10_000)
            written += take
            copy += 1
    return path


def run_measured(cmd: list[str], interval: float) -> dict:
    import psutil

    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    proc = psutil.Popen(timed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []  # (seconds, RSS MiB of the geobatch process tree, time's own few MiB included)
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree if p.is_running())
            samples.append((round(time.perf_counter() - t0, 2), round(rss / 2**20, 1)))
        except psutil.Error:
            pass
        time.sleep(interval)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if proc.returncode != 0:
        tail = "\n".join(l for l in err.splitlines() if not l.startswith("\t"))[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail}")
    peak_time = int(m.group(1)) / 1024 if m else None
    peak_sampled = max((s[1] for s in samples), default=None)
    return {"wall_s": wall, "peak_rss_mib": peak_time if peak_time is not None else peak_sampled,
            "peak_rss_mib_source": "/usr/bin/time -v" if peak_time is not None else "psutil samples",
            "peak_rss_mib_sampled": peak_sampled, "samples": samples, "summary": out.strip().splitlines()[:1]}


def quartile_rss(samples: list) -> list:
    """Largest sampled RSS in each quarter of the run: flat when memory does not grow."""
    if not samples:
        return []
    end = samples[-1][0] or 1.0
    return [max((r for t, r in samples if k * end / 4 <= t <= (k + 1) * end / 4), default=None) for k in range(4)]


def main(argv=None) -> int:
    args = parse_args(argv)
    from bench import machine  # bench/bench.py

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(args.work)
    geobatch = [sys.executable, "-m", "geobatch.cli"]
    mach = machine()
    rows = []
    try:
        for n in sizes:
            corpus = make_corpus(args.sample, n, work / f"corpus-{n}.parquet")
            out = work / f"out-{n}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [*geobatch, "run", "--model", args.model, "--variant", args.variant, "--input", str(corpus), "--output", str(out),
                   *(["--spans-column", args.spans_column] if args.spans_column else []), *args.run_args.split()]
            load = os.getloadavg()
            r = run_measured(cmd, args.interval)
            manifest = json.loads((out / "manifest.json").read_text())
            row = {"docs": n, "command": " ".join(cmd), "loadavg_at_start": load, **r, "rss_by_quarter_mib": quartile_rss(r["samples"]),
                   "docs_per_s": manifest.get("docs_per_s"), "model_sha256": manifest["job"]["model_sha256"],
                   "units": len(manifest["units"]), "manifest_bytes": (out / "manifest.json").stat().st_size}
            rows.append(row)
            print(f"{n:>9,} docs: peak RSS {row['peak_rss_mib']:.0f} MiB ({row['peak_rss_mib_source']}), "
                  f"by quarter {row['rss_by_quarter_mib']}, {row['wall_s']:.0f} s, {row['docs_per_s']:.0f} docs/s", file=sys.stderr)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    growth = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"] - 1
    result = {"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": mach, "model": args.model,
              "variant": args.variant, "sample": args.sample, "runs": rows, "growth": growth, "tolerance": args.tolerance,
              "within_tolerance": growth <= args.tolerance}
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    md = ["# peak RSS of `geobatch run` vs corpus size", "",
          f"Machine: {mach['cpu']}, {mach['cores']} cores, load average at start {mach['loadavg_at_start'][0]:.2f}. "
          f"Model {args.model} (--variant {args.variant}), corpus = {args.sample} repeated.", "",
          "| docs | peak RSS MiB | max RSS per quarter of the run, MiB | wall s | docs/s | units | manifest bytes | load at start |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        md.append(f"| {r['docs']:,} | {r['peak_rss_mib']:.0f} | {' / '.join('–' if q is None else f'{q:.0f}' for q in r['rss_by_quarter_mib'])} | "
                  f"{r['wall_s']:.0f} | {r['docs_per_s']:.0f} | {r['units']} | {r['manifest_bytes']:,} | {r['loadavg_at_start'][0]:.2f} |")
    md += ["", f"Growth from {rows[0]['docs']:,} to {rows[-1]['docs']:,} docs: {growth:+.1%} "
               f"({'within' if growth <= args.tolerance else 'beyond'} {args.tolerance:.0%}).", "",
           f"Command: `{rows[-1]['command']}`", ""]
    (out_dir / f"{args.name}.md").write_text("\n".join(md))
    print("\n".join(md))
    return 0 if growth <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
