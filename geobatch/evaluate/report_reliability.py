"""The report's reliability plot: does `resolution_score` say how far to trust a place?

Drawn when gold coordinates exist: per equal-width score bin, the share of gazetteer matches within
161 km of the gold point against the bin's mean score. A calibrated score keeps the points on the
diagonal. The rows come from metrics.json (`geo.reliability`, written by `geobatch run` and
`geobatch resolve`), or from spans/ itself when it carries `error_km` (`geobatch resolve` output).
"""

from __future__ import annotations

import html
from typing import Sequence

SIZE, PAD = 300, 40


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def reliability_svg(rows: Sequence[dict]) -> str:
    """Inline SVG: diagonal, one dot per bin (area ∝ spans), axes 0–1."""
    def x(v):
        return PAD + v * SIZE

    def y(v):
        return PAD + (1 - v) * SIZE

    most = max((r["spans"] for r in rows), default=1) or 1
    parts = [f"<svg class='chart' id='reliability' viewBox='0 0 {SIZE + 2 * PAD} {SIZE + 2 * PAD}' "
             "role='img' aria-label='reliability plot'>",
             f"<rect x='{PAD}' y='{PAD}' width='{SIZE}' height='{SIZE}' fill='#fff' class='axis'/>",
             f"<line x1='{x(0)}' y1='{y(0)}' x2='{x(1)}' y2='{y(1)}' stroke='#889' stroke-dasharray='4 3'/>"]
    for t in (0, 0.5, 1):
        parts.append(f"<text class='tick' x='{x(t)}' y='{y(0) + 16}' text-anchor='middle'>{t:g}</text>")
        parts.append(f"<text class='tick' x='{x(0) - 6}' y='{y(t) + 4}' text-anchor='end'>{t:g}</text>")
    parts.append(f"<text class='tick' x='{x(0.5)}' y='{y(0) + 32}' text-anchor='middle'>mean resolution_score</text>")
    parts.append(f"<text class='tick' transform='rotate(-90)' x='{-y(0.5)}' y='{PAD - 26}' text-anchor='middle'>"
                 "share within 161 km</text>")
    for r in rows:
        radius = 2.5 + 9 * (r["spans"] / most) ** 0.5
        lo, hi = r["bin"]
        parts.append(f"<circle class='dot' cx='{x(r['mean_score']):.1f}' cy='{y(r['share_within_161km']):.1f}' "
                     f"r='{radius:.1f}'><title>score {lo:.1f}–{hi:.1f}: {r['spans']:,} spans, mean score "
                     f"{r['mean_score']:.3f}, within 161 km {r['share_within_161km']:.3f}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)


def reliability_section(rows: Sequence[dict], source: str) -> str:
    """The report section: plot and table, or nothing without rows."""
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{r['bin'][0]:.1f}–{r['bin'][1]:.1f}</td><td class='num'>{r['spans']:,}</td>"
        f"<td class='num'>{r['mean_score']:.3f}</td><td class='num'>{r['share_within_161km']:.3f}</td></tr>"
        for r in rows)
    table = ("<table><thead><tr><th>score bin</th><th>spans</th><th>mean score</th><th>share within 161 km</th>"
             f"</tr></thead><tbody>{body}</tbody></table>")
    return (f"<section id='reliability-section'><h2>Reliability of resolution_score</h2>{reliability_svg(rows)}{table}"
            f"<p class='note'>Gazetteer matches of spans with a gold point, by score bin ({_e(source)}). "
            "On the dashed diagonal the score is the share of places within 161 km.</p></section>")
