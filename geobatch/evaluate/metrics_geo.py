"""End-to-end geocoding score of `geobatch run`: recogniser + resolver against gold coordinates.

Per document, every gold span that carries coordinates (`geobatch.io.gold.gold_coordinates`) is matched to at most one
predicted *location* span (label among the location labels), one to one, in two passes:
  1. exact: a predicted span with the same start_char and end_char;
  2. overlap: for each gold span still unmatched, in text order, the still-unclaimed predicted span
     that shares the most characters with it (ties: the one that starts first); no shared character,
     no match.
A matched span is "located" when the resolver gave its predicted span coordinates (a gazetteer match
or the focus fallback), and its error is the great-circle distance (`geobatch.resolve.geo_errors_km`).

accuracy_at_161km is over ALL gold-located spans: a gold span the recogniser missed (unmatched) or
whose match the resolver left without coordinates counts as a miss. accuracy_at_161km_of_matched
isolates resolution (unresolved matches still miss), also split by how the span matched (exact /
overlap: a boundary error often changes the name looked up); _of_located is `geobatch resolve`'s ratio.

Partials stay small and add up exactly across chunks, Ray actors and resumed sessions: integer counts,
the error sum in whole metres, and the errors rounded to whole km in a counter (`error_km`), which
has at most ~20,000 keys (half the Earth's circumference) however large the corpus. The median is
read from that counter, so it is exact to within 0.5 km; the mean comes from the metre sum (exact to
within 0.5 m); hits within 161 km are counted from the unrounded distance.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from typing import Iterable, Mapping, Sequence


def match_spans(gold: Sequence[tuple[int, int]], pred: Sequence[tuple[int, int]]) -> list[tuple[int | None, str | None]]:
    """For each gold (start, end): (index into pred, "exact" | "overlap") or (None, None). One to one."""
    out: list[tuple[int | None, str | None]] = [(None, None)] * len(gold)
    claimed: set[int] = set()
    by_offsets: dict[tuple[int, int], list[int]] = {}
    for j, p in enumerate(pred):
        by_offsets.setdefault(tuple(p), []).append(j)
    for i, g in enumerate(gold):
        free = [j for j in by_offsets.get(tuple(g), ()) if j not in claimed]
        if free:
            out[i] = (free[0], "exact")
            claimed.add(free[0])
    # predicted spans by start (ties: input order); only those starting inside (gs - longest, ge) can
    # share a character with gold [gs, ge), so a long document is not scanned once per gold span
    order = sorted(range(len(pred)), key=lambda j: pred[j][0])
    starts = [pred[j][0] for j in order]
    longest = max((p[1] - p[0] for p in pred), default=0)
    for i in sorted((i for i in range(len(gold)) if out[i][0] is None), key=lambda i: (gold[i][0], gold[i][1])):
        gs, ge = gold[i]
        best, best_overlap = None, 0
        for j in order[bisect.bisect_right(starts, gs - longest):bisect.bisect_left(starts, ge)]:
            if j in claimed:
                continue
            shared = min(ge, pred[j][1]) - max(gs, pred[j][0])
            if shared > best_overlap:
                best, best_overlap = j, shared
        if best is not None:
            out[i] = (best, "overlap")
            claimed.add(best)
    return out


_COUNTS = ("gold", "exact", "overlap", "located", "hits", "hits_exact", "error_m_sum", "located_gazetteer", "hits_gazetteer")
_SCORE_UNITS = 10_000  # scores summed as integers of 1e-4, so partials add up exactly


class GeoMatchScore:
    """Mergeable partial of the end-to-end geo score; see the module docstring for every definition."""

    def __init__(self):
        self.gold = 0  # gold spans with coordinates
        self.exact = 0  # ... matched by exact offsets
        self.overlap = 0  # ... matched by overlap only
        self.located = 0  # matched spans whose prediction got coordinates
        self.hits = 0  # located spans within ACCURACY_KM of the gold point
        self.hits_exact = 0  # ... of them matched exactly (boundary errors show as a lower overlap rate)
        self.error_m_sum = 0  # whole metres: integers add exactly in any merge order
        self.error_km: Counter = Counter()  # round(error km) -> located spans
        self.located_gazetteer = 0  # located spans that the gazetteer resolved (not placed at a focus)
        self.hits_gazetteer = 0
        # reliability of resolution_score over gazetteer matches: score bin -> [spans, hits, score sum in 1e-4]
        self.reliability: dict[int, list[int]] = {}

    def add_document(self, gold_places: Sequence[tuple[int, int, float, float]], pred_spans: Sequence[Mapping],
                     resolved: Sequence[Mapping | None], location_labels: Iterable[str]) -> None:
        """gold_places: (start, end, lat, lon); pred_spans: the runner's spans (start_char, end_char, label);
        resolved: the resolver's result per predicted span (None or null coordinates: unresolved)."""
        from ..resolve.geo import ACCURACY_KM, geo_errors_km, score_bin  # numpy only; the resolver is loaded already

        labels = set(location_labels)
        keep = [j for j, s in enumerate(pred_spans) if s.get("label") in labels]
        matches = match_spans([(g[0], g[1]) for g in gold_places], [(pred_spans[j]["start_char"], pred_spans[j]["end_char"]) for j in keep])
        self.gold += len(gold_places)
        pairs = []  # (gold lat, gold lon, predicted lat, predicted lon, exact?, result) of located matches
        for (_, _, glat, glon), (k, kind) in zip(gold_places, matches):
            if k is None:
                continue
            if kind == "exact":
                self.exact += 1
            else:
                self.overlap += 1
            r = resolved[keep[k]] or {}
            lat, lon = r.get("latitude"), r.get("longitude")
            if lat is not None and lon is not None and not (math.isnan(lat) or math.isnan(lon)):
                pairs.append((glat, glon, lat, lon, kind == "exact", r))
        if not pairs:
            return
        glat, glon, plat, plon, exact, results = zip(*pairs)
        for e, is_exact, r in zip(geo_errors_km(plat, plon, glat, glon).tolist(), exact, results):
            if r.get("resolved_by") == "gazetteer":
                self.located_gazetteer += 1
                self.hits_gazetteer += e <= ACCURACY_KM
                score = r.get("resolution_score")
                if score is not None:
                    cell = self.reliability.setdefault(score_bin(score), [0, 0, 0])
                    cell[0] += 1
                    cell[1] += e <= ACCURACY_KM
                    cell[2] += round(score * _SCORE_UNITS)
            self.located += 1
            self.hits += e <= ACCURACY_KM
            self.hits_exact += is_exact and e <= ACCURACY_KM
            self.error_m_sum += round(e * 1000)
            self.error_km[round(e)] += 1

    def merge(self, other: "GeoMatchScore") -> "GeoMatchScore":
        for k in _COUNTS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.error_km.update(other.error_km)
        for b, cell in other.reliability.items():
            mine = self.reliability.setdefault(b, [0, 0, 0])
            for k in range(3):
                mine[k] += cell[k]
        return self

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in _COUNTS}, "error_km": [[k, n] for k, n in sorted(self.error_km.items())],
                "reliability": [[b, *cell] for b, cell in sorted(self.reliability.items())]}

    @classmethod
    def from_dict(cls, d: dict) -> "GeoMatchScore":
        s = cls()
        for k in _COUNTS:
            setattr(s, k, int(d.get(k, 0)))
        s.error_km = Counter({int(k): int(n) for k, n in d.get("error_km", [])})
        s.reliability = {int(b): [int(n), int(h), int(t)] for b, n, h, t in d.get("reliability", [])}
        return s

    def median_km(self) -> float | None:
        """Median of the km-rounded errors (np.median's convention: mean of the two middle values)."""
        n = sum(self.error_km.values())
        if not n:
            return None
        want = (n - 1) // 2, n // 2  # 0-based ranks of the middle value(s)
        found: list[int] = []
        seen = 0
        for km in sorted(self.error_km):
            seen += self.error_km[km]
            while len(found) < 2 and want[len(found)] < seen:
                found.append(km)
            if len(found) == 2:
                break
        return (found[0] + found[1]) / 2

    def report(self) -> dict:
        from ..resolve.geo import reliability_rows

        matched = self.exact + self.overlap
        n = self.gold
        return {
            "gold_located_spans": n,
            "matched": {"exact": self.exact, "overlap": self.overlap},
            "share_matched": matched / n if n else None,
            "located": self.located,  # matched spans whose predicted span got coordinates
            "share_matched_unresolved": (matched - self.located) / matched if matched else None,
            "accuracy_at_161km": self.hits / n if n else None,
            "accuracy_at_161km_of_matched": self.hits / matched if matched else None,
            "accuracy_at_161km_of_located": self.hits / self.located if self.located else None,
            # over matched spans the gazetteer resolved (focus placements left out)
            "accuracy_at_161km_of_resolved": self.hits_gazetteer / self.located_gazetteer if self.located_gazetteer else None,
            "reliability": reliability_rows({b: [n, h, t / _SCORE_UNITS] for b, (n, h, t) in self.reliability.items()}),
            "accuracy_at_161km_of_matched_by_match": {
                "exact": self.hits_exact / self.exact if self.exact else None,
                "overlap": (self.hits - self.hits_exact) / self.overlap if self.overlap else None,
            },
            "median_error_km": self.median_km(),
            "mean_error_km": self.error_m_sum / 1000 / self.located if self.located else None,
            "note": ("accuracy_at_161km is over all gold spans with coordinates: spans the recogniser missed and matched "
                     "spans left unresolved count as misses; _of_matched isolates resolution; error km are over located "
                     "matched spans, median from errors rounded to whole km; matching: exact offsets first, else the "
                     "unclaimed predicted location span overlapping most, one to one"),
        }


