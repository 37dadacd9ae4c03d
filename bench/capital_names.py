#!/usr/bin/env python
"""Bare capital names: does each country capital's own name resolve to that capital?

    python bench/capital_names.py

Every city the gazetteer marks as a country's capital (the Factbook's capital name, docs/GAZETTEER.md)
is resolved alone in "Officials in NAME said so." and counted right when the answer is that row. News
writes a capital's bare name for the capital, so the count is a check on the priors that uses no
annotated corpus (docs/RESULTS.md §8). Prints the count and the misses.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geobatch.resolve import Resolver  # noqa: E402
from geobatch.resolve.sources import CITY  # noqa: E402


def main() -> int:
    resolver = Resolver.load()
    g = resolver.gaz
    right, misses = 0, []
    for row in range(len(g.name)):
        if not g.capital[row] or g.feature[row] != CITY:
            continue
        name = g.name[row]
        text = f"Officials in {name} said so."
        got = resolver.resolve_document(text, [(13, 13 + len(name), None)])[0]
        if got is not None and got["geonameid"] == int(g.geonameid[row]):
            right += 1
        else:
            misses.append(f"{name} ({g.country_code[row]}) -> " + (f"{got['resolved_name']}, {got['feature']}, {got['country_code']}" if got else "null"))
    print(f"capitals resolved to themselves: {right} of {right + len(misses)}")
    for m in misses:
        print("  " + m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
