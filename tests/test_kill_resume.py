"""Exactly-once under SIGKILL: `geobatch run` killed at random points, resumed, equals a clean run.

The job runs in a subprocess (`python -m geobatch run`) over a few thousand short generated
documents in units of 20. It is killed once while it opens OUT_DIR and then at seeded random
points spread over the run (at a chosen number of finished units plus a random fraction of a
unit, so kills land mid-part-write, between rename and journal, mid-append ...), each kill followed
by a resume, until a last resume completes. After every kill, what the manifest and journal call
finished must be whole on disk; at the end docs/, tokens/ and spans/ must equal an uninterrupted
run's as sorted row sets, with no row lost or duplicated, and no temporary file left.
"""

import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
import pytest
from tiny_onnx import tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.io.commit import LOCK, MANIFEST
from geobatch.io.journal import JOURNAL, replay

SEED = 5
N_DOCS = 1200
CHUNK = 20
UNITS = math.ceil(N_DOCS / CHUNK)
KILLS_MID_RUN = 5  # plus one while the job opens OUT_DIR
WORDS = ["Paris", "London", "Berlin", "France", "Germany", "New", "York", "United", "Kingdom", "the", "river", "market",
         "went", "to", "from", "and", "unaffable", "café", "東京", "😀", "e\u0301t"]


def write_corpus(path):
    rng = random.Random(SEED)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(N_DOCS):
            n = 0 if i % 37 == 0 else rng.randint(1, 32)  # some empty docs, some longer than one 16-piece window
            f.write(json.dumps({"id": f"d{i}", "text": " ".join(rng.choice(WORDS) for _ in range(n))}, ensure_ascii=False) + "\n")


def run_args(model, inp, out, chunk):
    return ["run", "--quiet", "--no-resolve", "--provider", "cpu", "--threads", "1", "--model", str(model), "--input", str(inp),
            "--output", str(out), "--chunk-size", str(chunk)]


def row_set(out, table):
    rows = pq.read_table(out / table).to_pylist()
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)


def finished_units(out) -> dict:
    """What a resume would treat as finished: manifest.json's units plus the journal's."""
    units = {}
    if (out / MANIFEST).exists():
        units.update(json.loads((out / MANIFEST).read_text())["units"])
    units.update(replay(out))
    return units


def assert_finished_units_whole(out):
    for unit, entry in finished_units(out).items():
        for table, rel in entry["parts"].items():
            assert pq.read_metadata(out / rel).num_rows == entry["rows"][table], (unit, table)


def parts_on_disk(out) -> int:
    d = out / "docs"
    return sum(1 for n in os.listdir(d) if n.startswith("part-")) if d.is_dir() else 0


