"""Neighbour patterns: "City, State" and lists of states or countries vouch for a span's candidates.

A mixin of `Resolver` (it uses the resolver's index columns and `_exact`):
- `_container_after`: the countries/subdivisions named right after a span behind a comma ("Paris,
  Texas", "Austin, TX", "Tbilisi, Georgia");
- `_after_place`: "Rochester, New York" (the state that holds the place before it) and lists such as
  "Texas, Oklahoma, Washington and Utah" (states of the country a sure neighbour is a state of);
- `_states_in_sentence`: the subdivisions surely named in the same sentence.
"""

from __future__ import annotations

import re
from typing import Sequence

from .normalize import name_key
from .sources import ADMIN1, CITY, COUNTRY, DEMONYM, OTHER

_AFTER_COMMA = re.compile(r"^\s*,\s*((?:[A-Z][\w.'’-]*\.?)(?:\s+[A-Z][\w.'’-]*){0,3})")
_COMMA_ONLY = re.compile(r"^\s*,\s*$")
_LIST_GAP = re.compile(r"^\s*(?:,|,?\s+and|,?\s+or|/|&)\s*$")
UPPER_CODE = re.compile(r"^[A-Z]{2}$")
_SENTENCE_END = re.compile(r"[.!?]\s|\n")


class NeighbourPatterns:
    def _container_after(self, text: str, end: int) -> list[int]:
        """Rows of countries/subdivisions named right after the span, behind a comma."""
        m = _AFTER_COMMA.match(text[end:end + 60])
        if not m:
            return []
        words = m.group(1).split()
        for n in range(len(words), 0, -1):
            phrase = " ".join(words[:n])
            upper = bool(UPPER_CODE.match(phrase.rstrip(".")))
            rows = [r for r, v in self._exact(name_key(phrase), upper)
                    if self._feature[r] in (COUNTRY, ADMIN1, OTHER) and v != DEMONYM]
            if rows:
                return rows
        return []

    def _after_place(self, text: str, spans: Sequence[tuple], cands: list) -> list[set]:
        """Per span, candidates that the neighbouring spans vouch for.

        - "Rochester, New York": a span right after another one and a comma gets its candidates that
          contain a candidate of the span before (the state that holds Rochester);
        - "Texas, Oklahoma, Washington and Utah": in a list, a span whose neighbour is surely a state
          (country) gets its candidates that are states of that country (countries).
        """
        order = sorted(range(len(spans)), key=lambda i: int(spans[i][0]))
        out: list[set] = [set() for _ in spans]
        for a, b in zip(order, order[1:]):
            if not cands[a] or not cands[b]:
                continue
            between = text[int(spans[a][1]):int(spans[b][0])]
            if _COMMA_ONLY.match(between):
                inner = [c.row for c in cands[a] if self._feature[c.row] in (CITY, OTHER)]
                for c in cands[b]:
                    if self._feature[c.row] in (COUNTRY, ADMIN1, OTHER) and self._inside_any(inner, c.row):
                        out[b].add(c.row)
            if _LIST_GAP.match(between):
                for x, y in ((a, b), (b, a)):
                    top = cands[x][0]  # highest prior
                    kind, cc = self._feature[top.row], self._cc[top.row]
                    if kind in (COUNTRY, ADMIN1) and (len(cands[x]) == 1 or cands[x][1].prior < top.prior - 1):
                        out[y].update(c.row for c in cands[y]
                                      if self._feature[c.row] == kind and (kind == COUNTRY or self._cc[c.row] == cc))
        return out

    def _inside_any(self, rows: list[int], container: int) -> bool:
        return any(self._inside(r, [container]) for r in rows)

    def _inside(self, row: int, containers: list[int]) -> bool:
        cc, a1, f_row = self._cc[row], self._a1[row], self._feature[row]
        for r in containers:
            if r == row or self._cc[r] != cc:
                continue
            f = self._feature[r]
            if f == COUNTRY or (f in (ADMIN1, OTHER) and self._a1[r] == a1 and f_row != COUNTRY):
                return True
        return False

    def _states_in_sentence(self, text: str, spans: Sequence[tuple], cands: list) -> list[set]:
        """Per span, the (country, admin1) of the subdivisions that other spans of the same sentence
        surely name (top candidate a subdivision): "the rodeo in Paris drew crowds from all over Texas"
        backs Paris, Texas more than a state named three paragraphs away would."""
        order = sorted(range(len(spans)), key=lambda i: int(spans[i][0]))
        sentence, k = {}, 0
        for prev, i in zip([None, *order], order):
            if prev is not None and _SENTENCE_END.search(text, int(spans[prev][1]), int(spans[i][0])):
                k += 1
            sentence[i] = k
        states: dict[int, set] = {}
        for i in order:
            cs = cands[i]
            if cs and self._feature[cs[0].row] in (ADMIN1, OTHER) and (len(cs) == 1 or cs[1].prior < cs[0].prior - 1):
                states.setdefault(sentence[i], set()).add((i, self._cc[cs[0].row], self._a1[cs[0].row]))
        return [{(cc, a1) for j, cc, a1 in states.get(sentence[i], ()) if j != i} for i in range(len(spans))]
