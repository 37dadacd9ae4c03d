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
