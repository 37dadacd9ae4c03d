"""bench/demo_names.py: how the demo model's spans cover the corpus's gold places of several words."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import demo_names  # noqa: E402

TEXT = "Flights from Buenos Aires to Paris and Mount Elbrus, then Lake Chad and the Rio de Janeiro port."


def _span(name: str) -> tuple[int, int]:
    start = TEXT.index(name)
    return start, start + len(name)


def test_classify_multiword_whole_split_other_missed():
    gold = [_span(n) for n in ("Buenos Aires", "Paris", "Mount Elbrus", "Lake Chad", "Rio de Janeiro")]
    b, e = _span("Buenos Aires")
    m, me = _span("Mount Elbrus")
    r, _ = _span("Rio de Janeiro")
    predicted = [
        (b, e, "geo"),  # whole
        (*_span("Paris"), "geo"),  # one word: not counted whatever it gets
        (m, m + 5, "geo"), (m + 6, me, "geo"),  # "Mount" | "Elbrus": split
        (r, r + 3, "geo"),  # "Rio" alone: one span, wrong boundaries
    ]  # nothing over Lake Chad: missed
    got = demo_names.classify_multiword(TEXT, gold, predicted)
    assert got == [("Buenos Aires", "whole"), ("Mount Elbrus", "split"), ("Lake Chad", "missed"), ("Rio de Janeiro", "other")]


def test_split_by_type_needs_adjacent_spans_covering_the_place_with_different_labels():
    m, me = _span("Mount Elbrus")
    gold = [(m, me)]
    by_type = [(m + 6, me, "gpe"), (m, m + 5, "geo")]  # given out of order: sorted before comparing
    assert demo_names.classify_multiword(TEXT, gold, by_type) == [("Mount Elbrus", "split_by_type")]
    # same label: the model ended the place after "Mount", a plain split
    assert demo_names.classify_multiword(TEXT, gold, [(m, m + 5, "geo"), (m + 6, me, "geo")]) == [("Mount Elbrus", "split")]
    # the pieces do not reach the place's end: a plain split
    assert demo_names.classify_multiword(TEXT, gold, [(m, m + 5, "geo"), (m + 6, me - 1, "gpe")]) == [("Mount Elbrus", "split")]


def test_classify_multiword_counts_overlap_not_containment():
    # a span that runs past the place ("Elbrus, then") still overlaps it, so two such spans are a split
    m, me = _span("Mount Elbrus")
    got = demo_names.classify_multiword(TEXT, [(m, me)], [(m - 4, m + 5, "geo"), (m + 6, me + 6, "gpe")])
    assert got == [("Mount Elbrus", "split")]
    # a predicted span that merely touches the place's end is not over it
    assert demo_names.classify_multiword(TEXT, [(m, me)], [(m, me, "geo"), (me, me + 1, "geo")]) == [("Mount Elbrus", "whole")]


def test_score_reads_run_output_and_check_exit_code(tmp_path, capsys):
    corpus = tmp_path / "corpus.parquet"
    gold = [{"start": s, "end": e, "label": "geo"} for s, e in (_span("Buenos Aires"), _span("Mount Elbrus"))]
    pq.write_table(pa.table({"id": ["d1"], "text": [TEXT], "spans": [gold]}), corpus)
    out = tmp_path / "out"
    (out / "spans").mkdir(parents=True)
    b, e = _span("Buenos Aires")
    m, me = _span("Mount Elbrus")
    rows = [(b, e, "geo"), (m, m + 5, "geo"), (m + 6, me, "gpe")]
    pq.write_table(pa.table({"doc_id": ["d1"] * 3, "start_char": [r[0] for r in rows], "end_char": [r[1] for r in rows],
                             "label": [r[2] for r in rows]}), out / "spans" / "part-0.parquet")
    location = {"precision": 0.95, "recall": 0.95, "f1": 0.95, "support": 2}
    (out / "metrics.json").write_text(json.dumps({"entity_level": {"location": location}}))

    res = demo_names.score(out, corpus)
    assert res["multiword"] == {"gold": 2, "whole": 1, "split": 1, "split_by_type": 1, "other": 0, "missed": 0}
    assert res["examples"] == {"split_by_type": {"Mount Elbrus": 1}}
    # F1 is high enough but a place is split: the check fails
    assert demo_names.main([str(out), "--corpus", str(corpus), "--check"]) == 1
    assert "split 1" in capsys.readouterr().out
    pq.write_table(pa.table({"doc_id": ["d1"] * 2, "start_char": [b, m], "end_char": [e, me], "label": ["geo", "geo"]}),
                   out / "spans" / "part-0.parquet")
    assert demo_names.main([str(out), "--corpus", str(corpus), "--check"]) == 0
    # whole names but F1 below 0.90: fails again
    (out / "metrics.json").write_text(json.dumps({"entity_level": {"location": {**location, "f1": 0.89}}}))
    assert demo_names.main([str(out), "--corpus", str(corpus), "--check"]) == 1
