"""Entity-level scores of word tags, as training selects epochs by them."""

from __future__ import annotations

from geobatch.labels import split_tag


def merged_places(tags: list[str], place: set[str]) -> list[str]:
    """Every place type (and "*", any place) as one `location` type: how users score place names."""
    out = []
    for t in tags:
        prefix, etype = split_tag(t)
        out.append(f"{prefix}-location" if etype in place else t)
    return out


def untaught_as_outside(gold: list[str], pred: list[str], untaught: str) -> tuple[list[str], list[str]]:
    """Words of an untaught span ("?", e.g. GMB's organisations) score neither way: O against O.

    The model is not taught what they are, so a place predicted inside "U.S. Embassy" is neither
    right nor wrong; a predicted span that runs past the untaught words is cut at them.
    """
    skip = [split_tag(t)[1] == untaught for t in gold]
    if not any(skip):
        return gold, pred
    g = ["O" if s else t for t, s in zip(gold, skip)]
    p = ["O" if s else t for t, s in zip(pred, skip)]
    # a span cut at its head would start with I-: seqeval reads that as a new span, which is what is meant
    return g, p


def entity_metrics(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity-level exact-span P/R/F1 (seqeval, CoNLL semantics) overall and per type, plus word accuracy."""
    from seqeval.metrics import classification_report

    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    words = sum(len(g) for g in gold)
    correct = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return {
        "entity_precision": round(float(micro["precision"]), 4),
        "entity_recall": round(float(micro["recall"]), 4),
        "entity_f1": round(float(micro["f1-score"]), 4),
        "per_type": {
            k: {"precision": round(float(v["precision"]), 4), "recall": round(float(v["recall"]), 4),
                "f1": round(float(v["f1-score"]), 4), "support": int(v["support"])}
            for k, v in report.items() if not k.endswith(" avg")
        },
        "word_accuracy": round(correct / max(words, 1), 4),
        "words": words,
    }
