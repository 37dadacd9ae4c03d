"""Does the demo model find whole place names? Scores a `geobatch run` output against the bundled corpus.

    python bench/demo_names.py runs/demo/out                       # corpus: data/sample_corpus.parquet
    python bench/demo_names.py OUT --corpus CORPUS.parquet --json  # machine-readable

Prints the entity-level location precision/recall/F1 that the run wrote to OUT/metrics.json and
counts the gold places of more than one word (gold spans containing a space) by what the model
returned over their characters: one span that is exactly the place (whole), two or more spans
(split: "Buenos|Aires"), one span that is not exactly the place (other: too short, too long), or
nothing (missed). Issue 18 asks for no split place and location F1 >= 0.90; --check exits 1
when either fails.

Of the split places it also counts those split only by a change of type: spans that together cover
exactly the place, with different labels ("Sri" gpe + "Lankan" geo, from tags B-gpe I-geo).
metrics.json's location F1 merges geo and gpe before it extracts entities, so it counts such a
place as found, while `geobatch run`'s spans (decode_spans starts a new span when an I- tag's type
differs) return two places.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from common import ROOT, doc_parser

WHOLE, SPLIT, OTHER, MISSED = "whole", "split", "other", "missed"
SPLIT_BY_TYPE = "split_by_type"  # a kind of SPLIT, counted apart


def classify_multiword(text: str, gold: list[tuple[int, int]], predicted: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    """For each gold span of one document whose text has a space: (its text, kind), kind one of
    WHOLE, SPLIT, SPLIT_BY_TYPE, OTHER, MISSED.

    gold holds (start, end) character ranges, predicted (start, end, label); a predicted span
    counts for a gold place when their ranges overlap. SPLIT_BY_TYPE: two or more spans, in order,
    that start and end with the place, touch one another (only spaces between them) and do not all
    have one label.
    """
    out = []
    for start, end in gold:
        surface = text[start:end]
        if " " not in surface:
            continue
        over = sorted((s, e, label) for s, e, label in predicted if s < end and start < e)
        if not over:
            kind = MISSED
        elif len(over) >= 2:
            contiguous = all(text[a[1] : b[0]].strip() == "" for a, b in zip(over, over[1:]))
            exact = over[0][0] == start and over[-1][1] == end
            kind = SPLIT_BY_TYPE if contiguous and exact and len({label for *_, label in over}) > 1 else SPLIT
        elif over[0][:2] == (start, end):
            kind = WHOLE
        else:
            kind = OTHER
        out.append((surface, kind))
    return out


def score(out_dir: Path, corpus: Path) -> dict:
    import pyarrow.parquet as pq

    docs = pq.read_table(corpus, columns=["id", "text", "spans"]).to_pylist()
    spans = pq.read_table(out_dir / "spans", columns=["doc_id", "start_char", "end_char", "label"]).to_pylist()
    predicted: dict[str, list[tuple[int, int, str]]] = {}
    for s in spans:
        predicted.setdefault(s["doc_id"], []).append((s["start_char"], s["end_char"], s["label"]))
    kinds: Counter = Counter()
    examples: dict[str, Counter] = {}
    for d in docs:
        gold = [(s["start"], s["end"]) for s in d["spans"]]
        for surface, kind in classify_multiword(d["text"], gold, predicted.get(d["id"], [])):
            kinds[kind] += 1
            examples.setdefault(kind, Counter())[surface] += 1
    kinds[SPLIT] += kinds[SPLIT_BY_TYPE]  # SPLIT counts every split place
    location = json.loads((out_dir / "metrics.json").read_text())["entity_level"]["location"]
    return {
        "location": {k: location[k] for k in ("precision", "recall", "f1", "support")},
        "multiword": {"gold": sum(kinds.values()) - kinds[SPLIT_BY_TYPE],
                      **{k: kinds[k] for k in (WHOLE, SPLIT, SPLIT_BY_TYPE, OTHER, MISSED)}},
        "examples": {k: dict(v.most_common(8)) for k, v in examples.items() if k != WHOLE},
    }


def main(argv: list[str] | None = None) -> int:
    ap = doc_parser(__doc__)
    ap.add_argument("out", type=Path, help="a `geobatch run` output directory (spans/, metrics.json)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "data" / "sample_corpus.parquet", help="the run's input, with gold spans")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 unless location F1 >= 0.90 and no place is split")
    args = ap.parse_args(argv)
    res = score(args.out, args.corpus)
    if args.json:
        print(json.dumps(res, indent=2, ensure_ascii=False))
    else:
        loc, mw = res["location"], res["multiword"]
        print(f"entity-level location: precision {loc['precision']:.3f} recall {loc['recall']:.3f} "
              f"F1 {loc['f1']:.3f} ({loc['support']} gold places)")
        print(f"gold places of several words: {mw['gold']}; whole {mw[WHOLE]}, split {mw[SPLIT]} "
              f"({mw[SPLIT_BY_TYPE]} of them only by a change of type), other boundaries {mw[OTHER]}, missed {mw[MISSED]}")
        for kind, ex in res["examples"].items():
            print(f"  {kind}: " + ", ".join(f"{s} ({n})" for s, n in ex.items()))
    if args.check:
        return 0 if res["location"]["f1"] >= 0.90 and res["multiword"][SPLIT] == 0 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
