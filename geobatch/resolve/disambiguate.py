"""Pick the place each span names, using the rest of the document.

Each candidate (candidates.py) gets a score in log10-population units:

    prior   = log10(population + 10) + feature bonus (countries and continents are what a bare
              name usually means in news; first-level subdivisions next) + a bonus or penalty for
              how the name matched (AP-style press names "Washington" -> the city are preferred; a
              GeoNames alternate name, a demonym or a partial match weigh less)
    context = + country weight  if other spans of the document put weight on the candidate's country
              + admin1 weight   if they put weight on its first-level subdivision
              + pattern weight  if the text right after the span says where it is ("Paris, Texas",
                                "Tbilisi, Georgia", "Austin, TX"), or if the span itself follows
                                "Name, " and so is likely the state/country of a place

Context comes from the other spans' candidate distributions (a softmax over their scores), so a
certain "Tbilisi" counts fully and an ambiguous "Georgia" splits its weight; spans with the same name
as the one being scored are left out, so a name cannot vouch for itself. Context-only spans (the
model's demonyms, "French") add their countries' mass and get no result of their own. Two rounds:
priors only, then priors plus context. `resolution_score` is the winning candidate's softmax
probability times a factor for how it was matched.

Weak matches need support: a name found only as part of a longer name ("Old Town Manassas"), or a
bare direction ("Western"), is kept only when the document already points at that country; a small
town with no support, in a document that is clearly about another country, is dropped (it is more
likely a local street or venue the gazetteer lacks).

Focus fallback (opt-in) and the document focus: see focus.py.
"""

from __future__ import annotations

import math
from typing import Sequence

from . import calibration
from .candidates import NEEDS_COUNTRY, STRONG, Candidate, CandidateLookup
from .focus import GAZETTEER, Resolutions, document_focus, fill_from_focus, focus_columns
from .index import Gazetteer
from .patterns import NeighbourPatterns
from .plausible import SMALL_TOWN, PlausibilityRules
from .sources import ALTERNATE, CITY, CODE, DEMONYM, FEATURE_NAMES, OTHER

# context weights, in the candidates' prior units (candidates.py)
SENTENCE_ADMIN1_WEIGHT = 1.0  # a town whose state is named in the same sentence (against a capital's bonus)
COUNTRY_WEIGHT = 2.0
ADMIN1_WEIGHT = 1.5
ADMIN1_CAP = 1.0  # admin1 mass counts up to this many names
PATTERN_WEIGHT = 5.0  # above CAPITAL_BONUS + the gap between a capital and a small namesake ("Paris, Texas")
SOFTMAX_SCALE = 2.0  # score units -> natural log odds
FOREIGN_DOMINANT = 1.0  # context mass of one other country that makes a document "clearly about" it


