#!/usr/bin/env python
"""Fit `resolution_score`'s calibration on dev gold spans; check it on held-out ones.

    python bench/calibrate_scores.py fit      # writes geobatch/resolve/calibration.json
    python bench/calibrate_scores.py check    # reliability tables (Markdown) of every corpus

fit: resolves the gold spans of the dev corpora (GeoWebNews, TUD-Loc-2013 train; --data, default
../shared/data/geoparsing) with the gazetteer only, and fits a logistic regression of "within 161 km
of the gold point" on each gazetteer match's features (geobatch/resolve/calibration.py), by Newton's
method with a small L2 penalty (LAMBDA) on every weight but the bias. Then resolves them again with
the focus fallback on and stores the share of focus placements within 161 km as their score.
TUD-Loc-2013 validation and GeoVirus are never read by `fit`.

check: the reliability table of each corpus (equal-width score bins: spans, mean score, share within
161 km, and the gap between the two), as docs/RESULTS.md shows them, plus the share right among spans
scoring >= 0.9. Prints no gold coordinates.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from geobatch.io.gold import gold_coordinates  # noqa: E402
from geobatch.io.readers.spans import DEFAULT_SKIP_TYPES, SpanStats, parse_spans  # noqa: E402
from geobatch.resolve import Resolver, calibration, haversine_km  # noqa: E402
from geobatch.resolve.geo import ACCURACY_KM, reliability_rows, score_bin  # noqa: E402

DEV = ("GeoWebNews", "TUD-Loc-2013-train")
HELD_OUT = ("TUD-Loc-2013-validation", "GeoVirus")
LAMBDA = 1.0


def gold_matches(path: Path, resolver: Resolver):
    """(features or None, resolved_by, score, hit) per gold span with coordinates."""
    out = []
    stats = SpanStats()
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            text = rec["text"]
            spans = parse_spans(rec["toponyms"], text, None, DEFAULT_SKIP_TYPES, stats, rec.get("doc_id"))
            results = resolver.resolve_document(text, [(s.start, s.end, s.label) for s in spans])
            for s, r, x in zip(spans, results, results.features):
                gold = gold_coordinates(s.extra)
                if gold is None:
                    continue
                if r is None:
                    out.append((None, None, None, False))
                    continue
                err = float(haversine_km(r["latitude"], r["longitude"], gold[0], gold[1]))
                out.append((x, r["resolved_by"], r["resolution_score"], err <= ACCURACY_KM))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float = LAMBDA, steps: int = 50) -> np.ndarray:
    """Weights of P(y=1) = sigmoid(x @ w), L2 penalty lam on all weights but the first (the bias)."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], lam)
    penalty[0] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (p - y) + penalty * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def reliability(rows) -> tuple[list[dict], dict]:
    """Reliability rows of the gazetteer matches, and the >= 0.9 summary."""
    counts: dict[int, list] = {}
    high = [0, 0]
    for _x, how, score, hit in rows:
        if how != "gazetteer":
            continue
        cell = counts.setdefault(score_bin(score), [0, 0, 0.0])
        cell[0] += 1
        cell[1] += hit
        cell[2] += score
        if score >= 0.9:
            high[0] += 1
            high[1] += hit
    return reliability_rows(counts), {"spans": high[0], "share_within_161km": high[1] / high[0] if high[0] else None}


def markdown(name: str, rows: list[dict], high: dict) -> str:
    lines = [f"**{name}** (gazetteer matches of gold spans)", "",
             "| score bin | spans | mean score | share within 161 km | gap |", "| --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lo, hi = r["bin"]
        gap = r["share_within_161km"] - r["mean_score"]
        flag = "" if r["spans"] < 50 else (" ✓" if abs(gap) <= 0.07 else " ✗")
        lines.append(f"| {lo:.1f}–{hi:.1f} | {r['spans']} | {r['mean_score']:.3f} | {r['share_within_161km']:.3f} | "
                     f"{gap:+.3f}{flag} |")
    share = "-" if high["share_within_161km"] is None else f"{high['share_within_161km']:.3f}"
    lines += ["", f"Scoring ≥ 0.9: {high['spans']} spans, {share} within 161 km. ✓/✗: bins of ≥ 50 spans "
                  f"within 0.07 of their mean score or not.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("fit", "check"))
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "geoparsing")
    args = ap.parse_args()
    missing = [c for c in (DEV if args.mode == "fit" else DEV + HELD_OUT) if not (args.data / f"{c}.jsonl").exists()]
    if missing:
        print(f"error: {', '.join(missing)} not found under {args.data}; pass --data DIR", file=sys.stderr)
        return 2
    resolver = Resolver.load()
    if args.mode == "check":
        for corpus in DEV + HELD_OUT:
            rows, high = reliability(gold_matches(args.data / f"{corpus}.jsonl", resolver))
            print(markdown(corpus + (" (dev: fitted on)" if corpus in DEV else " (held out)"), rows, high))
        return 0

    matches = [m for c in DEV for m in gold_matches(args.data / f"{c}.jsonl", resolver) if m[1] == "gazetteer"]
    x = np.array([m[0] for m in matches], dtype=np.float64)
    y = np.array([m[3] for m in matches], dtype=np.float64)
    w = fit_logistic(x, y)
    focus_resolver = Resolver(resolver.gaz, focus_fallback=True)
    focus = [m for c in DEV for m in gold_matches(args.data / f"{c}.jsonl", focus_resolver) if m[1] == "document_focus"]
    model = {
        "method": "logistic regression of within-161-km on calibration.FEATURE_NAMES (Newton, L2 "
                  f"{LAMBDA} on all but the bias); document_focus: share of focus placements within 161 km",
        "fitted_on": list(DEV), "gazetteer_spans": len(matches), "share_within_161km": float(y.mean()),
        "document_focus_spans": len(focus),
        "document_focus": round(sum(m[3] for m in focus) / len(focus), 4) if focus else None,
        "fitted_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "coefficients": {name: round(float(v), 6) for name, v in zip(calibration.FEATURE_NAMES, w)},
    }
    calibration.PATH.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    print(f"fitted on {len(matches)} gazetteer matches of {', '.join(DEV)} (share right {y.mean():.3f}); "
          f"document focus {model['document_focus']} over {len(focus)}; wrote {calibration.PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
