"""Training spec: several corpora in one run, each with its own columns, type map, weight and hold-out.

    [[corpus]]
    name = "geowebnews"
    path = "geoparsing/GeoWebNews.jsonl"      # relative to --data-dir (default: the spec's folder)
    id_column = "doc_id"
    spans_column = "toponyms"
    type_field = "type"                       # the span key holding its type (span corpora)
    types = { Literal = "*", Demonym = "*" }  # source type -> model type; "*" any place; "O" drop; "?" untaught
    span_label = "*"                          # type of spans that carry none (GeoVirus)
    weight = 2.0                              # times per epoch its examples are seen (fractions sampled)
    heldout = "sha256-mod5"                   # documents kept for evaluation: "sha256-mod5" or "all"
    validation = "sha256-mod5=1"              # documents kept for model selection (the validation slice)
    skip_bad_spans = true                     # leave out spans whose offsets do not slice the text (else refused)
    untaught_scope = "place-names"            # "?" spans: untaught only where they hold a place name (else "span")
    untaught_compounds = true                 # word-per-row: an O word the splitter cuts ("U.S.-led") untaught, not O
    compound_places = true                    # ... or its pieces that name a place taught as a place ("*"), not O
    join_split_names = true                   # adjacent spans that together name a place become one
    convention = "news"                       # the annotation convention its inputs are marked with
    retype_demonyms = false                   # its demonyms stay as annotated (with demonym_type set)

A type mapped to "*" is a place whose GMB type (geo or gpe) the corpus does not say: the loss accepts
either (training/model.py, `masked_token_loss`), so such spans are never forced into one at random.
A type mapped to "?" is untaught: its words carry no loss (and score as O against O in validation),
for spans such as GMB's organisations, which hold place names other corpora tag as places. With
`untaught_scope = "place-names"` only the words of such a span that the corpus elsewhere tags as a whole
place and the gazetteer knows as a major place stay untaught, the rest is O (training/untaught.py):
"U.S." in "U.S. Embassy" untaught, "U.N." O. With `untaught_compounds = true` (word-per-row corpora) the
pieces of a file word tagged O that the run-time splitter cuts ("U.S.-led", "Paris-based") are untaught spans
too, since the corpus judged the compound and not the place inside it; with "place-names" only the pieces
that name a place stay untaught ("U.S." of "U.S.-led"; "-" and "led" are O). With `compound_places = true`
instead those pieces are taught as a place of either type ("*") when they name a place and the corpus tags
them as a one-word place at least half the times they stand as a word (training/untaught.py, `mostly_places`).
With `join_split_names = true` adjacent spans whose words together are a place the gazetteer knows
become one span ("Czech"/gpe "Republic"/geo -> "Czech Republic"; training/split_names.py).
A top-level `demonym_type = "dem"` tags demonyms ("French", "South Korean") as a type of their own in
every corpus (training/data.py, `tag_demonyms`): the corpora disagree on whether they are places, and
the runtime does not count that type as one; `retype_demonyms = false` keeps a corpus's demonyms as it
annotates them (GeoWebNews: places).
With `convention = "name"` on every corpus and a top-level `default_convention`, each input starts
with a marker token naming its corpus's annotation convention (`[unusedK]` after [CLS]; the K are in
the model card), so corpora that disagree (GeoWebNews counts demonyms and names inside organisations as
places, GMB does not) teach one model several conventions instead of a blend; `geobatch run
--convention` picks one, the default otherwise.
A top-level `case_types = true` tells the uncased encoder which words start with a capital, through the
token type ids (geobatch/text/case_types.py), in training and at run time alike (the card says so). No TensorFlow here; bench/ imports `is_heldout` to score exactly the documents training left out.
"""

from __future__ import annotations

import hashlib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from geobatch.errors import InputError
from geobatch.labels import ANY_PLACE, UNTAUGHT, split_tag

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HELDOUT_RULES = ("sha256-mod5", "all")
# documents that are the validation slice (epochs, rules) and never trained on: the next fifth by the same
# hash as the held-back one, so the two never meet; a news slice big enough to choose by (docs/TRAINING.md)
VALIDATION_RULES = ("sha256-mod5=1",)
UNTAUGHT_SCOPES = ("span", "place-names")
_KEYS = {"name", "path", "format", "id_column", "text_column", "spans_column", "type_field", "types", "span_label",
         "weight", "heldout", "max_sentences", "skip_bad_spans", "untaught_scope", "join_split_names", "validation",
         "convention", "retype_demonyms", "untaught_compounds", "compound_places"}
