"""`geobatch report`: one self-contained HTML file describing a run's output directory.

Everything is inline (CSS, a few lines of JS, SVG charts and map) and a Content-Security-Policy
forbids every network fetch, so the file opens offline and can be mailed or archived as is.

Reading is streamed and aggregated: `spans/` and `tokens/` are scanned in record batches through
pyarrow.dataset, keeping counters only, so a report over a corpus far larger than memory is fine.
"""

from __future__ import annotations

import html
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
from ..labels import LOCATION_TYPES, OUTSIDE, split_tag

from .report_map import ATTRIBUTION, world_map_svg
from .report_reliability import reliability_section
from ..io.write import WriteError, write_atomic_bytes

TABLES = ("docs", "tokens", "spans")
HIST_BINS = 20
TOP_PLACES = 25
BATCH_ROWS = 65_536
RENDERED_MARKER = "geobatch-report-rendered"


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


# -- reading -----------------------------------------------------------------------------------


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


# -- rendering ---------------------------------------------------------------------------------

_e = html.escape


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, list):
        if all(not isinstance(x, (dict, list)) for x in v) and len(v) <= 20:
            return ", ".join(_fmt(x) for x in v)
        return f"[{len(v)} items]"
    if v is None:
        return "–"
    return str(v)


def _is_scalar(v: Any) -> bool:
    return not isinstance(v, (dict, list)) or (isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v))


def _kv_table(items: dict) -> str:
    rows = "".join(f"<tr><th>{_e(str(k))}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in items.items())
    return f'<table class="kv">{rows}</table>'


def _row_table(rows: dict[str, dict], caption: str = "") -> str:
    cols: list[str] = []
    for r in rows.values():
        cols += [k for k, v in r.items() if k not in cols and _is_scalar(v) and not isinstance(v, list)]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><th>{_e(str(name))}</th>" + "".join(f'<td class="num">{_e(_fmt(r.get(c)))}</td>' for c in cols) + "</tr>"
        for name, r in rows.items()
    )
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f'<table class="metrics sortable">{cap}<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>'


def _group_by_keys(rows: dict[str, dict]) -> list[dict[str, dict]]:
    """Rows that share most of their keys (micro, macro, location) form one table; others stand alone."""
    groups: list[dict[str, dict]] = []
    for name, row in rows.items():
        keys = set(row)
        for g in groups:
            first = set(next(iter(g.values())))
            if len(keys & first) / len(keys | first) >= 0.5:
                g[name] = row
                break
        else:
            groups.append({name: row})
    return groups


def render_json_tables(obj: dict, title: str = "", skip: tuple[str, ...] = ("confusion",)) -> str:
    """Nested metrics/manifest JSON as tables: scalars as key/value rows, dicts of dicts as a grid."""
    scalars = {k: v for k, v in obj.items() if k not in skip and _is_scalar(v)}
    leaf = {k: v for k, v in obj.items() if k not in skip and isinstance(v, dict) and v and all(_is_scalar(x) for x in v.values())}
    nested = {k: v for k, v in obj.items() if k not in skip and isinstance(v, dict) and k not in leaf}
    parts = []
    if scalars:
        parts.append(_kv_table(scalars))
    for group in _group_by_keys(leaf):
        if len(group) > 1:
            parts.append(_row_table(group))
        else:
            (k, v), = group.items()
            parts.append(f'<div class="sub"><h4>{_e(f"{title} › {k}" if title else k)}</h4>{_kv_table(v)}</div>')
    for k, v in nested.items():
        inner = render_json_tables(v, f"{title} › {k}" if title else k, skip)
        if inner:
            parts.append(f'<div class="sub"><h4>{_e(f"{title} › {k}" if title else k)}</h4>{inner}</div>')
    return "".join(parts)


def _heatmap(conf: dict) -> str:
    labels, matrix = conf["labels"], conf["matrix"]
    head = "".join(f'<th class="rot">{_e(lab)}</th>' for lab in labels)
    rows = []
    for g, row in zip(labels, matrix):
        total = sum(row) or 1
        cells = []
        for p, n in zip(labels, row):
            share = n / total
            # row-normalised so that the many O words do not wash out the location rows
            light = 97 - 62 * share
            hue = 140 if g == p else 8
            fg = "#fff" if light < 60 else "#222"
            cells.append(f'<td class="cell" style="background:hsl({hue},62%,{light:.0f}%);color:{fg}" '
                         f'title="gold {_e(g)} → predicted {_e(p)}: {n:,} ({share:.1%} of the row)">{n:,}</td>')
        rows.append(f"<tr><th>{_e(g)}</th>{''.join(cells)}<td class='num'>{sum(row):,}</td></tr>")
    return (f'<table class="heatmap"><thead><tr><th>gold ↓ / predicted →</th>{head}<th>total</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<p class="note">Word level, one cell per (gold tag, predicted tag); colour is the share of the '
            f"gold row (green: agreement). Source: {_e(conf['source'])}.</p>")


