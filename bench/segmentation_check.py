"""Issue 14's two sentences through `geobatch run`: prints each place span and checks that "U.S.",
"D.C.", "U.K." and "W.Va." come back whole, final period included.

    python bench/segmentation_check.py --model models/geoparse [--require U.S. D.C. U.K. W.Va.]

Exit 0 when every required name is a span or ends one ("Washington, D.C." counts for "D.C."), 1 when
one is missing or cut, 2 for a bad --model. `make model` runs it on the model it trained.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import doc_parser

from geobatch.cli import main as geobatch

SENTENCES = {
    "s1": "The U.S. embassy in Port-au-Prince said officials in Washington, D.C. and St. Louis met envoys "
          "from Guinea-Bissau and the U.K. on Tuesday.",
    "s2": "Officials in Dalton, Ga., and Wheeling, W.Va., said the Ohio River flooded parts of Kanawha County.",
}


def place_spans(model: str, variant: str) -> list[dict]:
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs.jsonl"
        docs.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in SENTENCES.items()), encoding="utf-8")
        rc = geobatch(["run", "--model", model, "--input", str(docs), "--output", str(Path(tmp) / "out"),
                       "--no-resolve", "--quiet", "--variant", variant])
        if rc != 0:
            sys.exit(2)
        return pq.read_table(Path(tmp) / "out" / "spans").to_pylist()


def main(argv=None) -> int:
    p = doc_parser(__doc__)
    p.add_argument("--model", required=True, help="MODEL_DIR")
    p.add_argument("--variant", default="fp32")
    p.add_argument("--require", nargs="*", default=["U.S.", "D.C.", "U.K.", "W.Va."])
    args = p.parse_args(argv)
    spans = place_spans(args.model, args.variant)
    for doc_id in SENTENCES:
        print(f"{doc_id}: " + " | ".join(f"{s['text']} ({s['label']} {s['confidence']:.2f})" for s in spans if s["doc_id"] == doc_id))
    texts = [s["text"] for s in spans]
    missing = [name for name in args.require if not any(t == name or t.endswith(" " + name) for t in texts)]
    if missing:
        print(f"not whole spans: {', '.join(missing)}")
        return 1
    print(f"whole spans: {', '.join(args.require)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
