"""Scores against gold tags, accumulated chunk by chunk and mergeable (engines merge partials).

Token level (the notebook's statistics): each word counts once per entity type with B-/I- collapsed
("category"); per category accuracy, precision, recall, F1; micro and macro precision/recall and
macro F1 over the entity categories (O excluded from the averages, reported alone). Exact-tag per-word
precision/recall/F1 per B-/I- tag is kept for reference.

Entity level: exact spans as seqeval extracts them (`get_entities`, CoNLL default mode), counted per
document so partial counts add up; per label, micro, and "location" with all location labels merged
into one type. Summing per-document counts equals seqeval's corpus-level result because seqeval
itself separates sentences with O.

Untyped gold (span documents whose spans carry no label, e.g. the geoparsing corpora, or CoNLL's LOC
on a model of geo/gpe): every gold place is "location", so comparing it with typed predictions (geo,
gpe) per type would report zeros for every type. The type-level tables are then computed on the
merged view (predicted location types as "location"; other predicted types as themselves where the
gold has them, e.g. demonyms, else O, which such gold does not annotate), and the report says so with
`"gold_typed": false`.

Gold types the model does not predict (given `predicted_types`: GMB's org under a spec that left it
untaught, CoNLL's PER): their words are scored as O and their spans counted by type under
`gold_types_not_predicted`, which the run's table states, so no gold is dropped without a word
(geobatch.evaluate.gold_map maps gold onto the model's types first).

Geo (`geobatch.evaluate.metrics_geo`): when gold spans carry coordinates and the run resolves places, the
accumulator also keeps a `GeoMatchScore` partial (recogniser + resolver against gold points); the
report gains a `geo` block only then.

Gold spans (`geobatch.io.readers.spans.SpanStats`): with a spans column, the accumulator also counts
what became of every gold span (kept, skipped by type or for bad offsets, doubtful gold points and
surfaces, documents whose spans could not be read), so metrics.json accounts for all of them with
the same keys as `geobatch resolve`'s and the run ends with the same warnings.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable, Sequence

from ..io.gold import LOCATION
from ..io.readers.spans import SpanStats, span_warnings
from ..labels import OUTSIDE, split_tag
from .metrics_geo import GeoMatchScore, format_geo

DEFAULT_LOCATION_LABELS = ("geo", "gpe")


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def _category(tag: str) -> str:
    return split_tag(tag)[1] or OUTSIDE


class MetricsAccumulator:
    def __init__(self, location_labels: Iterable[str] = DEFAULT_LOCATION_LABELS, predicted_types: Iterable[str] | None = None):
        self.location_labels = sorted(set(location_labels) | {LOCATION})
        # None: every gold type is scored as it is (callers that map gold themselves)
        self.predicted_types = None if predicted_types is None else sorted(set(predicted_types) | {LOCATION})
        self.not_predicted: Counter = Counter()  # gold type the model has not -> spans, scored as O
        self.confusion: Counter = Counter()  # (gold_tag, pred_tag) -> words
        self.entities: dict[str, Counter] = defaultdict(Counter)  # label -> true/pred/correct
        self.location: Counter = Counter()
        self.documents = 0
        self.geo: GeoMatchScore | None = None  # only once a document with gold coordinates was resolved
        self.gold_spans: SpanStats | None = None  # only with gold spans (not gmb/conll tags)

    # -- accumulate -------------------------------------------------------------------------
    def add(self, gold: Sequence[str], pred: Sequence[str]) -> None:
        if len(gold) != len(pred):
            raise ValueError(f"gold has {len(gold)} tags, prediction {len(pred)}")
        self.documents += 1
        if self.predicted_types is not None:
            gold = self._without_unpredicted(gold)
        self.confusion.update(zip(gold, pred))
        self._count(self.entities, gold, pred)
        merged: dict[str, Counter] = defaultdict(Counter)
        self._count(merged, self._merge_locations(gold), self._merge_locations(pred))
        self.location.update(merged.get(LOCATION, Counter()))

    def _without_unpredicted(self, gold: Sequence[str]) -> list[str]:
        """Gold with the types the model does not predict as O, their spans counted."""
        out, prev_type = [], None
        for tag in gold:
            prefix, etype = split_tag(tag)
            if etype is not None and etype not in self.predicted_types:
                if prefix == "B" or etype != prev_type:  # a span of its own starts here
                    self.not_predicted[etype] += 1
                out.append(OUTSIDE)
            else:
                out.append(tag)
            prev_type = etype
        return out

    def add_geo(self, gold_places, pred_spans, resolved) -> None:
        """One resolved document's gold spans with coordinates against its predicted spans (see metrics_geo)."""
        if self.geo is None:
            self.geo = GeoMatchScore()
        self.geo.add_document(gold_places, pred_spans, resolved, self.location_labels)

    def add_gold_spans(self, stats: SpanStats) -> None:
        """What became of one document's gold spans (see `geobatch.io.readers.spans`)."""
        self.gold_spans = (self.gold_spans or SpanStats()).merge(stats)

    @staticmethod
    def _count(into: dict[str, Counter], gold: Sequence[str], pred: Sequence[str]) -> None:
        # imported here: seqeval pulls in scikit-learn (seconds), which a run without gold never needs
        from seqeval.metrics.sequence_labeling import get_entities

        g = set(get_entities(list(gold)))
        p = set(get_entities(list(pred)))
        for label, *_ in g:
            into[label]["true"] += 1
        for label, *_ in p:
            into[label]["pred"] += 1
        for label, *_ in g & p:
            into[label]["correct"] += 1

    def _merge_tag(self, tag: str) -> str:
        prefix, etype = split_tag(tag)
        # other types (and O) do not take part in location scoring
        return f"{prefix}-{LOCATION}" if etype in self.location_labels else OUTSIDE

    def _merge_locations(self, tags: Sequence[str]) -> list[str]:
        return [self._merge_tag(t) for t in tags]

    def gold_categories(self) -> set[str]:
        return {_category(g) for g, _ in self.confusion} - {OUTSIDE}

    def gold_typed(self) -> bool:
        """False when the gold's places are all the generic LOCATION (gold spans without labels, CoNLL's
        LOC on a geo/gpe model), whatever other types it has beside them (demonyms)."""
        gold_cats = self.gold_categories()
        return LOCATION not in gold_cats or bool(gold_cats & (set(self.location_labels) - {LOCATION}))

    def merge(self, other: "MetricsAccumulator") -> "MetricsAccumulator":
        self.confusion.update(other.confusion)
        for k, v in other.entities.items():
            self.entities[k].update(v)
        self.location.update(other.location)
        self.not_predicted.update(other.not_predicted)
        self.documents += other.documents
        if other.geo is not None:
            self.geo = (self.geo or GeoMatchScore()).merge(other.geo)
        if other.gold_spans is not None:
            self.add_gold_spans(other.gold_spans)
        return self

    @property
    def empty(self) -> bool:
        return self.documents == 0

    # -- (de)serialise: partials live in manifest.json so a resumed job still scores everything --
    def to_dict(self) -> dict:
        return {
            "location_labels": self.location_labels,
            "documents": self.documents,
            "confusion": [[g, p, n] for (g, p), n in sorted(self.confusion.items())],
            "entities": {k: dict(v) for k, v in sorted(self.entities.items())},
            "location": dict(self.location),
            **({"predicted_types": self.predicted_types} if self.predicted_types is not None else {}),
            "not_predicted": dict(sorted(self.not_predicted.items())),
            **({"geo": self.geo.to_dict()} if self.geo is not None else {}),
            **({"gold_spans": self.gold_spans.to_dict()} if self.gold_spans is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "MetricsAccumulator":
        m = cls(d.get("location_labels", DEFAULT_LOCATION_LABELS), d.get("predicted_types"))
        m.not_predicted = Counter({k: int(n) for k, n in d.get("not_predicted", {}).items()})
        m.documents = int(d.get("documents", 0))
        m.confusion = Counter({(g, p): int(n) for g, p, n in d.get("confusion", [])})
        for k, v in d.get("entities", {}).items():
            m.entities[k] = Counter(v)
        m.location = Counter(d.get("location", {}))
        m.geo = GeoMatchScore.from_dict(d["geo"]) if d.get("geo") else None
        m.gold_spans = SpanStats.from_dict(d["gold_spans"]) if d.get("gold_spans") else None
        return m

    # -- report ----------------------------------------------------------------------------
    def report(self) -> dict:
        typed = self.gold_typed()
        confusion, entities = self.confusion, self.entities
        if not typed:  # score types on the merged view: see the module docstring
            others = self.gold_categories() - set(self.location_labels)  # e.g. demonyms beside untyped places

            def view(tag: str) -> str:
                return tag if _category(tag) in others else self._merge_tag(tag)

            confusion = Counter()
            for (g, p), n in self.confusion.items():
                confusion[(g, view(p))] += n
            entities = {**({LOCATION: self.location} if self.location else {}),
                        **{c: self.entities[c] for c in sorted(others) if c in self.entities}}
        words = sum(confusion.values())
        cats: Counter = Counter()  # (gold_cat, pred_cat) -> n
        for (g, p), n in confusion.items():
            cats[(_category(g), _category(p))] += n
        names = sorted({c for pair in cats for c in pair} - {OUTSIDE}) + [OUTSIDE]
        token = {}
        for c in names:
            tp = cats[(c, c)]
            fp = sum(n for (g, p), n in cats.items() if p == c and g != c)
            fn = sum(n for (g, p), n in cats.items() if g == c and p != c)
            tn = words - tp - fp - fn
            token[c] = {"accuracy": (tp + tn) / words if words else 0.0, **_prf(tp, fp, fn), "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
        ents = [c for c in names if c != OUTSIDE]
        tp = sum(token[c]["tp"] for c in ents)
        fp = sum(token[c]["fp"] for c in ents)
        fn = sum(token[c]["fn"] for c in ents)
        micro = _prf(tp, fp, fn)
        n_ent = len(ents)
        macro = {
            "precision": sum(token[c]["precision"] for c in ents) / n_ent if n_ent else 0.0,
            "recall": sum(token[c]["recall"] for c in ents) / n_ent if n_ent else 0.0,
            "f1": sum(token[c]["f1"] for c in ents) / n_ent if n_ent else 0.0,
        }
        locs = set(self.location_labels)
        ltp = sum(n for (g, p), n in cats.items() if g in locs and p in locs)
        lfp = sum(n for (g, p), n in cats.items() if g not in locs and p in locs)
        lfn = sum(n for (g, p), n in cats.items() if g in locs and p not in locs)
        location_tok = {"accuracy": (words - lfp - lfn) / words if words else 0.0, **_prf(ltp, lfp, lfn), "support": ltp + lfn}
        exact = {}
        tags = sorted({t for pair in confusion for t in pair} - {OUTSIDE})
        for t in tags:
            etp = confusion[(t, t)]
            efp = sum(n for (g, p), n in confusion.items() if p == t and g != t)
            efn = sum(n for (g, p), n in confusion.items() if g == t and p != t)
            exact[t] = {**_prf(etp, efp, efn), "support": etp + efn}
        correct_words = sum(n for (g, p), n in confusion.items() if g == p)
        entity = {}
        for label, c in sorted(entities.items()):
            entity[label] = {**_prf(c["correct"], c["pred"] - c["correct"], c["true"] - c["correct"]), "support": c["true"]}
        t_all = sum(c["true"] for c in entities.values())
        p_all = sum(c["pred"] for c in entities.values())
        c_all = sum(c["correct"] for c in entities.values())
        loc = self.location
        geo = {"geo": self.geo.report()} if self.geo is not None and self.geo.gold else {}
        g = self.gold_spans
        spans = {} if g is None else {
            "gold_spans": g.spans,  # kept and scored; each other gold span is counted below with its reason
            **g.metrics(),
            "documents_with_unreadable_spans": g.unreadable,  # error rows in docs/, left out of every score
            "documents_with_unreadable_spans_examples": g.examples.get("unreadable", []),
        }
        return {
            "documents": self.documents,
            "words": words,
            "word_accuracy": correct_words / words if words else 0.0,
            "gold_typed": typed,
            # gold spans of types the model does not predict, by type: scored as O (module docstring)
            "gold_types_not_predicted": dict(sorted(self.not_predicted.items())),
            "token_level": {"per_category": token, "micro": micro, "macro": macro, "location": location_tok},
            "exact_tag": exact,
            "entity_level": {
                "per_label": entity,
                "micro": {**_prf(c_all, p_all - c_all, t_all - c_all), "support": t_all},
                "location": {
                    **_prf(loc["correct"], loc["pred"] - loc["correct"], loc["true"] - loc["correct"]),
                    "support": loc["true"],
                    "labels": self.location_labels,
                },
            },
            **spans,
            **geo,
        }


def format_report(rep: dict) -> str:
    """The end-of-run table: token level per category, then entity level."""
    lines = [f"metrics over {rep['documents']} documents, {rep['words']} words (word accuracy {rep['word_accuracy']:.4f})"]
    lines.append(f"{'token level':<14}{'acc':>8}{'prec':>8}{'rec':>8}{'f1':>8}{'support':>9}")
    for c, m in rep["token_level"]["per_category"].items():
        lines.append(f"  {c:<12}{m['accuracy']:>8.4f}{m['precision']:>8.4f}{m['recall']:>8.4f}{m['f1']:>8.4f}{m['support']:>9}")
    for k in ("micro", "macro"):
        m = rep["token_level"][k]
        lines.append(f"  {k:<12}{'':>8}{m['precision']:>8.4f}{m['recall']:>8.4f}{m['f1']:>8.4f}")
    m = rep["token_level"]["location"]
    lines.append(f"  {'locations*':<12}{m['accuracy']:>8.4f}{m['precision']:>8.4f}{m['recall']:>8.4f}{m['f1']:>8.4f}{m['support']:>9}")
    lines.append(f"{'entity level':<14}{'':>8}{'prec':>8}{'rec':>8}{'f1':>8}{'support':>9}")
    ent = rep["entity_level"]
    rows = list(ent["per_label"].items()) + [("micro", ent["micro"]), ("locations*", ent["location"])]
    for c, m in rows:
        lines.append(f"  {c:<12}{'':>8}{m['precision']:>8.4f}{m['recall']:>8.4f}{m['f1']:>8.4f}{m['support']:>9}")
    lines.append(f"  * {', '.join(rep['entity_level']['location']['labels'])} merged into one location type")
    if rep.get("gold_types_not_predicted"):
        kinds = ", ".join(f"{t} ({n:,} span{'s' * (n != 1)})" for t, n in rep["gold_types_not_predicted"].items())
        lines.append(f"  gold types the model does not predict, scored as O: {kinds}")
    if rep.get("gold_typed") is False:
        lines.append("  gold places carry no type: predicted location types are scored as one type throughout")
    if rep.get("geo"):
        lines += format_geo(rep["geo"])
    if "gold_spans" in rep:
        lines.append(f"gold spans: {rep['gold_spans']} scored, {rep['spans_skipped_type']} skipped by type, "
                     f"{rep['spans_skipped_bad_offsets']} skipped for bad offsets; "
                     f"{rep['documents_with_unreadable_spans']} documents with unreadable spans (error rows)")
        lines += span_warnings(rep)  # last, so a job's log ends with them
    return "\n".join(lines)
