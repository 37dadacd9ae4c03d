#!/usr/bin/env python
"""Why one table of country points cannot reach accuracy@161 km >= 0.85 on both GeoVirus and GeoWebNews.

Runs `geobatch resolve` on the gold spans of both corpora (--data, default ../shared/data/geoparsing),
takes the spans the resolver linked to a country, and for each country the point each corpus's gold
puts it at (the most common gold point of its mentions). GeoWebNews' gold follows GeoNames (the ids the
resolver outputs), GeoVirus' follows Wikipedia-like rounded points. It then rescores each corpus with
its country mentions moved to other points, everything else as resolved:

  as resolved       the landed country points
  other convention  each country at the point the *other* corpus's gold gives it (where it has one)
  own convention    each country at the point its own gold gives it: the most any country table can do
  fitted            per country, whichever of the two gold points (or their midpoint) hits more
                    mentions of both corpora together: what choosing points by looking at the test gold
                    would reach; reported to show the size of that lever, never used by geobatch

Writes OUT/country_points.json and .md (default bench/results). Prints no gold coordinates, only
distances and counts.

    python bench/country_points.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from common import HERE, ROOT, doc_parser

from geobatch.resolve import haversine_km

CORPORA = ("GeoVirus", "GeoWebNews")
HIT_KM = 161.0


def parse_args(argv=None):
    p = doc_parser(__doc__)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "geoparsing"),
                   help="folder holding GeoVirus.jsonl and GeoWebNews.jsonl")
    p.add_argument("--out", default=str(HERE / "results"), help="where country_points.json/.md go")
    p.add_argument("--top", type=int, default=15, help="countries listed in the table")
    return p.parse_args(argv)


def resolve_gold_spans(path: Path, out: Path) -> list[dict]:
    cmd = [sys.executable, "-m", "geobatch", "resolve", "--input", str(path), "--output", str(out),
           "--id-column", "doc_id", "--spans-column", "toponyms", "--quiet"]
    subprocess.run(cmd, check=True)
    cols = ["feature", "country_code", "latitude", "longitude", "gold_latitude", "gold_longitude"]
    return pq.read_table(out / "spans", columns=cols).to_pylist()


def _hit(point, row) -> bool:
    return point is not None and bool(haversine_km(point[0], point[1], row["gold_latitude"], row["gold_longitude"]) <= HIT_KM)


def score(rows: list[dict], country_points: dict | None = None) -> int:
    """Gold-located spans within 161 km; country mentions moved to country_points[cc] where given."""
    hits = 0
    for r in rows:
        point = None if r["latitude"] is None else (r["latitude"], r["longitude"])
        if country_points and r["feature"] == "country" and r["country_code"] in country_points:
            point = country_points[r["country_code"]]
        hits += _hit(point, r)
    return hits


def modal_points(rows: list[dict]) -> dict[str, tuple[float, float]]:
    by_cc: dict[str, Counter] = {}
    for r in rows:
        if r["feature"] == "country":
            by_cc.setdefault(r["country_code"], Counter())[(round(r["gold_latitude"], 2), round(r["gold_longitude"], 2))] += 1
    return {cc: c.most_common(1)[0][0] for cc, c in by_cc.items()}


def midpoint(a, b):
    # the great-circle midpoint: the point equally far from both
    la1, lo1, la2, lo2 = map(np.radians, (a[0], a[1], b[0], b[1]))
    x = np.cos(la1) * np.cos(lo1) + np.cos(la2) * np.cos(lo2)
    y = np.cos(la1) * np.sin(lo1) + np.cos(la2) * np.sin(lo2)
    z = np.sin(la1) + np.sin(la2)
    return float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))


def main(argv=None) -> int:
    args = parse_args(argv)
    data = Path(args.data)
    missing = [c for c in CORPORA if not (data / f"{c}.jsonl").is_file()]
    if missing:
        names = ", ".join(f"{c}.jsonl" for c in missing)
        print(f"error: {names} not found in {data}; pass --data FOLDER holding both corpora", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="geobatch-country-points-") as tmp:
        rows = {c: [r for r in resolve_gold_spans(data / f"{c}.jsonl", Path(tmp) / c) if r["gold_latitude"] is not None]
                for c in CORPORA}
    modal = {c: modal_points(rows[c]) for c in CORPORA}
    mentions: dict[str, dict[str, list[dict]]] = {c: {} for c in CORPORA}  # corpus -> country -> its mentions
    for c in CORPORA:
        for r in rows[c]:
            if r["feature"] == "country":
                mentions[c].setdefault(r["country_code"], []).append(r)
    # the landed point of each country (every mention of a country resolves to the same place)
    ours = {cc: (ms[0]["latitude"], ms[0]["longitude"]) for c in CORPORA for cc, ms in mentions[c].items()}
    other = dict(zip(CORPORA, reversed(CORPORA)))

    # per country, the candidate that hits most mentions of both corpora together
    fitted = {}
    for cc in set(modal[CORPORA[0]]) | set(modal[CORPORA[1]]):
        golds = [modal[c].get(cc) for c in CORPORA]
        cands = [p for p in (*golds, ours.get(cc)) if p]
        if all(golds):
            cands.append(midpoint(*golds))
        both = [r for c in CORPORA for r in mentions[c].get(cc, [])]
        fitted[cc] = max(cands, key=lambda p: sum(_hit(p, r) for r in both))

    result = {"machine": "any (no timing)", "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "hit_km": HIT_KM, "corpora": {}}
    for c in CORPORA:
        n = len(rows[c])
        n_country = sum(map(len, mentions[c].values()))
        scenarios = {"as resolved": score(rows[c]), "other convention": score(rows[c], modal[other[c]]),
                     "own convention": score(rows[c], modal[c]), "fitted": score(rows[c], fitted)}
        result["corpora"][c] = {"gold_located_spans": n, "country_mentions": n_country,
                                "accuracy": {k: round(v / n, 4) for k, v in scenarios.items()},
                                "hits": scenarios}

    table = []
    for cc in set(modal[CORPORA[0]]) & set(modal[CORPORA[1]]):
        a, b = modal[CORPORA[0]][cc], modal[CORPORA[1]][cc]
        table.append({"country": cc, "km_between_conventions": round(float(haversine_km(a[0], a[1], b[0], b[1]))),
                      "mentions": {c: len(mentions[c][cc]) for c in CORPORA},
                      "ours_hits": {c: sum(_hit(ours[cc], r) for r in mentions[c][cc]) for c in CORPORA}})
    table.sort(key=lambda t: -(t["mentions"][CORPORA[0]] + t["mentions"][CORPORA[1]]))
    result["countries_in_both"] = table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "country_points.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# Country points: two gold conventions", "",
             f"`python bench/country_points.py` ({result['when']}); accuracy@161 km over gold-located spans,",
             "unresolved spans count as misses; only country mentions move between the rows.", "",
             "| corpus | spans | country mentions | as resolved | other convention | own convention | fitted (not used) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for c, v in result["corpora"].items():
        a = v["accuracy"]
        lines.append(f"| {c} | {v['gold_located_spans']} | {v['country_mentions']} | {a['as resolved']:.3f} | "
                     f"{a['other convention']:.3f} | {a['own convention']:.3f} | {a['fitted']:.3f} |")
    lines += ["", f"Countries in both corpora, most mentioned first (km between the two corpora's points; "
              f"mentions and hits of the landed point per corpus, {CORPORA[0]} / {CORPORA[1]}):", "",
              "| country | km between | mentions | landed point hits |", "| --- | --- | --- | --- |"]
    for t in table[: args.top]:
        m, h = t["mentions"], t["ours_hits"]
        lines.append(f"| {t['country']} | {t['km_between_conventions']} | {m[CORPORA[0]]} / {m[CORPORA[1]]} | "
                     f"{h[CORPORA[0]]} / {h[CORPORA[1]]} |")
    (out / "country_points.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