def format_geo(g: dict) -> list[str]:
    """Lines for the end-of-run table."""
    def pct(v):
        return "-" if v is None else f"{v:.4f}"

    def km(v):
        return "-" if v is None else f"{v:,.1f}"

    m = g["matched"]
    return [
        f"geo (gold spans with coordinates: {g['gold_located_spans']}; matched {m['exact'] + m['overlap']} = {m['exact']} exact "
        f"+ {m['overlap']} overlap, share {pct(g['share_matched'])}; matched left unresolved {pct(g['share_matched_unresolved'])})",
        f"  accuracy@161km  all gold {pct(g['accuracy_at_161km'])}  matched {pct(g['accuracy_at_161km_of_matched'])}  "
        f"located {pct(g['accuracy_at_161km_of_located'])}  gazetteer-resolved {pct(g.get('accuracy_at_161km_of_resolved'))}  (matched exact {pct(g['accuracy_at_161km_of_matched_by_match']['exact'])}, "
        f"overlap {pct(g['accuracy_at_161km_of_matched_by_match']['overlap'])})",
        f"  error km        median {km(g['median_error_km'])}  mean {km(g['mean_error_km'])}  over {g['located']} located",
        "  'all gold' counts gold spans the recogniser missed, or that stayed unresolved, as misses",
    ]
