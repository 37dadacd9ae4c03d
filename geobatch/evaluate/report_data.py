"""The reading half of `geobatch report`: a run's OUT_DIR -> `ReportData` counters.

Reading is streamed and aggregated: `spans/` and `tokens/` are scanned in record batches through
pyarrow.dataset, keeping counters only, so a report over a corpus far larger than memory is fine.
`geobatch.evaluate.report` renders what this collects.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from ..errors import GeobatchError, first_line
from ..labels import OUTSIDE, split_tag

TABLES = ("docs", "tokens", "spans")
HIST_BINS = 20
BATCH_ROWS = 65_536


@dataclass
class PlaceStats:
    geonameid: int | None  # None: a gazetteer place without a GeoNames id (Natural Earth water, landforms)
    name: str
    feature: str | None
    country_code: str | None
    latitude: float | None
    longitude: float | None
    count: int = 0
    surfaces: Counter = field(default_factory=Counter)
    score_sum: float = 0.0


@dataclass
class ReportData:
    out_dir: Path
    manifest: dict | None = None
    metrics: dict | None = None
    doc_status: Counter = field(default_factory=Counter)
    doc_totals: Counter = field(default_factory=Counter)
    n_spans: int = 0
    label_counts: Counter = field(default_factory=Counter)
    label_resolved: Counter = field(default_factory=Counter)
    label_conf_sum: Counter = field(default_factory=Counter)
    label_conf_n: Counter = field(default_factory=Counter)
    focus_located: int = 0  # spans with coordinates but no gazetteer entry (placed at the document's focus)
    # gold-scored gazetteer matches by score bin -> [spans, within 161 km, score sum] (spans/ with error_km)
    reliability: dict = field(default_factory=dict)
    conf_hist: np.ndarray = field(default_factory=lambda: np.zeros(HIST_BINS, dtype=np.int64))
    places: dict = field(default_factory=dict)  # geonameid (or name and point) -> PlaceStats
    unresolved: Counter = field(default_factory=Counter)
    tag_counts: Counter = field(default_factory=Counter)
    confusion: dict | None = None  # {"labels": [...], "matrix": [[...]], "source": str}




def _unreadable(out: Path, name: str, e: Exception) -> GeobatchError:
    return GeobatchError(f"{out / name}/ could not be read ({first_line(e)})",
                         "a part file there is damaged: rerun the geobatch command that wrote OUT_DIR, or remove that file")


def _dataset(out: Path, name: str) -> ds.Dataset | None:
    d = out / name
    if not d.is_dir() or not any(d.rglob("*.parquet")):
        return None
    try:
        return ds.dataset(d, format="parquet")
    except (pa.ArrowException, OSError) as e:  # a truncated or foreign part file: its footer is read here
        raise _unreadable(out, name, e) from None


def _batches(dataset: ds.Dataset, wanted: list[str]):
    cols = [c for c in wanted if c in dataset.schema.names]
    for batch in dataset.to_batches(columns=cols, batch_size=BATCH_ROWS):
        yield batch


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise GeobatchError(f"{path} is not readable JSON ({e})", "rerun geobatch run to rewrite it, or remove it") from None
    if not isinstance(obj, dict):  # geobatch writes objects; anything else was edited or is foreign
        raise GeobatchError(f"{path} is not a JSON object (it holds a {type(obj).__name__})",
                            "rerun geobatch run to rewrite it, or remove it")
    return obj


def _confusion_from(obj: Any) -> dict | None:
    """Find a confusion matrix in metrics/manifest JSON: {labels, matrix} or [[gold, pred, n], ...]."""
    if isinstance(obj, dict):
        c = obj.get("confusion")
        if isinstance(c, dict) and isinstance(c.get("labels"), list) and isinstance(c.get("matrix"), list):
            return {"labels": list(c["labels"]), "matrix": [list(map(int, r)) for r in c["matrix"]]}
        if isinstance(c, list) and c and all(isinstance(t, list) and len(t) == 3 for t in c):
            return _matrix_from_pairs(Counter({(g, p): int(n) for g, p, n in c}))
        for key in ("token_level", "metrics", "partials"):
            found = _confusion_from(obj.get(key))
            if found:
                return found
    return None


def _tag_order(tags) -> list[str]:
    def key(t):
        prefix, etype = split_tag(t)
        return (etype is not None, etype or "", prefix)

    return sorted(set(tags), key=key)


def _matrix_from_pairs(pairs: Counter) -> dict:
    labels = _tag_order({t for pair in pairs for t in pair})
    index = {t: i for i, t in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for (g, p), n in pairs.items():
        matrix[index[g]][index[p]] += n
    return {"labels": labels, "matrix": matrix}


def collect(out_dir: str | Path) -> ReportData:
    out = Path(out_dir)
    if not out.is_dir():
        raise GeobatchError(f"{out} is not a directory", "give the OUT_DIR that geobatch run wrote")
    data = ReportData(out)
    data.manifest = _read_json(out / "manifest.json")
    data.metrics = _read_json(out / "metrics.json")
    datasets = {name: _dataset(out, name) for name in TABLES}
    if data.manifest is None and data.metrics is None and not any(datasets.values()):
        raise GeobatchError(
            f"{out} holds no geobatch output (no manifest.json, metrics.json or docs/, tokens/, spans/ Parquet)",
            "give the OUT_DIR that geobatch run wrote",
        )

    for name in TABLES:
        if datasets[name] is not None:
            try:
                _COLLECT[name](data, datasets[name])
            except (pa.ArrowException, OSError) as e:  # a damaged page is found only when it is read
                raise _unreadable(out, name, e) from None

    found = _confusion_from(data.metrics) or _confusion_from(data.manifest)
    if found:
        data.confusion = {**found, "source": "metrics.json" if _confusion_from(data.metrics) else "manifest.json"}
    return data


def _collect_docs(data: ReportData, dataset: ds.Dataset) -> None:
    for b in _batches(dataset, ["status", "n_words", "n_tokens", "n_windows", "n_spans"]):
        t = pa.Table.from_batches([b])
        if "status" in t.column_names:
            data.doc_status.update(dict(Counter(t.column("status").to_pylist())))
        data.doc_totals["documents"] += t.num_rows
        for c in ("n_words", "n_tokens", "n_windows", "n_spans"):
            if c in t.column_names:
                data.doc_totals[c] += int(np.nansum(t.column(c).to_numpy(zero_copy_only=False).astype(np.float64)))


def _collect_spans(data: ReportData, dataset: ds.Dataset) -> None:
    wanted = ["text", "label", "confidence", "geonameid", "resolved_name", "feature", "country_code",
              "latitude", "longitude", "resolution_score", "resolved_by", "error_km"]
    edges = np.linspace(0.0, 1.0, HIST_BINS + 1)
    for b in _batches(dataset, wanted):
        cols = {name: b.column(i) for i, name in enumerate(b.schema.names)}
        n = b.num_rows
        data.n_spans += n
        labels = cols["label"].to_pylist() if "label" in cols else [None] * n
        labels = [lab if lab else "(none)" for lab in labels]
        data.label_counts.update(labels)
        if "confidence" in cols:
            conf = cols["confidence"].to_numpy(zero_copy_only=False).astype(np.float64)
            ok = ~np.isnan(conf)
            data.conf_hist += np.histogram(np.clip(conf[ok], 0.0, 1.0), bins=edges)[0]
            for lab, c in zip(labels, conf):
                if not math.isnan(c):
                    data.label_conf_sum[lab] += float(c)
                    data.label_conf_n[lab] += 1
        if "geonameid" not in cols:
            continue
        gid = cols["geonameid"].to_pylist()
        texts = cols["text"].to_pylist() if "text" in cols else [""] * n
        if "resolved_by" in cols:  # since issue 17: says how a span got its coordinates
            how = cols["resolved_by"].to_pylist()
            resolved_idx = [i for i, h in enumerate(how) if h == "gazetteer"]
        else:  # older output: a null geonameid with coordinates was a focus placement
            resolved_idx = [i for i, g in enumerate(gid) if g is not None]
        if "error_km" in cols and "resolution_score" in cols:
            _add_reliability(data, [cols["error_km"].to_pylist()[i] for i in resolved_idx],
                             [cols["resolution_score"].to_pylist()[i] for i in resolved_idx])
        resolved_set = set(resolved_idx)
        lats = cols["latitude"].to_pylist() if "latitude" in cols else [None] * n
        for i in range(n):
            if i in resolved_set:
                continue
            if lats[i] is not None:
                data.focus_located += 1
            else:
                data.unresolved[(labels[i], texts[i])] += 1
        if not resolved_idx:
            continue
        get = {k: (cols[k].to_pylist() if k in cols else [None] * n) for k in
               ("resolved_name", "feature", "country_code", "latitude", "longitude", "resolution_score")}
        for i in resolved_idx:
            data.label_resolved[labels[i]] += 1
            g = int(gid[i]) if gid[i] is not None else None
            key = g if g is not None else (get["resolved_name"][i], get["latitude"][i], get["longitude"][i])
            place = data.places.get(key)
            if place is None:
                place = data.places[key] = PlaceStats(
                    g, get["resolved_name"][i] or texts[i], get["feature"][i], get["country_code"][i],
                    get["latitude"][i], get["longitude"][i],
                )
            place.count += 1
            place.surfaces[texts[i]] += 1
            place.score_sum += float(get["resolution_score"][i] or 0.0)


def _add_reliability(data: ReportData, errors: list, scores: list) -> None:
    from ..resolve.geo import ACCURACY_KM, score_bin

    for err, score in zip(errors, scores):
        if err is None or score is None or err != err:
            continue
        cell = data.reliability.setdefault(score_bin(score), [0, 0, 0.0])
        cell[0] += 1
        cell[1] += err <= ACCURACY_KM
        cell[2] += score


def reliability_rows(data: ReportData) -> tuple[list[dict], str]:
    """The reliability table of the run: from spans/ (error_km) when there, else metrics.json's."""
    from ..resolve.geo import reliability_rows as rows_of

    if data.reliability:
        return rows_of(data.reliability), "spans/ error_km"
    geo = (data.metrics or {}).get("geo")
    rows = geo.get("reliability") if isinstance(geo, dict) else None
    if isinstance(rows, list) and all(isinstance(r, dict) and {"bin", "spans", "mean_score", "share_within_161km"} <= set(r)
                                      for r in rows):
        return rows, "metrics.json"
    return [], ""


def _collect_tokens(data: ReportData, dataset: ds.Dataset) -> None:
    with_gold = "gold_tag" in dataset.schema.names
    pairs: Counter = Counter()
    for b in _batches(dataset, ["tag", "gold_tag"]):
        t = pa.Table.from_batches([b])
        for row in t.group_by("tag").aggregate([("tag", "count")]).to_pylist():
            data.tag_counts[row["tag"]] += row["tag_count"]
        if with_gold:
            for row in t.group_by(["gold_tag", "tag"]).aggregate([("tag", "count")]).to_pylist():
                pairs[(row["gold_tag"] or OUTSIDE, row["tag"] or OUTSIDE)] += row["tag_count"]
    if with_gold and pairs and data.confusion is None:
        data.confusion = {**_matrix_from_pairs(pairs), "source": "tokens/ (gold_tag vs tag)"}


_COLLECT = {"docs": _collect_docs, "spans": _collect_spans, "tokens": _collect_tokens}