def wait_for_parts(out, proc, target, timeout=90.0) -> float | None:
    """Poll until `target` docs parts are on disk; returns the median time a unit took (None if the
    process ended first), so a kill can be placed at a random fraction of the next unit."""
    end = time.monotonic() + timeout
    seen, changed, unit_times = -1, time.monotonic(), [0.05]
    while time.monotonic() < end:
        if proc.poll() is not None:
            return None
        n = parts_on_disk(out)
        if n != seen:
            now = time.monotonic()
            if seen >= 0 and n == seen + 1:
                unit_times.append(now - changed)
            seen, changed = n, now
        if n >= target:
            return min(sorted(unit_times)[len(unit_times) // 2], 0.25)
        time.sleep(0.003)
    raise AssertionError("the run made no progress in time")


def wait_for_lock(out, proc, timeout=90.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if (out / LOCK).exists():
            return True
        time.sleep(0.003)
    raise AssertionError("the run never took the lock")


def test_sigkill_at_random_points_then_resume_equals_clean_run(tmp_path, tiny_onnx_dir):  # noqa: F811
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    clean = tmp_path / "clean"
    t = time.perf_counter()
    assert main(run_args(tiny_onnx_dir, corpus, clean, 500)) == 0  # uninterrupted (in-process, bigger units)
    clean_s = time.perf_counter() - t

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", *run_args(tiny_onnx_dir, corpus, out, CHUNK)]
    rng = random.Random(SEED)
    targets = sorted(rng.sample(range(3, UNITS - 8), KILLS_MID_RUN))  # finished units at which to kill (8+ left)
    log = []
    t_all = time.perf_counter()
    for k in range(KILLS_MID_RUN + 1):
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if k == 0:  # while it takes the lock, cleans up and writes the manifest (or just after)
                alive = wait_for_lock(out, proc)
                time.sleep(rng.uniform(0.0, 0.05))
            else:
                unit_s = wait_for_parts(out, proc, targets[k - 1])
                alive = unit_s is not None
                time.sleep(rng.uniform(0.0, 1.0) * (unit_s or 0))  # somewhere inside the next unit
            assert alive and proc.poll() is None, f"run {k} ended before it could be killed: {proc.stderr.read().decode()}"
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        assert_finished_units_whole(out)
        leftovers = [p.name for p in out.rglob("*") if ".tmp-" in p.name]
        log.append(f"kill {k}: after {time.perf_counter() - t:.2f} s, {len(finished_units(out))}/{UNITS} units finished, "
                   f"{parts_on_disk(out)} docs parts on disk, {len(leftovers)} temp files")

    t = time.perf_counter()
    final = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    log.append(f"final resume: {time.perf_counter() - t:.2f} s; kill/resume chain {time.perf_counter() - t_all:.2f} s; "
               f"clean in-process run {clean_s:.2f} s")
    print("\n" + "\n".join(log))

    for table in ("docs", "tokens", "spans"):
        assert row_set(out, table) == row_set(clean, table), table
    ids = Counter(pq.read_table(out / "docs", columns=["doc_id"]).column(0).to_pylist())
    assert set(ids) == {f"d{i}" for i in range(N_DOCS)} and max(ids.values()) == 1  # 0 lost, 0 duplicated
    for table, key in (("tokens", "word_index"), ("spans", "span_index")):
        t = pq.read_table(out / table, columns=["doc_id", key]).to_pylist()
        assert len(t) == len({(r["doc_id"], r[key]) for r in t})

    m = json.loads((out / MANIFEST).read_text())
    assert m["complete"] and m["reconciled"] and m["input_rows"] == N_DOCS == m["rows"]["docs"]
    assert len(m["units"]) == UNITS and m["exit_code"] == 0
    for table in ("docs", "tokens", "spans"):
        on_disk = sum(pq.read_metadata(out / u["parts"][table]).num_rows for u in m["units"].values())
        assert m["rows"][table] == on_disk == len(row_set(clean, table)), table
    assert m["sessions"][-1]["resumed"] and len(m["sessions"]) >= KILLS_MID_RUN + 1
    # nothing else left: no temp files, no journal, no lock or lock side files, no orphan parts
    names = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    parts = {rel for u in m["units"].values() for rel in u["parts"].values()}
    assert names == parts | {MANIFEST}, sorted(names - parts - {MANIFEST})
    assert not (out / JOURNAL).exists()


# -- the states a kill can leave, built by hand: each resumes to the clean output -------------------

def small_job(tmp_path, model, n=10):
    corpus = tmp_path / "small.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"s{i}", "text": f"Paris {i} and London"}) + "\n" for i in range(n)))
    clean = tmp_path / "small-clean"
    assert main(run_args(model, corpus, clean, 2)) == 0
    return corpus, clean


def test_torn_journal_tail_is_dropped_and_that_unit_redone(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Killed mid-append: units 0-1 are in the journal, unit 2's line is torn, parts of 2-4 are orphans."""
    corpus, clean = small_job(tmp_path, tiny_onnx_dir)
    out = tmp_path / "out"
    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 0
    m = json.loads((out / MANIFEST).read_text())
    units = m["units"]
    lines = [json.dumps({"unit": u, "entry": units[u]}) + "\n" for u in sorted(units)[:3]]
    (out / JOURNAL).write_text(lines[0] + lines[1] + lines[2][: len(lines[2]) // 2])
    m.update(units={}, complete=False)
    (out / MANIFEST).write_text(json.dumps(m))
    assert sorted(replay(out)) == sorted(units)[:2]

    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 0
    m = json.loads((out / MANIFEST).read_text())
    assert m["sessions"][-1]["removed_stale"] == 9 and m["sessions"][-1]["docs"] == 6  # units 2-4 redone
    assert m["complete"] and m["reconciled"] and not (out / JOURNAL).exists()
    for table in ("docs", "tokens", "spans"):
        assert row_set(out, table) == row_set(clean, table)


def test_corrupt_journal_line_is_refused(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    corpus, _ = small_job(tmp_path, tiny_onnx_dir)
    out = tmp_path / "out"
    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 0
    (out / JOURNAL).write_text('{"unit": "00000-000000", "entr\n{"unit": "00000-000001", "entry": {}}\n')
    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 2
    assert capsys.readouterr().err.strip() == f"error: {out / JOURNAL} is corrupt at line 1; pass --overwrite to start this output over"
    assert main([*run_args(tiny_onnx_dir, corpus, out, 2), "--overwrite"]) == 0


def test_finished_unit_with_a_missing_part_is_redone(tmp_path, tiny_onnx_dir):  # noqa: F811
    corpus, clean = small_job(tmp_path, tiny_onnx_dir)
    out = tmp_path / "out"
    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 0
    (out / "tokens" / "part-00000-000001.parquet").unlink()
    assert main(run_args(tiny_onnx_dir, corpus, out, 2)) == 0
    s = json.loads((out / MANIFEST).read_text())["sessions"][-1]
    assert s["redone_missing_parts"] == 1 and s["removed_stale"] == 2 and s["docs"] == 2
    for table in ("docs", "tokens", "spans"):
        assert row_set(out, table) == row_set(clean, table)


def test_breaking_a_dead_lock_never_steals_a_live_one(tmp_path):
    """Two runs find the same dead owner's lock; one breaks it and takes the lock; the other, late,
    must give the live lock back instead of deleting it."""
    from geobatch.io.lock import OutputLock

    tmp_path.joinpath(LOCK).write_text(json.dumps({"pid": os.getpid(), "host": "here", "create_time": 0}))  # the live one
    OutputLock(tmp_path)._break(seen=b'{"pid": 999999, "host": "here"}')  # the late breaker saw the dead owner's
    assert json.loads(tmp_path.joinpath(LOCK).read_text())["pid"] == os.getpid()
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK]


# -- Ctrl-C and SIGTERM: the run closes OUT_DIR, says what it kept, and the same command resumes ----

@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_prints_the_resume_line_and_the_rerun_equals_a_clean_run(tmp_path, tiny_onnx_dir, sig, code):  # noqa: F811
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus)
    clean = tmp_path / "clean"
    assert main(run_args(tiny_onnx_dir, corpus, clean, 500)) == 0
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", *run_args(tiny_onnx_dir, corpus, out, CHUNK)]
    # a child started from a shell's background job inherits SIGINT ignored; Ctrl-C reaches a foreground job
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert wait_for_parts(out, proc, 5) is not None, proc.stderr.read()
        proc.send_signal(sig)
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    m = re.fullmatch(rf"interrupted by {signal.Signals(sig).name}: (\d+) units \(([\d,]+) input rows\) committed in "
                     rf"{re.escape(str(out))} are kept; run the same command again to resume from them", lines[0])
    assert m, lines[0]
    kept = int(m[1])
    manifest = json.loads((out / MANIFEST).read_text())  # the journal was folded into it on the way out
    assert kept >= 4 and kept == len(manifest["units"]) and not manifest["complete"]  # 5 docs parts: 4 units certainly done
    assert int(m[2].replace(",", "")) == sum(u["input_rows"] for u in manifest["units"].values()) == kept * CHUNK
    assert not (out / JOURNAL).exists() and not (out / LOCK).exists()
    assert_finished_units_whole(out)

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    m = json.loads((out / MANIFEST).read_text())
    assert m["complete"] and m["sessions"][-1]["docs"] == N_DOCS - kept * CHUNK  # the kept units were not redone
    for table in ("docs", "tokens", "spans"):
        assert row_set(out, table) == row_set(clean, table), table
