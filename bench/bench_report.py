"""Derived figures, the issue's targets, and the Markdown table of one bench run."""

from __future__ import annotations

from geobatch.model.variants import MAX_F1_DROP_POINTS, SPEED_TIE  # the CPU-default rule's limits
TARGETS = {
    "int8_vs_tf": 4.0, "vs_spacy_chars": 2.0, "fp32_roofline_share": 0.80, "int8_f1_drop_points": 0.5,
    "outside_inference_share": 0.15, "padding": 0.10,
}
INFER_STAGE = "infer"


def _entity(metrics: dict | None) -> dict:
    if not metrics:
        return {"location_f1": None, "location": None, "per_label": {}, "micro_f1": None}
    e = metrics["entity_level"]
    return {
        "location_f1": e["location"]["f1"], "location": {k: e["location"][k] for k in ("precision", "recall", "f1", "support")},
        "per_label": {k: {m: v[m] for m in ("precision", "recall", "f1", "support")} for k, v in e["per_label"].items()},
        "micro_f1": e["micro"]["f1"],
    }


def _variant(v: dict, runs: list[dict], facts: dict, flops: dict, roof_best: float) -> dict:
    best = max(runs, key=lambda r: r["docs_per_s"])
    wall = best["wall_s"]
    stages = dict(best["stage_seconds"])
    stages["other"] = max(0.0, wall - sum(stages.values()))  # opening OUT_DIR, manifest, metrics merge, duplicate-id check
    infer = stages.get(INFER_STAGE, 0.0)
    per_tok = flops.get("per_real_token")
    out = {
        "kind": v["kind"], "steps": v.get("steps", []), "model_dir": best["model_dir"], "provider": best["provider"],
        "docs": best["docs"], "wall_s": wall, "docs_per_s": best["docs_per_s"], "docs_per_s_all_runs": [r["docs_per_s"] for r in runs],
        "docs_per_s_median": sorted(r["docs_per_s"] for r in runs)[len(runs) // 2],
        "real_tokens_per_s": best["real_tokens_per_s"], "infer_real_tokens_per_s": best["real_tokens"] / infer if infer else None,
        "chars_per_s": facts["chars"] / wall, "padding_fraction": best["padding_fraction"],
        "outside_inference_share": (wall - infer) / wall, "stage_share": {k: s / wall for k, s in stages.items()},
        "stage_seconds": stages, "peak_rss_mib": best["peak_rss_mib"], "peak_rss_mib_max_over_runs": max(r["peak_rss_mib"] for r in runs),
        "rss_after_load_mib": best["rss_after_load_mib"], "model_load_s": best["model_load_s"],
        "loadavg_at_start": best["loadavg_at_start"], "status": best["status"], "parquet_bytes": best["parquet_bytes"],
        **_entity(best["metrics"]),
        "fused_operators": v.get("fused_operators"), "quantization": v.get("quantization"), "registered": v.get("registered", False),
    }
    if per_tok is not None:  # 0 for a graph without weight MatMuls (the tiny test model)
        out["gflops_end_to_end"] = per_tok * best["real_tokens_per_s"] / 1e9
        out["gflops_model_calls"] = per_tok * out["infer_real_tokens_per_s"] / 1e9 if infer else None
        out["roofline_share_end_to_end"] = out["gflops_end_to_end"] / roof_best
        out["roofline_share_model_calls"] = out["gflops_model_calls"] / roof_best if infer else None
    return out


def _is_int8(v: dict) -> bool:
    return "quantize_int8" in (v.get("steps") or [])


def assemble(*, name, args, started, machine, facts, plan, runs, spacy, rooflines, flops) -> dict:
    roof_best = max(r["best_gflops"] for r in rooflines)
    variants = {v["name"]: _variant(v, runs[v["name"]], facts, flops, roof_best) for v in plan}
    tf = variants.get("tf")
    fp32 = variants.get("fp32")
    for v in variants.values():
        v["docs_per_s_vs_tf"] = v["docs_per_s"] / tf["docs_per_s"] if tf else None
        if fp32 and v["location_f1"] is not None and fp32["location_f1"] is not None:
            v["location_f1_delta_points"] = 100 * (v["location_f1"] - fp32["location_f1"])
            v["micro_f1_delta_points"] = 100 * (v["micro_f1"] - fp32["micro_f1"])
    sp = {k: {"chars_per_s": r["chars_per_s"], "docs_per_s": r["docs_per_s"], "seconds": r["seconds"], "pipes": r["pipes"],
              "peak_rss_mib": r["peak_rss_mib"], "model": r["spacy_model"], "loadavg_at_start": r["loadavg_at_start"],
              **_entity(r["metrics"])} for k, r in spacy.items()}
    for v in variants.values():
        v["chars_per_s_vs_spacy"] = {k: v["chars_per_s"] / s["chars_per_s"] for k, s in sp.items()}
    default = _default(variants)
    result = {
        "corpus": name, "input": args["input"], "started": started, "machine": machine, "facts": facts,
        "settings": {k: args[k] for k in ("batch_size", "chunk_size", "threads", "repeats", "resolve", "location_labels")},
        "rooflines": rooflines, "roofline_best_gflops": roof_best, "flops": flops, "variants": variants, "spacy": sp,
        "cpu_default_by_rule": default,
    }
    result["targets"] = targets(result)
    return result


def _default(variants: dict) -> str | None:
    """This run's answer to the CPU-default rule (geobatch.model.variants.choose_cpu_default on this corpus alone):
    the fastest ONNX variant within 0.5 location-F1 points of fp32, speeds within SPEED_TIE of the fastest
    tying and the better F1 winning among them."""
    ok = [n for n, v in variants.items() if v["kind"] == "onnx" and v.get("location_f1_delta_points") is not None
          and v["location_f1_delta_points"] >= -MAX_F1_DROP_POINTS]
    if not ok:
        return None
    top = max(variants[n]["docs_per_s"] for n in ok)
    tied = [n for n in ok if variants[n]["docs_per_s"] >= top * (1 - SPEED_TIE)]
    return max(tied, key=lambda n: (variants[n]["location_f1_delta_points"], variants[n]["docs_per_s"]))


def targets(r: dict) -> list[dict]:
    vs = r["variants"]
    out = []

    def add(what, value, goal, reached, note=""):
        out.append({"target": what, "value": value, "goal": goal, "reached": bool(reached), "note": note})

    int8 = [n for n, v in vs.items() if _is_int8(v)]
    fastest_int8 = max(int8, key=lambda n: vs[n]["docs_per_s"]) if int8 else None
    if fastest_int8 and vs.get("tf"):
        x = vs[fastest_int8]["docs_per_s_vs_tf"]
        add("ONNX int8 end to end vs TensorFlow predict (docs/s)", round(x, 2), ">= 4x", x >= TARGETS["int8_vs_tf"], fastest_int8)
    d = r["cpu_default_by_rule"]
    if d and r["spacy"].get("spacy_sm"):
        x, sp = vs[d]["chars_per_s_vs_spacy"]["spacy_sm"], r["spacy"]["spacy_sm"]
        higher = (vs[d]["location_f1"] or 0) > (sp["location_f1"] or 0)
        add("CPU default vs spaCy small, chars/s (full pipeline)", round(x, 2), ">= 2x, higher location F1",
            x >= TARGETS["vs_spacy_chars"] and higher,
            f"{d}: location F1 {vs[d]['location_f1']:.4f} vs spaCy {sp['location_f1']:.4f}")
        if r["spacy"].get("spacy_sm_ner_only"):
            y = vs[d]["chars_per_s_vs_spacy"]["spacy_sm_ner_only"]
            add("CPU default vs spaCy small, chars/s (NER only)", round(y, 2), "(for reference)", y >= TARGETS["vs_spacy_chars"] and higher)
    if vs.get("fp32") and vs["fp32"].get("roofline_share_model_calls") is not None:
        x = vs["fp32"]["roofline_share_model_calls"]
        add("fp32 GFLOP/s over the model calls / ORT MatMul roofline", round(x, 3), ">= 0.80", x >= TARGETS["fp32_roofline_share"],
            f"end to end: {vs['fp32']['roofline_share_end_to_end']:.3f}")
    for n, v in vs.items():
        if v.get("fused_operators") is not None and "fuse" in v["steps"]:
            total = sum(v["fused_operators"].values())
            add(f"fused-operator count ({n})", v["fused_operators"], "> 0", total > 0)
    for n in int8:
        x = vs[n].get("location_f1_delta_points")
        if x is not None:
            add(f"int8 location-F1 change vs fp32 ({n}), points", round(x, 3), ">= -0.5", x >= -TARGETS["int8_f1_drop_points"],
                f"micro F1 change {vs[n]['micro_f1_delta_points']:+.3f}")
    if d:
        x = vs[d]["outside_inference_share"]
        add(f"share of wall time outside the model calls ({d})", round(x, 3), "<= 0.15", x <= TARGETS["outside_inference_share"])
    any_v = vs.get("fp32") or next(iter(vs.values()))
    add("padding fraction", round(any_v["padding_fraction"], 4), "<= 0.10", any_v["padding_fraction"] <= TARGETS["padding"])
    return out


def _f(x, fmt="{:,.1f}"):
    return "–" if x is None else fmt.format(x)


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        f"# bench: {r['corpus']}",
        "",
        f"{r['facts']['documents']:,} documents ({r['facts']['chars']:,} chars, {r['facts']['words']:,} words) from `{r['input']}`; "
        f"started {r['started']}.",
        f"Machine: {m['cpu']}, {m['cores']} cores ({', '.join(m['simd'])}), {m['memory_gib']} GiB; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in m['loadavg_at_start'])} (1/5/15 min), at end "
        f"{' / '.join(f'{x:.2f}' for x in m.get('loadavg_at_end', []))}. onnxruntime {m['versions'].get('onnxruntime-gpu') or m['versions'].get('onnxruntime')}, "
        f"tensorflow {m['versions'].get('tensorflow', '–')}, spaCy {m['versions'].get('spacy', '–')}.",
        f"Settings: batch {r['settings']['batch_size']}, chunk {r['settings']['chunk_size']}, {r['settings']['threads']} threads, "
        f"resolution {'on' if r['settings']['resolve'] else 'off'}, {r['settings']['repeats']} timed run(s) per variant (fastest shown). "
        "Every variant: `geobatch run`'s local engine, read -> Parquet, in its own process (peak RSS = that process's).",
        f"Roofline: one fp32 MatMul through ONNX Runtime, best {r['roofline_best_gflops']:.1f} GFLOP/s "
        "(each measurement: " + ", ".join(f"{x['best_gflops']:.1f}" for x in r["rooflines"]) + "). "
        + (f"FLOPs per real token {r['flops']['per_real_token'] / 1e6:.2f} M (mean window {r['flops']['mean_window_tokens']:.1f} tokens)."
           if r["flops"] else ""),
        "",
        "| variant | docs/s | real tok/s | x TF | chars/s | padding | outside model calls | peak RSS MiB | location F1 | Δ F1 pts | per-label F1 | GFLOP/s e2e / calls | roofline (calls) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n, v in r["variants"].items():
        # gold spans without a type (GeoVirus) all count as "location": per-label F1 says nothing there
        per = ", ".join(f"{k} {x['f1']:.3f}" for k, x in v["per_label"].items() if x["support"] and k != "location") or "n/a (untyped gold)"
        lines.append(
            f"| {n} | {_f(v['docs_per_s'])} | {_f(v['real_tokens_per_s'], '{:,.0f}')} | {_f(v['docs_per_s_vs_tf'], '{:.2f}')} | "
            f"{_f(v['chars_per_s'], '{:,.0f}')} | {v['padding_fraction']:.1%} | {v['outside_inference_share']:.1%} | "
            f"{v['peak_rss_mib']:,.0f} | {_f(v['location_f1'], '{:.4f}')} | {_f(v.get('location_f1_delta_points'), '{:+.2f}')} | {per} | "
            f"{_f(v.get('gflops_end_to_end'))} / {_f(v.get('gflops_model_calls'))} | {_f(v.get('roofline_share_model_calls'), '{:.0%}')} |")
    lines += ["", "Where the wall time goes (share of each variant's wall time):", "",
              "| variant | " + " | ".join(next(iter(r["variants"].values()))["stage_share"]) + " |",
              "| --- |" + " --- |" * len(next(iter(r["variants"].values()))["stage_share"])]
    for n, v in r["variants"].items():
        lines.append(f"| {n} | " + " | ".join(f"{s:.1%}" for s in v["stage_share"].values()) + " |")
    if r["spacy"]:
        lines += ["", "spaCy small (GPE/LOC/FAC as locations; same texts, same word split and gold as geobatch):", "",
                  "| pipeline | chars/s | docs/s | location P / R / F1 | peak RSS MiB |", "| --- | --- | --- | --- | --- |"]
        for n, s in r["spacy"].items():
            loc = s["location"] or {}
            lines.append(f"| {n} ({', '.join(s['pipes'])}) | {s['chars_per_s']:,.0f} | {s['docs_per_s']:,.1f} | "
                         f"{loc.get('precision', 0):.4f} / {loc.get('recall', 0):.4f} / {loc.get('f1', 0):.4f} | {s['peak_rss_mib']:,.0f} |")
    fused = {n: v["fused_operators"] for n, v in r["variants"].items() if v.get("fused_operators")}
    if fused:
        lines += ["", "Fused operators: " + "; ".join(f"{n}: " + ", ".join(f"{k} {c}" for k, c in f.items()) for n, f in fused.items())]
    lines += ["", f"CPU default by the rule (fastest within {MAX_F1_DROP_POINTS} location-F1 points of fp32; speeds within "
              f"{SPEED_TIE:.0%} of the fastest tie, the better F1 wins) on this corpus alone: "
              f"**{r['cpu_default_by_rule']}**", "", "| target | value | goal | reached | note |", "| --- | --- | --- | --- | --- |"]
    for t in r["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {t['goal']} | {'yes' if t['reached'] else '**no**'} | {t['note']} |")
    return "\n".join(lines) + "\n"
