"""Whether a name is a major place's own name in the gazetteer: what training (untaught organisations,
split names) and decode (names written in two pieces) ask of it, without resolving anything."""

from __future__ import annotations

from typing import Callable, Collection

MAJOR_CITY = 100_000
# the name check reads past a leading article ("The U.S." finds the U.S.), so callers that join words into
# a name keep an article out of its first word themselves (training/split_names.py, decode/joins.py)
ARTICLES = frozenset({"the", "a", "an"})


def major_place_names(exclude_via: Collection[str] = ("alternate",)) -> Callable[[str], bool]:
    """Whether the gazetteer has a name as a continent, country, subdivision, region, water body or
    landform, or as a city of at least MAJOR_CITY people, by any kind of name but those of `exclude_via`
    (sources.VIA_NAMES; by default a GeoNames alternate name does not count): "U.S.", "West Bank",
    "Tehran", not "U.N." (a town of 30,671), "NATO" or "Hamas"."""
    from .index import load_or_build
    from .normalize import name_key
    from .sources import FEATURE_NAMES, VIA_NAMES

    excluded = {VIA_NAMES.index(v) for v in exclude_via}
    gaz = load_or_build()
    city = FEATURE_NAMES.index("city")

    def is_place(name: str) -> bool:
        return any(via not in excluded and (gaz.feature[row] != city or gaz.population[row] >= MAJOR_CITY)
                   for row, via in gaz.rows_for(name_key(name)))
    return is_place
