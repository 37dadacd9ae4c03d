"""BIO tag schemes: which entity types a model predicts, and how gold tags map onto them.

Tags are IOB2 strings: "O", "B-geo", "I-geo", ... A scheme rewrites each gold tag's entity type:
`full` keeps every type, `locations` keeps geo and gpe (the notebook's reduced categories), and a
label map file renames or drops types (e.g. geo→tar, gpe→inc, everything else→O).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Mapping

from .errors import InputError

OUTSIDE = "O"
LOCATION_TYPES = ("geo", "gpe")
SCHEMES = ("full", "locations")
# Entity types that name places in the tag sets a model is likely trained on: GMB's geo/gpe, CoNLL's
# LOC, OntoNotes' GPE/LOC. Compared case-insensitively.
KNOWN_PLACE_TYPES = frozenset({"geo", "gpe", "loc", "location"})
# A training spec's two marker types (training/spec.py), which gold may be mapped through at run time too
# (evaluate/gold_map.py): a place of no given geo/gpe type, the loss accepting any place type;
ANY_PLACE = "*"
# and a span the corpus marks but whose words the model is not taught either way: no loss on them. GMB's
# organisations ("U.S. Embassy", "Dubai World Trade Centre") may contain a place name that other
# corpora tag; mapping them to O would teach that the place inside is not one.
UNTAUGHT = "?"


# BIOES/BILOU prefixes, read as the IOB2 prefix they stand for: a single-word (S-/U-) entity begins
# one, an end (E-/L-) continues one. Without this, "S-geo" would become an entity type of its own.
_PREFIXES = {"B": "B", "I": "I", "S": "B", "U": "B", "E": "I", "L": "I"}


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-geo' → ('B', 'geo'); 'O' → ('O', None); BIOES 'S-geo' → ('B', 'geo'), 'E-geo' → ('I', 'geo').
    Tags without a prefix count as I- of their type."""
    if tag == OUTSIDE or not tag:
        return OUTSIDE, None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES:
        return _PREFIXES[tag[0]], tag[2:]
    return "I", tag


def entity_type(tag: str) -> str | None:
    return split_tag(tag)[1]


def entity_types(labels: Iterable[str]) -> list[str]:
    """The entity types a list of tags names, sorted ('B-geo', 'I-geo', 'O' -> ['geo'])."""
    return sorted({t for t in map(entity_type, labels) if t})


def place_types(labels: Iterable[str]) -> tuple[str, ...]:
    """The entity types among a model's tags that are places, for scoring and for the resolver.

    The known place types it predicts (geo, gpe of the GMB schemes; LOC of CoNLL), so that a `full`
    model's per/org/tim spans are neither scored as locations nor looked up in the gazetteer. A model
    with none of them has a scheme of the user's own, made for places (e.g. tar/inc, target and
    incidental locations): all its types are places then. `--location-labels` overrides both.
    """
    types = entity_types(labels)
    known = tuple(t for t in types if t.lower() in KNOWN_PLACE_TYPES)
    return known or tuple(types)


def load_label_map(path: str | Path) -> dict[str, str]:
    """Read a type map: JSON object {"geo": "tar", ...} or lines `from to` (`to` may be O).

    Types the map does not name become O, so a map is also a filter.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read label map {p}: {e.strerror}", "pass an existing JSON or two-column text file") from None
    except UnicodeDecodeError:
        raise InputError(f"label map {p} is not UTF-8 text", "save it as UTF-8 (JSON or `from to` lines)") from None
    text_stripped = text.strip()
    if text_stripped.startswith("{"):
        try:
            mapping = json.loads(text_stripped, object_pairs_hook=lambda pairs: _no_duplicates(p, pairs))
        except json.JSONDecodeError as e:
            raise InputError(f"label map {p} is not valid JSON ({e.msg} at line {e.lineno})", "fix the JSON or use lines `from to`") from None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise InputError(f"label map {p} must map type names to type names", 'write it as {"geo": "tar", "gpe": "inc"}')
        return _checked_map(p, mapping)
    mapping = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").replace("\t", " ").split()
        if len(parts) != 2:
            raise InputError(f"label map {p} line {n} has {len(parts)} fields", "write one `from to` pair per line")
        if parts[0] in mapping and mapping[parts[0]] != parts[1]:
            raise InputError(f"label map {p} maps {parts[0]} twice ({mapping[parts[0]]} and {parts[1]})", "keep one line per type")
        mapping[parts[0]] = parts[1]
    return _checked_map(p, mapping)


def _no_duplicates(p: Path, pairs: list) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out and out[k] != v:
            raise InputError(f"label map {p} maps {k} twice ({out[k]} and {v})", "keep one entry per type")
        out[k] = v
    return out


def _checked_map(p: Path, mapping: dict[str, str]) -> dict[str, str]:
    """Target names must be usable as the type part of a tag: "B-" + "" would read back as a type "B-"."""
    for src, dst in mapping.items():
        if dst == OUTSIDE:
            continue
        if not dst.strip() or dst != dst.strip():
            raise InputError(f"label map {p} maps {src!r} to {dst!r}, which is not a type name",
                             'give a name without leading or trailing spaces, or "O" to drop the type')
        if split_tag(dst)[0] != "I" or split_tag(dst)[1] != dst:
            raise InputError(f"label map {p} maps {src!r} to the tag {dst!r}, not a type name",
                             f'map types to types, e.g. "{src}": "{split_tag(dst)[1] or "O"}"')
    return dict(mapping)


class LabelScheme:
    """Maps gold tags to the tags a model is trained to predict."""

    def __init__(self, name: str = "full", type_map: Mapping[str, str] | None = None):
        if type_map is None and name not in SCHEMES:
            raise InputError(f"unknown label scheme {name!r}", f"use one of {', '.join(SCHEMES)} or --label-map FILE")
        self.name = name
        self.type_map = dict(type_map) if type_map is not None else None

    @classmethod
    def from_options(cls, scheme: str = "full", label_map: str | Path | None = None) -> "LabelScheme":
        if label_map:
            return cls(f"map:{Path(label_map).name}", load_label_map(label_map))
        return cls(scheme)

    def unused_map_keys(self, types) -> list[str]:
        """Types the label map names that the data does not have (a typo there silently drops a type)."""
        if self.type_map is None:
            return []
        return sorted(set(self.type_map) - set(types))

    def map_type(self, etype: str | None) -> str | None:
        if etype is None:
            return None
        if self.type_map is not None:
            new = self.type_map.get(etype, OUTSIDE)
            return None if new == OUTSIDE else new
        if self.name == "locations":
            return etype if etype in LOCATION_TYPES else None
        return etype

    def map_tag(self, tag: str) -> str:
        prefix, etype = split_tag(tag)
        new = self.map_type(etype)
        return OUTSIDE if new is None else f"{prefix}-{new}"

    def map_tags(self, tags: Iterable[str]) -> list[str]:
        """Map a sentence's tags and repair IOB2: an I- that no longer continues its type becomes B-."""
        out: list[str] = []
        prev_type = None
        for tag in tags:
            mapped = self.map_tag(tag)
            prefix, etype = split_tag(mapped)
            if prefix == "I" and etype != prev_type:
                mapped = f"B-{etype}"
            out.append(mapped)
            prev_type = etype
        return out


def label_list(tags: Iterable[str]) -> list[str]:
    """The model's label order: O first, then B-/I- pairs by entity type, alphabetically. Deterministic."""
    types = sorted({t for t in (entity_type(tag) for tag in tags) if t})
    return [OUTSIDE] + [f"{p}-{t}" for t in types for p in ("B", "I")]