# a convention is marked by the vocabulary's [unusedK] tokens, which pretraining never used: K in sorted name order
MAX_CONVENTIONS = 99


def is_heldout(doc_id: object, rule: str | None) -> bool:
    """Whether a document is kept out of training for evaluation.

    sha256-mod5: `int(sha256(str(doc_id)), 16) % 5 == 0`, about 20 % of documents, fixed by the id alone,
    so the split is the same on every machine and for every tool that scores it (bench/recognition.py).
    """
    if rule is None:
        return False
    if rule == "all":
        return True
    return _fifth(doc_id) == 0


def is_validation(doc_id: object, rule: str | None) -> bool:
    """Whether a document is in the validation slice: sha256-mod5=1, `int(sha256(str(doc_id)), 16) % 5 == 1`."""
    return rule is not None and _fifth(doc_id) == 1


def _fifth(doc_id: object) -> int:
    return int(hashlib.sha256(str(doc_id).encode("utf-8")).hexdigest(), 16) % 5


@dataclass
class CorpusSpec:
    name: str
    path: Path
    format: str | None = None
    id_column: str = "id"
    text_column: str = "text"
    spans_column: str = "spans"
    type_field: str | None = None
    types: dict[str, str] | None = None
    span_label: str | None = None
    weight: float = 1.0
    heldout: str | None = None
    validation: str | None = None
    max_sentences: int | None = None
    skip_bad_spans: bool = False
    untaught_scope: str = "span"
    join_split_names: bool = False
    convention: str | None = None
    retype_demonyms: bool = True
    untaught_compounds: bool = False
    compound_places: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "path": str(self.path), "format": self.format, "types": self.types,
                "span_label": self.span_label, "weight": self.weight, "heldout": self.heldout, "validation": self.validation,
                "max_sentences": self.max_sentences, "untaught_scope": self.untaught_scope,
                "join_split_names": self.join_split_names, "convention": self.convention,
                "retype_demonyms": self.retype_demonyms, "untaught_compounds": self.untaught_compounds,
                "compound_places": self.compound_places}


@dataclass
class TrainingSpec:
    path: Path
    corpora: list[CorpusSpec] = field(default_factory=list)
    demonym_type: str | None = None
    default_convention: str | None = None
    case_types: bool = False  # the casing channel (geobatch/text/case_types.py)

    @property
    def conventions(self) -> dict[str, str] | None:
        """Convention name -> its marker token, None when the corpora name no convention."""
        names = sorted({c.convention for c in self.corpora if c.convention})
        return {n: f"[unused{k}]" for k, n in enumerate(names)} if names else None


def _fail(spec: Path, where: str, problem: str, fix: str) -> InputError:
    return InputError(f"training spec {spec}: {where}{problem}", fix)


def _check_conventions(p: Path, spec: TrainingSpec) -> None:
    """Conventions are all or nothing: an input without a marker would follow no convention in particular."""
    unmarked = [c.name for c in spec.corpora if c.convention is None]
    names = spec.conventions
    if names is None:
        if spec.default_convention is not None:
            raise _fail(p, "", f"has default_convention {spec.default_convention!r} but no corpus names a convention",
                        'give every corpus convention = "...", or leave default_convention out')
        return
    if unmarked:
        raise _fail(p, f"corpus {unmarked[0]!r} ", "names no convention, while others do",
                    'give every corpus convention = "..." (several corpora may share one)')
    if len(names) > MAX_CONVENTIONS:
        raise _fail(p, "", f"names {len(names)} conventions", f"use at most {MAX_CONVENTIONS}")
    if spec.default_convention not in names:
        raise _fail(p, "", f"has default_convention {spec.default_convention!r}, not one of its conventions ({', '.join(names)})",
                    f'write default_convention = "{next(iter(names))}" (the one `geobatch run` uses unless told)')


