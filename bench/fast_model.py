"""The fast model's variants next to the full-depth model and spaCy sm: speed, memory and exact-span F1.

    python bench/fast_model.py --model full=models/geoparse-eval --model k3=models/fast-k3-d \\
        [--model k2=...] [--variants fp32,int8] [--data ../shared/data] [--repeats 2]

Sets (never trained or selected on; written under --work, not into the project):
  GeoVirus held-back, TUD-Loc-2013 validation ("news"), and GMB test as raw text (bench/recognition.py
  builds the same sets: training/spec.py's held-back documents, whole TUD validation, GMB test sentences
  detokenized).
For every model x variant x set, in a process of its own (bench/bench_workers.py): `geobatch run`'s
local engine, read -> Parquet, no resolution, all cores, after a warm-up; chars/s and real
(non-padding) tokens/s over the run's wall time, and the process's peak RSS. Then spaCy
en_core_web_sm (GPE/LOC/FAC) on the same texts, same process protocol. Exact-span F1 is scored on
character spans for both (bench/recognition.py's `score`: whitespace trimmed, same start and end);
a model's demonym type counts as a place on GMB only (GMB's convention), as in bench/recognition.py.
"news" rows add GeoVirus held-back and TUD validation up (characters over seconds, spans pooled).
Repeats interleave every run; the fastest of each is kept. A missing int8 variant is built first
(`geobatch optimize MODEL --fuse --quantize int8 --per-channel --variant int8`).
Writes OUT/fast_model.json and OUT/fast_model.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench import machine, run_worker
from common import HERE, ROOT, doc_parser, write_jsonl
from recognition import CORPORA, geobatch_spans, gmb_raw_documents, gold_spans, held_back_documents, score

from geobatch.labels import place_types

SETS = ("GeoVirus held-back", "TUD-Loc-2013 validation", "GMB test (raw text)")
NEWS = SETS[:2]


def write_sets(data: Path, work: Path) -> dict[str, tuple[Path, list[dict]]]:
    (work / "sets").mkdir(parents=True, exist_ok=True)
    out = {}
    for name, rel, rule in CORPORA:
        if name in SETS:
            out[name] = (work / "sets" / (Path(rel).stem + ".eval.jsonl"), held_back_documents(data / rel, rule))
    out[SETS[2]] = (work / "sets" / "gmb-test.raw.jsonl", gmb_raw_documents(data / "gmb" / "test.csv"))
    for path, docs in out.values():
        write_jsonl(path, docs)
    return out


def ensure_int8(model_dir: Path) -> None:
    """Per channel: per tensor keeps only 98.4 % of the recommended model's token labels (below
    optimize's 99 % floor); per channel keeps 99.3 %."""
    if not (model_dir / "variants" / "int8").is_dir():
        proc = subprocess.run([sys.executable, "-m", "geobatch.cli", "optimize", str(model_dir), "--fuse", "--quantize", "int8",
                               "--per-channel", "--variant", "int8"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"cannot build the int8 variant of {model_dir}: {proc.stderr.strip().splitlines()[-1]}")


def encoder_layers(model_dir: Path) -> int:
    """Encoder layers in the exported graph (tf2onnx keeps the Keras scopes in node names): older
    cards do not record the depth."""
    import re

    import onnx

    graph = onnx.load(str(model_dir / "model.onnx"), load_external_data=False).graph
    return len({m for node in graph.node for m in re.findall(r"layer_\._(\d+)/", node.name)})


def places_of(model_dir: Path, set_name: str) -> set[str]:
    card = json.loads((model_dir / "model_card.json").read_text(encoding="utf-8"))
    places = set(place_types(card["labels"]))
    dem = ((card.get("training") or {}).get("spec") or {}).get("demonym_type")
    return places | {dem} if dem and set_name.startswith("GMB") else places


def main(argv=None) -> int:
    p = doc_parser(__doc__)
    p.add_argument("--model", action="append", required=True, metavar="NAME=MODEL_DIR", help="a model to time (repeatable)")
    p.add_argument("--variants", default="fp32,int8", help="comma list of fp32 (the exported graph) and card variants (int8 built when missing)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--work", default=str(ROOT / "runs" / "fast_model"), help="sets and run outputs")
    p.add_argument("--out", default=str(HERE / "results"), help="where fast_model.json/.md go")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="ORT intra-op threads (default: all cores)")
    args = p.parse_args(argv)
    data, work = Path(args.data), Path(args.work)
    if not (data / "gmb" / "test.csv").exists():
        print(f"error: {data} has no gmb/test.csv; pass --data with the shared data directory", file=sys.stderr)
        return 2
    models = {}
    for m in args.model:
        name, sep, d = m.partition("=")
        if not sep or not (Path(d) / "model_card.json").exists():
            print(f"error: --model {m!r} is not NAME=MODEL_DIR", file=sys.stderr)
            return 2
        models[name] = Path(d).resolve()
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "int8" in variants:
        for d in models.values():
            ensure_int8(d)
    sets = write_sets(data, work)
    mach = machine()
    print(f"fast_model bench: {mach['cpu']}, {mach['cores']} cores, load {mach['loadavg_at_start'][0]:.2f}", file=sys.stderr)
    plan = [(m, v, s) for m in models for v in variants for s in SETS]
    best: dict[tuple, dict] = {}
    spacy: dict[str, dict] = {}
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    for r in range(args.repeats):
        for m, v, s in plan:
            path, _ = sets[s]
            model_dir = models[m]
            vdir = model_dir if v == "fp32" else model_dir / "variants" / v
            out = work / "runs" / f"{m}.{v}.{path.stem}"
            spec = {"model": str(model_dir), "input": str(path), "format": None, "text_column": "text", "id_column": "doc_id",
                    "spans_column": "toponyms", "batch_size": 32, "chunk_size": 1000, "threads": args.threads, "resolve": False,
                    "location_labels": sorted(places_of(model_dir, s)), "keep_output": str(out),
                    "variant": {"name": f"{m}-{v}", "kind": "onnx", "dir": str(vdir)}}
            res = run_worker(spec, work / "tmp")
            if (m, v, s) not in best or res["wall_s"] < best[(m, v, s)]["wall_s"]:
                best[(m, v, s)] = {**res, "scores": score({d["doc_id"]: gold_spans(d) for d in sets[s][1]},
                                                          geobatch_spans(out, places_of(model_dir, s)))}
            print(f"  [{r + 1}/{args.repeats}] {m:<8} {v:<5} {s:<24} {sum(len(d['text']) for d in sets[s][1]) / res['wall_s']:9.0f} chars/s "
                  f"{res['real_tokens_per_s']:8.0f} tok/s  RSS {res['peak_rss_mib']:5.0f} MiB  load {res['loadavg_at_start'][0]:.2f}", file=sys.stderr)
        for s in SETS:
            path, docs = sets[s]
            spans_out = work / "runs" / f"spacy.{path.stem}.json"
            spec = {"model": str(next(iter(models.values()))), "input": str(path), "format": None, "text_column": "text",
                    "id_column": "doc_id", "spans_column": "toponyms", "chunk_size": 1000, "spans_out": str(spans_out),
                    "variant": {"name": "spacy_sm", "kind": "spacy", "ner_only": False}}
            res = run_worker(spec, work / "tmp")
            if s not in spacy or res["seconds"] < spacy[s]["seconds"]:
                pred = {k: {tuple(x) for x in v} for k, v in json.loads(spans_out.read_text()).items()}
                from recognition import _trim

                texts = {d["doc_id"]: d["text"] for d in docs}
                pred = {k: {_trim(texts[k], a, b) for a, b in v} for k, v in pred.items()}
                spacy[s] = {**res, "scores": score({d["doc_id"]: gold_spans(d) for d in docs}, pred)}
            print(f"  [{r + 1}/{args.repeats}] spaCy sm         {s:<24} {spacy[s]['chars_per_s']:9.0f} chars/s", file=sys.stderr)

    rows = []

    def row(name, variant, s, seconds, chars, tokens, rss, scores, card_training=None):
        return {"model": name, "variant": variant, "set": s, "seconds": round(seconds, 3), "chars": chars,
                "chars_per_s": round(chars / seconds), "real_tokens_per_s": round(tokens / seconds) if tokens is not None else None,
                "peak_rss_mib": round(rss, 1), "exact": scores["exact"], "overlap": scores["overlap"], "gold": scores["gold"],
                "predicted": scores["predicted"], "training": card_training}

    def pooled(parts):
        tp = sum(round(x["exact"]["recall"] * x["gold"]) for x in parts)  # exact hits = recall x gold (recall has 4 digits: exact for < 5,000 spans)
        n_gold, n_pred = sum(x["gold"] for x in parts), sum(x["predicted"] for x in parts)
        pr, rc = tp / max(n_pred, 1), tp / max(n_gold, 1)
        return {"gold": n_gold, "predicted": n_pred, "exact": {"precision": round(pr, 4), "recall": round(rc, 4),
                "f1": round(2 * pr * rc / max(pr + rc, 1e-12), 4)}, "overlap": None}

    for m, d in models.items():
        card = json.loads((d / "model_card.json").read_text())
        tr = {k: (card.get("training") or {}).get(k) for k in ("layers", "base_layers", "layers_kept", "distillation", "best_epoch")}
        tr["layers"] = tr["layers"] or encoder_layers(d)
        for v in variants:
            parts = []
            for s in SETS:
                b = best[(m, v, s)]
                chars = sum(len(x["text"]) for x in sets[s][1])
                rows.append(row(m, v, s, b["wall_s"], chars, b["real_tokens"], b["peak_rss_mib"], b["scores"], tr))
                if s in NEWS:
                    parts.append(rows[-1])
            rows.append(row(m, v, "news", sum(x["seconds"] for x in parts), sum(x["chars"] for x in parts),
                            sum(x["real_tokens_per_s"] * x["seconds"] for x in parts), max(x["peak_rss_mib"] for x in parts), pooled(parts), tr))
    parts = []
    for s in SETS:
        b = spacy[s]
        rows.append(row("spaCy sm", b["spacy_model"], s, b["seconds"], b["chars"], None, b["peak_rss_mib"], b["scores"]))
        if s in NEWS:
            parts.append(rows[-1])
    rows.append(row("spaCy sm", spacy[SETS[0]]["spacy_model"], "news", sum(x["seconds"] for x in parts), sum(x["chars"] for x in parts),
                    None, max(x["peak_rss_mib"] for x in parts), pooled(parts)))
    result = {"started": mach, "repeats": args.repeats, "threads": args.threads, "rows": rows,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fast_model.json").write_text(json.dumps(result, indent=1) + "\n")
    spacy_news = next(r for r in rows if r["model"] == "spaCy sm" and r["set"] == "news")
    lines = [f"Machine: {mach['cpu']}, {mach['cores']} cores, load {mach['loadavg_at_start'][0]:.2f} at start; best of {args.repeats}.", "",
             "| model | layers | variant | set | chars/s | × spaCy | real tok/s | peak RSS MiB | exact P / R / F1 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        spacy_row = next(x for x in rows if x["model"] == "spaCy sm" and x["set"] == r["set"])
        tr = r["training"] or {}
        layers = f"{tr.get('layers')}{' (distilled)' if tr.get('distillation') else ''}" if tr else "—"
        e = r["exact"]
        lines.append(f"| {r['model']} | {layers} | {r['variant']} | {r['set']} | {r['chars_per_s']:,} | {r['chars_per_s'] / spacy_row['chars_per_s']:.2f} | "
                     f"{r['real_tokens_per_s'] or '—'} | {r['peak_rss_mib']:.0f} | {e['precision']:.3f} / {e['recall']:.3f} / **{e['f1']:.3f}** |")
    (out / "fast_model.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nspaCy sm news exact F1 {spacy_news['exact']['f1']:.3f}; wrote {out / 'fast_model.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