def _histogram(hist: np.ndarray) -> str:
    if not hist.sum():
        return "<p>No span confidences: these spans were given (geobatch resolve), not predicted.</p>"
    w, h, pad = 640, 220, 30
    top = int(hist.max()) if hist.size and hist.max() > 0 else 1
    bw = (w - 2 * pad) / len(hist)
    bars = []
    for i, n in enumerate(hist):
        bh = (h - 2 * pad) * int(n) / top
        x = pad + i * bw
        lo, hi = i / len(hist), (i + 1) / len(hist)
        bars.append(f'<rect class="bar" x="{x + 1:.1f}" y="{h - pad - bh:.1f}" width="{bw - 2:.1f}" height="{bh:.1f}">'
                    f"<title>{lo:.2f}–{hi:.2f}: {int(n):,} spans</title></rect>")
    ticks = "".join(f'<text class="tick" x="{pad + t * (w - 2 * pad):.1f}" y="{h - 10}" text-anchor="middle">{t:g}</text>'
                    for t in (0, 0.25, 0.5, 0.75, 1.0))
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">'
            f'<line class="axis" x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}"/>'
            f'<text class="tick" x="{pad}" y="{pad - 10}">{top:,} spans</text>{"".join(bars)}{ticks}</svg>')


def _label_table(data: ReportData) -> str:
    if not data.label_counts:
        return "<p>No spans.</p>"
    top = max(data.label_counts.values())
    rows = []
    for label, n in data.label_counts.most_common():
        n_conf = data.label_conf_n[label]
        mean = data.label_conf_sum[label] / n_conf if n_conf else float("nan")
        res = data.label_resolved[label]
        width = 100 * n / top
        rows.append(f"<tr><th>{_e(label)}</th><td class='num'>{n:,}</td>"
                    f"<td class='barcell'><div class='hbar' style='width:{width:.1f}%'></div></td>"
                    f"<td class='num'>{_fmt(mean)}</td><td class='num'>{res:,} ({res / n:.0%})</td></tr>")
    return ("<table class='sortable'><thead><tr><th>label</th><th>spans</th><th></th><th>mean confidence</th>"
            f"<th>resolved</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _places_table(places: list[PlaceStats]) -> str:
    if not places:
        return "<p>No resolved places.</p>"
    rows = []
    for rank, p in enumerate(places[:TOP_PLACES], 1):
        forms = ", ".join(f"{s} ({n})" for s, n in p.surfaces.most_common(3))
        coords = f"{p.latitude:.3f}, {p.longitude:.3f}" if p.latitude is not None and p.longitude is not None else "–"
        rows.append(f"<tr><td class='num'>{rank}</td><th>{_e(p.name)}</th><td>{_e(p.feature or '–')}</td>"
                    f"<td>{_e(p.country_code or '–')}</td><td class='num'>{p.count:,}</td><td>{_e(forms)}</td>"
                    f"<td class='num'>{coords}</td><td class='num'>{p.score_sum / p.count:.2f}</td>"
                    f"<td class='num'>{p.geonameid if p.geonameid is not None else '–'}</td></tr>")
    return ("<table class='sortable'><thead><tr><th>#</th><th>place</th><th>feature</th><th>country</th>"
            "<th>mentions</th><th>written as</th><th>lat, lon</th><th>mean score</th><th>geonameid</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85}main{padding:8px 28px 40px;max-width:1200px}
section{overflow-x:auto;background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}h4{margin:12px 0 4px;font-size:13px;color:#445}
table{border-collapse:collapse;margin:6px 0;font-size:13px}th,td{padding:3px 9px;border-bottom:1px solid #eceff3;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600;padding:4px 0}
table.sortable thead th{cursor:pointer}.kv th{color:#445;font-weight:500}
.heatmap td.cell{text-align:center;min-width:56px}.heatmap th.rot{font-size:12px}
.barcell{width:220px}.hbar{height:10px;background:#3c78b4;border-radius:2px;min-width:1px}
.chart{width:100%;max-width:680px}.bar{fill:#3c78b4}.axis{stroke:#889}.tick{font-size:11px;fill:#556}
#map{width:100%;border:1px solid #c9d3de;border-radius:6px}.sea{fill:#eaf2fa}.land{fill:#cfd8c4}
.grid{stroke:#9fb3c8;stroke-width:.6;fill:none;stroke-dasharray:3 3}
.dot{fill:#d9480f;fill-opacity:.72;stroke:#fff;stroke-width:.8}.dot:hover{fill:#7a1e00}
.plabel{font-size:11px;fill:#222;paint-order:stroke;stroke:#fff;stroke-width:3px}
.note{color:#667;font-size:12px}details summary{cursor:pointer;font-weight:600}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #dde2e8;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}
"""

# Sorting tables by a header click, and the render marker that tests look for.
JS = """
(function(){
  function cellValue(td){var t=(td.textContent||'').replace(/,/g,'').trim();var n=parseFloat(t);return isNaN(n)?t.toLowerCase():n;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('thead th').forEach(function(th,col){
      th.addEventListener('click',function(){
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        var dir=th.dataset.dir==='asc'?-1:1;th.dataset.dir=dir===1?'asc':'desc';
        rows.sort(function(a,b){var x=cellValue(a.cells[col]),y=cellValue(b.cells[col]);return x<y?-dir:x>y?dir:0;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  var dots=document.querySelectorAll('#map circle.dot').length;
  var m=document.createElement('div');m.id='%(marker)s';m.hidden=true;
  m.textContent='%(marker)s dots='+dots;document.body.appendChild(m);
})();
""" % {"marker": RENDERED_MARKER}

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def render_html(data: ReportData) -> str:
    places = sorted(data.places.values(), key=lambda p: (-p.count, p.name))
    m = data.manifest or {}
    title = f"geobatch report: {data.out_dir.name}"
    cards = [("documents", data.doc_totals.get("documents") or m.get("documents")), ("spans", data.n_spans),
             ("resolved places", len(places)), ("resolved mentions", sum(p.count for p in places))]
    for k in ("docs_per_s", "real_tokens_per_s", "padding_fraction", "provider", "wall_time_s"):
        if k in m and _is_scalar(m[k]):
            cards.append((k.replace("_", " "), m[k]))
    card_html = "".join(f"<div class='card'><b>{_e(_fmt(v))}</b>{_e(k)}</div>" for k, v in cards if v is not None)

    sections = [f"<section><h2>Summary</h2><div class='cards'>{card_html}</div>"]
    if data.doc_status:
        sections[-1] += "<h4>documents by status</h4>" + _kv_table(dict(data.doc_status.most_common()))
    if data.doc_totals:
        sections[-1] += "<h4>totals from docs/</h4>" + _kv_table(dict(data.doc_totals))
    sections[-1] += "</section>"

    if data.metrics:
        sections.append(f"<section id='metrics'><h2>Metrics</h2>{render_json_tables(data.metrics)}</section>")
    else:
        sections.append("<section id='metrics'><h2>Metrics</h2><p>No metrics.json: the input had no gold labels.</p></section>")
    if data.confusion:
        sections.append(f"<section id='confusion'><h2>Confusion matrix</h2>{_heatmap(data.confusion)}</section>")
    sections.append(
        f"<section id='confidence'><h2>Span confidence</h2>{_histogram(data.conf_hist)}"
        f"<p class='note'>{int(data.conf_hist.sum()):,} spans in {HIST_BINS} bins of width {1 / HIST_BINS:.2f} "
        "(confidence = mean probability of the span's words).</p></section>"
    )
    sections.append(f"<section id='labels'><h2>Spans per label</h2>{_label_table(data)}</section>")
    # only labels the resolver works on: the default location labels and any label it resolved once
    loc_labels = set(LOCATION_TYPES) | {"(none)", "location"} | {k for k, v in data.label_resolved.items() if v}
    unresolved = Counter({key: n for key, n in data.unresolved.items() if key[0] in loc_labels})
    top_unresolved = ", ".join(f"{_e(t)} ({n})" for (_, t), n in unresolved.most_common(15)) or "none"
    sections.append(
        f"<section id='places'><h2>Top places</h2>{_places_table(places)}"
        f"<p class='note'>Unresolved location spans: {sum(unresolved.values()):,}; most frequent: {top_unresolved}."
        + (f" Placed at the document's focus without a gazetteer entry (not mapped): {data.focus_located:,}." if data.focus_located else "")
        + "</p></section>"
    )
    sections.append(
        f"<section id='map-section'><h2>Map of resolved places</h2>{world_map_svg([vars(p) | {'name': p.name} for p in places])}"
        f"<p class='note'>Equirectangular projection, 30° graticule; dot area ∝ mentions; hover a dot for details. "
        f"{_e(ATTRIBUTION)}</p></section>"
    )
    rows, source = reliability_rows(data)
    if rows:
        sections.append(reliability_section(rows, source))
    if data.manifest:
        # per-unit bookkeeping grows with the corpus: count it, do not list it
        units = data.manifest.get("units")
        brief = {k: v for k, v in data.manifest.items() if k not in ("units", "sessions")}
        if isinstance(units, dict):
            brief["units recorded"] = len(units)
        sections.append(f"<section id='manifest'><details><summary>Run manifest (manifest.json)</summary>"
                        f"{render_json_tables(brief)}</details></section>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>{_e(str(data.out_dir))}</p></header><main>{''.join(sections)}</main>"
        f"<script>{JS}</script></body></html>"
    )


def write_report(out_dir: str | Path, output: str | Path | None = None) -> Path:
    data = collect(out_dir)
    target = Path(output) if output else Path(out_dir) / "report.html"
    page = render_html(data).encode("utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic_bytes(target, page)  # a temporary name per process, removed on failure
    except OSError as e:
        raise GeobatchError(f"cannot write {target}: {e.strerror or e}", "choose a writable --output") from None
    except WriteError as e:  # the durable writer's message speaks of a run's units; a report has none
        raise GeobatchError(e.problem, "free disk space or choose a writable --output") from None
    return target