def load_spec(path: str | Path, data_dir: str | Path | None = None) -> TrainingSpec:
    """Read and check a spec; paths are resolved against data_dir (default: the spec's folder)."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read training spec {p}: {e.strerror}", "give an existing TOML file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"training spec {p} is not valid TOML ({e})", "fix the file (see training/geoparse.toml)") from None
    items = raw.get("corpus")
    if not isinstance(items, list) or not items or not all(isinstance(c, dict) for c in items):
        raise _fail(p, "", "has no [[corpus]] tables", "add one [[corpus]] table per training file")
    extra = sorted(set(raw) - {"corpus", "demonym_type", "default_convention", "case_types"})
    if extra:
        raise _fail(p, "", f"has unknown top-level keys {', '.join(extra)}",
                    "keep [[corpus]] tables, demonym_type, default_convention and case_types")
    if not isinstance(raw.get("case_types", False), bool):
        raise _fail(p, "", "case_types must be true or false", "write case_types = true, or leave it out")
    demonym_type = raw.get("demonym_type")
    if demonym_type is not None and (not isinstance(demonym_type, str) or not demonym_type.strip()
                                     or demonym_type in (ANY_PLACE, UNTAUGHT, "O") or "-" in demonym_type):
        raise _fail(p, "", f"has demonym_type {demonym_type!r}, not a type name", 'write demonym_type = "dem", or leave it out')
    root = Path(data_dir) if data_dir is not None else p.parent
    out = TrainingSpec(p, demonym_type=demonym_type, default_convention=raw.get("default_convention"),
                       case_types=raw.get("case_types", False))
    names: set[str] = set()
    for n, item in enumerate(items, 1):
        where = f"corpus {n} "
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise _fail(p, where, f"has unknown keys {', '.join(unknown)}", f"use only {', '.join(sorted(_KEYS))}")
        if not isinstance(item.get("path"), str) or not item["path"]:
            raise _fail(p, where, "has no path", 'give path = "file" (relative to --data-dir)')
        name = str(item.get("name") or Path(item["path"]).stem)
        where = f"corpus {name!r} "
        if name in names:
            raise _fail(p, where, "is named twice", "give each corpus its own name")
        names.add(name)
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise _fail(p, where, f"has weight {weight!r}, not a positive number", "use e.g. weight = 1.0 (2.0 sees it twice per epoch)")
        heldout = item.get("heldout")
        if heldout is not None and heldout not in HELDOUT_RULES:
            raise _fail(p, where, f"has heldout {heldout!r}", f"use one of {', '.join(HELDOUT_RULES)}, or leave it out")
        validation = item.get("validation")
        if validation is not None and validation not in VALIDATION_RULES:
            raise _fail(p, where, f"has validation {validation!r}", f"use {' or '.join(VALIDATION_RULES)}, or leave it out")
        types = item.get("types")
        if types is not None:
            if not isinstance(types, dict) or not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in types.items()):
                raise _fail(p, where, "types must map type names to type names", 'write types = { COUNTRY = "*", ZIP = "O" }')
            for src, dst in types.items():  # "B-geo" trained as the labels B-B-geo / I-B-geo (--label-map refuses it too)
                if dst not in (ANY_PLACE, UNTAUGHT, "O") and (split_tag(dst) != ("I", dst) or dst != dst.strip()):
                    raise _fail(p, where, f"maps type {src!r} to {dst!r}, which is a tag or not a type name",
                                f'map types to types, e.g. {src} = "{split_tag(dst.strip())[1] or "O"}"')
        for key in ("format", "id_column", "text_column", "spans_column", "type_field", "span_label"):
            if key in item and not isinstance(item[key], str):
                raise _fail(p, where, f"{key} must be text", f'write {key} = "..."')
        max_sentences = item.get("max_sentences")
        if max_sentences is not None and (isinstance(max_sentences, bool) or not isinstance(max_sentences, int) or max_sentences < 1):
            raise _fail(p, where, f"max_sentences {max_sentences!r} is not a positive whole number", "use e.g. max_sentences = 10000")
        if not isinstance(item.get("skip_bad_spans", False), bool):
            raise _fail(p, where, "skip_bad_spans must be true or false", "write skip_bad_spans = true")
        if not isinstance(item.get("join_split_names", False), bool):
            raise _fail(p, where, "join_split_names must be true or false", "write join_split_names = true, or leave it out")
        if not isinstance(item.get("retype_demonyms", True), bool):
            raise _fail(p, where, "retype_demonyms must be true or false", "write retype_demonyms = false, or leave it out")
        if not isinstance(item.get("untaught_compounds", False), bool):
            raise _fail(p, where, "untaught_compounds must be true or false", "write untaught_compounds = true, or leave it out")
        if not isinstance(item.get("compound_places", False), bool):
            raise _fail(p, where, "compound_places must be true or false", "write compound_places = true, or leave it out")
        if item.get("compound_places") and item.get("untaught_compounds"):
            raise _fail(p, where, "has both untaught_compounds and compound_places, which read the same pieces two ways",
                        "keep one of them")
        convention = item.get("convention")
        if convention is not None and (not isinstance(convention, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", convention)):
            raise _fail(p, where, f"has convention {convention!r}, not a name", 'write e.g. convention = "news" (lowercase letters, digits, - and _)')
        scope = item.get("untaught_scope", "span")
        if scope not in UNTAUGHT_SCOPES:
            raise _fail(p, where, f"has untaught_scope {scope!r}", f"use one of {', '.join(UNTAUGHT_SCOPES)}, or leave it out")
        fpath = Path(item["path"]).expanduser()
        fpath = fpath if fpath.is_absolute() else root / fpath
        if not fpath.exists():
            raise _fail(p, where, f"file {fpath} does not exist", "check path and --data-dir")
        if fpath.is_dir():
            raise _fail(p, where, f"path {fpath} is a directory", "name the corpus file itself")
        out.corpora.append(CorpusSpec(
            name=name, path=fpath, format=item.get("format"), id_column=item.get("id_column", "id"),
            text_column=item.get("text_column", "text"), spans_column=item.get("spans_column", "spans"),
            type_field=item.get("type_field"), types=dict(types) if types is not None else None,
            span_label=item.get("span_label"), weight=float(weight), heldout=heldout, validation=validation, max_sentences=max_sentences,
            skip_bad_spans=item.get("skip_bad_spans", False), untaught_scope=scope,
            join_split_names=item.get("join_split_names", False), convention=convention,
            retype_demonyms=item.get("retype_demonyms", True), untaught_compounds=item.get("untaught_compounds", False),
            compound_places=item.get("compound_places", False),
        ))
    _check_conventions(p, out)
    # one file under two names: its sentences would count twice and land on both sides of the hold-out
    from .data import same_content

    paths = [str(c.path) for c in out.corpora]
    same = same_content(paths)
    for k, c in enumerate(out.corpora):
        for d in out.corpora[:k]:
            if same(str(c.path), str(d.path)):
                raise _fail(p, f"corpus {c.name!r} ", f"is the same file as corpus {d.name!r} ({c.path})", "list each file once")
    return out


def override_weights(spec: TrainingSpec, items: Sequence[str]) -> TrainingSpec:
    """The spec with `--corpus-weight NAME=W` applied: one recipe file, another mix for one run (the fast
    model keeps the mix it was chosen at). Each name must be a corpus of the spec, each W positive."""
    weights = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        try:
            w = float(value) if sep else math.nan
        except ValueError:
            w = math.nan
        if not name.strip() or not (math.isfinite(w) and w > 0):
            raise InputError(f"--corpus-weight {item!r} is not NAME=W with W a positive number", "write e.g. --corpus-weight gmb=0.35")
        weights[name.strip()] = w
    names = [c.name for c in spec.corpora]
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise InputError(f"--corpus-weight names {', '.join(unknown)}, which {spec.path} has no corpus of",
                         f"use one of its corpus names: {', '.join(names)}")
    for c in spec.corpora:
        c.weight = weights.get(c.name, c.weight)
    return spec


def convention_markers(spec, tokenizer, lineage: dict | None) -> dict | None:
    """The spec's conventions with their marker tokens and ids (None without conventions). A checkpoint
    continued from must have been trained with the same markers, or none: its inputs meant something else."""
    names = spec.conventions if spec is not None else None
    before = (lineage or {}).get("conventions")
    if before and (not names or before.get("tokens") != names):
        raise InputError(f"--base-model was trained with conventions {before.get('tokens')}, this spec has {names}",
                         "continue with the same conventions in the spec, or start from the plain encoder")
    if not names:
        return None
    ids = {n: tokenizer.token_to_id(t) for n, t in names.items()}
    missing = [t for n, t in names.items() if ids[n] is None]
    if missing:
        raise InputError(f"the base model's vocabulary has no {', '.join(missing)} token to mark a convention with",
                         "use a BERT vocabulary with [unusedK] tokens, or leave convention out of the spec")
    return {"tokens": names, "ids": ids, "default": spec.default_convention}