class Resolver(CandidateLookup, PlausibilityRules, NeighbourPatterns):
    """Document-aware toponym resolver over a cached `Gazetteer`."""

    _shared: "Resolver | None" = None

    def __init__(self, gazetteer: Gazetteer, focus_fallback: bool = False):
        self.gaz = gazetteer
        self.focus_fallback = focus_fallback
        self._cache: dict[str, tuple[str, list[Candidate]]] = {}
        g = gazetteer
        # plain Python views of the columns: per-element access is what the hot loop does
        self._feature = g.feature.tolist()
        self._population = g.population.tolist()
        self._cc = g.country_code
        self._a1 = g.admin1_code
        self._capital = g.capital.tolist()
        self._known: dict[str, bool] = {}
        self._place_word: dict[str, bool] = {}
        self._largest: dict | None = None  # (country, admin1) -> population of its largest city

    @classmethod
    def load(cls, cache_dir=None, log=None, focus_fallback: bool = False) -> "Resolver":
        """A resolver over the disk-cached index (built there the first time); the index is shared."""
        if cache_dir is None and cls._shared is not None:
            gaz = cls._shared.gaz
        else:
            from .index import load_or_build

            gaz = load_or_build(cache_dir, log=log)
        resolver = cls(gaz, focus_fallback=focus_fallback)
        if cache_dir is None and cls._shared is None:
            cls._shared = resolver
        return resolver

    # -- documents ---------------------------------------------------------------------------------
    def resolve_document(self, text: str, spans: Sequence[tuple], context: Sequence[tuple] = ()) -> Resolutions:
        """One result dict (keys: RESOLVED_COLUMNS) or None per span, in order; `.focus` is the
        document's focus (docs/ columns) or None.

        `spans` are (start, end, label) tuples with character offsets into `text`; the label is not used.
        `context` spans (the model's demonyms: "French border checks at Calais") only add their
        countries' weight to the others' context: they get no result of their own.
        """
        n_out = len(spans)
        if n_out == 0:
            return Resolutions()
        cc_of, a1_of, feat = self._cc, self._a1, self._feature
        spans = list(spans) + list(context)
        n = len(spans)
        surfaces = [text[s[0]:s[1]] for s in spans]
        entries = [self._plausible(text, int(s[0]), int(s[1]), *self._entry(surface)) for s, surface in zip(spans, surfaces)]
        keys = [e[0] for e in entries]
        cands = [self._kind_after(text, int(s[1]), e[1]) for s, e in zip(spans, entries)]
        # a demonym says which country a story is about, not where a place is: no pattern of its own
        pad = [set()] * (n - n_out)
        containers = ([self._container_after(text, int(s[1])) if cands[i] else [] for i, s in enumerate(spans[:n_out])]
                      + [[]] * (n - n_out))
        after_place = self._after_place(text, spans[:n_out], cands[:n_out]) + pad
        same_sentence = self._states_in_sentence(text, spans[:n_out], cands[:n_out]) + pad

        # a name's mentions count once and never for themselves; names with the same candidates
        # ("Nyanza", "Nyanza Province") are one name here, so they cannot vouch for each other
        groups = [frozenset(c.row for c in cs) for cs in cands]
        strong = [bool(cs) and cs[0].needs == STRONG for cs in cands]
        scores = [[c.prior for c in cs] for cs in cands]
        own_c: dict = {}
        own_a: dict = {}
        total_c: dict = {}
        total_a: dict = {}
        for _round in range(2):
            own_c, own_a = {}, {}
            for i in range(n):
                if not strong[i] or groups[i] in own_c:
                    continue
                cm: dict[str, float] = {}
                am: dict[tuple[str, str], float] = {}
                for c, p in zip(cands[i], _softmax(scores[i])):
                    cc = cc_of[c.row]
                    if cc:
                        cm[cc] = cm.get(cc, 0.0) + p
                        a1 = a1_of[c.row]
                        if a1:
                            am[(cc, a1)] = am.get((cc, a1), 0.0) + p
                own_c[groups[i]], own_a[groups[i]] = cm, am
            total_c, total_a = _sum_masses(own_c), _sum_masses(own_a)
            new_scores = []
            for i in range(n):
                oc, oa = own_c.get(groups[i], {}), own_a.get(groups[i], {})
                cont, after = containers[i], after_place[i]
                sc = []
                for c in cands[i]:
                    s = c.prior
                    cc = cc_of[c.row]
                    if cc and c.context:  # not for a town named after an ocean (candidates.py)
                        s += COUNTRY_WEIGHT * min(total_c.get(cc, 0.0) - oc.get(cc, 0.0), 1.0)
                        a1 = a1_of[c.row]
                        if a1:
                            s += ADMIN1_WEIGHT * min(total_a.get((cc, a1), 0.0) - oa.get((cc, a1), 0.0), ADMIN1_CAP)
                    if cont and self._inside(c.row, cont):
                        s += PATTERN_WEIGHT
                    if after and c.row in after:
                        s += PATTERN_WEIGHT
                    if same_sentence[i] and (cc, a1_of[c.row]) in same_sentence[i] and feat[c.row] in (CITY, OTHER):
                        s += SENTENCE_ADMIN1_WEIGHT
                    sc.append(s)
                new_scores.append(sc)
            scores = new_scores

        best = [max(range(len(sc)), key=sc.__getitem__) if sc else -1 for sc in scores]
        out: list[dict | None] = [None] * n_out
        # strong names first: keep the winner unless it is an unknown small town in a document about
        # another country (more likely a local street or venue that the gazetteer lacks)
        kept_c: dict = {}
        kept_a: dict = {}
        for i in range(n_out):
            if not strong[i]:
                continue
            c = cands[i][best[i]]
            cc, a1 = cc_of[c.row], a1_of[c.row]
            oc = own_c.get(groups[i], {})
            if (feat[c.row] in (CITY, OTHER) and self._population[c.row] < SMALL_TOWN
                    and total_c.get(cc, 0.0) - oc.get(cc, 0.0) <= 0.0 and _dominant(total_c, oc) >= FOREIGN_DOMINANT):
                continue
            out[i] = self._result(c, _softmax(scores[i])[best[i]] * c.trust, total_c.get(cc, 0.0) - oc.get(cc, 0.0),
                                  len(cands[i]))
            kept_c.setdefault(keys[i], set()).add(cc)
            kept_a.setdefault(keys[i], set()).add((cc, a1))
        # weak names (a bare direction, part of a longer name) need another resolved name behind them
        # ("Da Nang" written out elsewhere backs "Da Nang International Airport")
        for i in range(n_out):
            if strong[i] or not cands[i]:
                continue
            c = cands[i][best[i]]
            cc, a1 = cc_of[c.row], a1_of[c.row]
            if c.needs == NEEDS_COUNTRY:
                backed = any(cc in v for k, v in kept_c.items() if k != keys[i])
            else:
                backed = any((cc, a1) in v for k, v in kept_a.items() if k != keys[i])
            if backed:
                out[i] = self._result(c, _softmax(scores[i])[best[i]] * c.trust, total_c.get(cc, 0.0), len(cands[i]))
        features = [r.pop("_features") if r else None for r in out]
        focus = focus_columns(document_focus(out))
        if self.focus_fallback and any(r is None for r in out):
            out = fill_from_focus(out, [int(s[0]) for s in spans])
        return Resolutions(out, focus, features)

    def _result(self, c: Candidate, raw_score: float, country_support: float, candidates: int) -> dict:
        """The output row of a gazetteer match; its score is the calibrated probability of being within
        161 km (calibration.py), its features kept for fitting that calibration."""
        g = self.gaz
        row = c.row
        x = calibration.features(raw_score, FEATURE_NAMES[self._feature[row]], self._population[row],
                                 c.via == ALTERNATE, c.via in (DEMONYM, CODE), c.partial, c.fragment,
                                 c.needs != STRONG, country_support if self._cc[row] else 0.0, candidates,
                                 float(g.area_km2[row]))
        score = calibration.probability(x, raw_score)
        gid = int(g.geonameid[row])
        return {
            "geonameid": gid if gid >= 0 else None,
            "resolved_name": g.name[row],
            "feature": FEATURE_NAMES[self._feature[row]],
            "country_code": self._cc[row] or None,
            "admin1_code": self._a1[row] or None,
            "latitude": float(g.latitude[row]),
            "longitude": float(g.longitude[row]),
            "population": self._population[row],
            "resolution_score": round(min(max(score, 0.0), 1.0), 4),
            "resolved_by": GAZETTEER,
            "_features": x,
        }


def _sum_masses(per_group: dict) -> dict:
    total: dict = {}
    for masses in per_group.values():
        for k, p in masses.items():
            total[k] = total.get(k, 0.0) + p
    return total


def _dominant(total: dict, own: dict) -> float:
    """Largest context mass any one country (or subdivision) gets from the other spans."""
    return max((m - own.get(k, 0.0) for k, m in total.items()), default=0.0)


def _softmax(scores: list[float]) -> list[float]:
    if len(scores) == 1:
        return [1.0]
    m = max(scores)
    e = [math.exp((s - m) * SOFTMAX_SCALE) for s in scores]
    t = sum(e)
    return [x / t for x in e]
