"""`geobatch report`: one self-contained HTML file describing a run's output directory.

Everything is inline (CSS, a few lines of JS, SVG charts and map) and a Content-Security-Policy
forbids every network fetch, so the file opens offline and can be mailed or archived as is.

What it shows is collected by `geobatch.evaluate.report_data` (streamed, counters only); this module
renders it.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GeobatchError
from ..io.commit import clashes_with_output
from ..io.journal import JOURNAL
from ..io.write import WriteError, file_in_the_way, write_atomic_bytes
from ..labels import LOCATION_TYPES
from .report_data import HIST_BINS, PlaceStats, ReportData, collect, reliability_rows
from .report_map import ATTRIBUTION, world_map_svg
from .report_reliability import reliability_section

TOP_PLACES = 25
RENDERED_MARKER = "geobatch-report-rendered"


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
    # a tag no word was predicted as (gold types the model does not have: GMB's org, per, tim...) is no
    # column, and a tag no gold word has is no row: a dozen columns of zeros hid the ones that matter
    cols = [j for j in range(len(labels)) if any(row[j] for row in matrix)] or list(range(len(labels)))
    kept = [(g, row) for g, row in zip(labels, matrix) if any(row)] or list(zip(labels, matrix))
    head = "".join(f'<th class="rot">{_e(labels[j])}</th>' for j in cols)
    rows = []
    for g, row in kept:
        total = sum(row) or 1
        cells = []
        for p, n in ((labels[j], row[j]) for j in cols):
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
            f"gold row (green: agreement); tags no word was predicted as, or no gold word has, are left out. "
            f"Source: {_e(conf['source'])}.</p>")


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
    # a rerun with nothing left to do (a nightly job done already) wrote 0 docs/s for its own session:
    # show the speed of the last session that processed documents instead, and say so
    worked = [x for x in m.get("sessions", []) if isinstance(x, dict) and x.get("docs") and x.get("wall_time_s")]
    idle = m.get("docs_this_session") == 0 and worked
    for k in ("docs_per_s", "real_tokens_per_s", "padding_fraction", "provider", "wall_time_s"):
        if idle and k in ("docs_per_s", "real_tokens_per_s", "wall_time_s"):
            continue
        if k in m and _is_scalar(m[k]):
            cards.append((k.replace("_", " "), m[k]))
    if idle:
        last = worked[-1]
        cards.append(("docs per s (last session that processed documents)", last["docs"] / last["wall_time_s"]))
    card_html = "".join(f"<div class='card'><b>{_e(_fmt(v))}</b>{_e(k)}</div>" for k, v in cards if v is not None)

    # a stopped, killed or still running job: say so before any figure (they cover committed units only)
    incomplete = (data.manifest is not None and data.manifest.get("complete") is False) or (data.out_dir / JOURNAL).exists()
    banner = ("<p class='note'><b>Incomplete run:</b> the job has not finished (stopped, killed or still running); the figures "
              "below cover only the units committed so far. Rerun the same geobatch command to finish it.</p>") if incomplete else ""
    sections = [f"<section><h2>Summary</h2>{banner}<div class='cards'>{card_html}</div>"]
    if data.doc_status:
        sections[-1] += "<h4>documents by status</h4>" + _kv_table(dict(data.doc_status.most_common()))
    if data.doc_totals:
        sections[-1] += "<h4>totals from docs/</h4>" + _kv_table(dict(data.doc_totals))
    sections[-1] += "</section>"

    if data.metrics:
        sections.append(f"<section id='metrics'><h2>Metrics</h2>{render_json_tables(data.metrics)}</section>")
    else:
        why = ("metrics are written when the run finishes" if incomplete else "the input had no gold labels")
        sections.append(f"<section id='metrics'><h2>Metrics</h2><p>No metrics.json: {why}.</p></section>")
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
    target = Path(output) if output else Path(out_dir) / "report.html"
    clash = clashes_with_output(out_dir, target)
    if clash:  # a report over manifest.json lost the run's resume record; one in docs/ blocked the next run
        raise GeobatchError(f"report {target} {clash}", f"write the report beside the tables, e.g. {Path(out_dir) / 'report.html'}, or outside {out_dir}")
    data = collect(out_dir)
    page = render_html(data).encode("utf-8")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic_bytes(target, page)  # a temporary name per process, removed on failure
    except OSError as e:
        blocker = file_in_the_way(target)
        if blocker is not None:
            raise GeobatchError(f"cannot write {target}: {blocker} is a file", "give a report path under a folder") from None
        raise GeobatchError(f"cannot write {target}: {e.strerror or e}", "choose a writable --output") from None
    except WriteError as e:  # the durable writer's message speaks of a run's units; a report has none
        raise GeobatchError(e.problem, "free disk space or choose a writable --output") from None
    return target
