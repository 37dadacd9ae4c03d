"""`geobatch run --workers N` (local engine): the tables of one process, and exactly-once output when
the parent or one worker is killed, or the run is stopped by Ctrl-C / SIGTERM.

Workers are real spawned processes running the tiny ONNX model; the kills are real signals.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter

import psutil
import pyarrow.parquet as pq
import pytest
import test_kill_resume as kr
from tiny_onnx import tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.engines.workers import threads_per_worker
from geobatch.io.commit import LOCK, MANIFEST
from geobatch.io.journal import JOURNAL

CHUNK = 20


def workers_args(model, inp, out, chunk, workers):
    return [*kr.run_args(model, inp, out, chunk), "--workers", str(workers)]


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_onnx_dir):  # noqa: F811
    """The corpus of test_kill_resume (1,200 docs, some empty, some longer than a window) and its one-process output."""
    d = tmp_path_factory.mktemp("workers")
    corpus = d / "corpus.jsonl"
    kr.write_corpus(corpus)
    clean = d / "clean"
    assert main(kr.run_args(tiny_onnx_dir, corpus, clean, CHUNK)) == 0
    return corpus, clean


def assert_equals_clean(out, clean):
    for table in ("docs", "tokens", "spans"):
        assert kr.row_set(out, table) == kr.row_set(clean, table), table
    ids = Counter(pq.read_table(out / "docs", columns=["doc_id"]).column(0).to_pylist())
    assert set(ids) == {f"d{i}" for i in range(kr.N_DOCS)} and max(ids.values()) == 1  # 0 lost, 0 duplicated
    m = json.loads((out / MANIFEST).read_text())
    assert m["complete"] and m["reconciled"] and m["input_rows"] == kr.N_DOCS and len(m["units"]) == kr.UNITS
    assert not (out / JOURNAL).exists() and not (out / LOCK).exists()
    assert not [p.name for p in out.rglob("*") if ".tmp-" in p.name]
    return m


def start(cmd, **kw):
    # SIG_IGN survives exec: under a suite started as a shell's background job (nohup … &) the run would
    # inherit SIGINT ignored, as test_kill_resume notes, and a Ctrl-C test would see it finish with 0
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


def workers_of(proc, method="fork", n=2, timeout=60.0) -> list[psutil.Process]:
    """The worker processes of a `geobatch run --workers n`. Spawned ones are told by their command line
    (a child not yet exec'd, such as spawn's resource tracker, still shows the parent's)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = []
        for c in psutil.Process(proc.pid).children():
            try:
                line = " ".join(c.cmdline())
            except psutil.Error:
                continue
            if ("spawn_main" in line) if method == "spawn" else ("resource_tracker" not in line):
                kids.append(c)
        if len(kids) >= n:
            return kids
        time.sleep(0.01)
    raise AssertionError("the workers never started")


def assert_gone(procs, timeout=15.0):
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    assert not alive, f"workers left running: {[p.pid for p in alive]}"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_two_workers_write_the_tables_of_one_process(tmp_path, job, tiny_onnx_dir, method, monkeypatch):  # noqa: F811
    corpus, clean = job
    out = tmp_path / "w2"
    monkeypatch.setenv("GEOBATCH_WORKER_START", method)
    assert main(workers_args(tiny_onnx_dir, corpus, out, CHUNK, 2)) == 0
    m = assert_equals_clean(out, clean)
    one = json.loads((clean / MANIFEST).read_text())
    assert list(m["units"]) == list(one["units"])  # committed in reading order, as one process does
    for u in m["units"]:  # the same part names and row counts per unit
        assert m["units"][u]["parts"] == one["units"][u]["parts"] and m["units"][u]["rows"] == one["units"][u]["rows"]
    assert m["workers"]["workers"] == 2 and sum(m["workers"]["units"]) == kr.UNITS and m["workers"]["start_method"] == method


def test_two_workers_keep_the_metrics_of_gold_input(tmp_path, tiny_onnx_dir):  # noqa: F811
    """Word-per-row input with gold tags: metrics are merged from the workers' partials."""
    gmb = tmp_path / "in.csv"
    rows = ["Sentence #,Word,POS,Tag"]
    for i in range(60):
        rows += [f"Sentence: {i},Paris,NNP,B-geo", ",is,VBZ,O", ",in,IN,O", f",{'France' if i % 3 else 'Spain'},NNP,B-gpe",
                 ",Port-au-Prince,NNP,B-geo", ",.,.,O"]
    gmb.write_text("\n".join(rows) + "\n", encoding="utf-8")
    outs = []
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        assert main(["run", "--quiet", "--no-resolve", "--provider", "cpu", "--model", str(tiny_onnx_dir), "--input", str(gmb),
                     "--format", "gmb", "--output", str(out), "--chunk-size", "7", "--workers", str(n)]) == 0
        outs.append(out)
    for table in ("docs", "tokens", "spans"):
        assert kr.row_set(outs[0], table) == kr.row_set(outs[1], table), table
    assert json.loads((outs[0] / "metrics.json").read_text()) == json.loads((outs[1] / "metrics.json").read_text())


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigkill_of_the_parent_then_resume_equals_one_clean_run(tmp_path, job, tiny_onnx_dir, method):  # noqa: F811
    """Forked workers too: each closed the parent's ends of its siblings' pipes, so all see EOF."""
    corpus, clean = job
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", *workers_args(tiny_onnx_dir, corpus, out, CHUNK, 2)]
    proc = start(cmd, env={**os.environ, "GEOBATCH_WORKER_START": method})
    try:
        kids = workers_of(proc, method)
        unit_s = kr.wait_for_parts(out, proc, 12)
        assert unit_s is not None, proc.stderr.read()
        time.sleep(unit_s / 2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert_gone(kids)  # orphaned workers see their pipe close and exit
    kr.assert_finished_units_whole(out)
    assert 0 < len(kr.finished_units(out)) < kr.UNITS
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    m = assert_equals_clean(out, clean)
    assert m["sessions"][-1]["resumed"]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigkill_of_one_worker_names_its_unit_and_a_rerun_completes(tmp_path, job, tiny_onnx_dir, method):  # noqa: F811
    corpus, clean = job
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", *workers_args(tiny_onnx_dir, corpus, out, CHUNK, 2)]
    proc = start(cmd, env={**os.environ, "GEOBATCH_WORKER_START": method})
    try:
        kids = workers_of(proc, method)
        assert kr.wait_for_parts(out, proc, 10) is not None, proc.stderr.read()
        kids[0].send_signal(signal.SIGKILL)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and re.match(rf"error: worker [12] \(pid {kids[0].pid}\) killed by SIGKILL while tagging unit ", lines[0]), err
    lost = lines[0].split("while tagging unit ")[1].split()[0]
    finished = kr.finished_units(out)
    assert lost not in finished and 0 < len(finished) < kr.UNITS
    assert not list((out / "docs").glob(f"part-{lost}*"))  # never half-written: nothing of the lost unit on disk
    kr.assert_finished_units_whole(out)
    assert_gone(kids)
    assert not (out / LOCK).exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert_equals_clean(out, clean)


@pytest.mark.parametrize("sig, code, group", [(signal.SIGINT, 130, True), (signal.SIGTERM, 143, False)])
def test_ctrl_c_or_sigterm_stops_the_workers_with_one_resume_line(tmp_path, job, tiny_onnx_dir, sig, code, group):  # noqa: F811
    """Ctrl-C reaches the whole process group (workers too); SIGTERM only the parent. Either way: one line, exit 130/143."""
    corpus, clean = job
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "geobatch", *workers_args(tiny_onnx_dir, corpus, out, CHUNK, 2)]
    proc = start(cmd, start_new_session=True)
    try:
        kids = workers_of(proc)
        assert kr.wait_for_parts(out, proc, 8) is not None, proc.stderr.read()
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        err = proc.communicate(timeout=120)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "committed in" in lines[0] and "run the same command again to resume" in lines[0], err
    assert_gone(kids)
    kr.assert_finished_units_whole(out)
    assert not (out / LOCK).exists() and not (out / JOURNAL).exists()  # closed cleanly: journal folded, lock released
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert_equals_clean(out, clean)


def test_bad_worker_counts_are_one_line(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "Paris"}\n')
    assert main(workers_args(tiny_onnx_dir, corpus, tmp_path / "out", 5, 0)) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --workers must be at least 1; pass a positive number of worker processes"
    assert not (tmp_path / "out").exists()


def test_a_model_the_workers_cannot_load_leaves_no_output(tmp_path, tiny_onnx_dir, capsys):  # noqa: F811
    """Checked in the workers before OUT_DIR is touched: one line, exit 2, as with one process."""
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "Paris"}\n')
    rc = main([*workers_args(tiny_onnx_dir, corpus, tmp_path / "out", 5, 2), "--max-length", "2"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error: --max-length 2"), err
    assert not (tmp_path / "out").exists()


def test_workers_are_forked_only_where_safe(monkeypatch):
    import threading

    from geobatch.engines.workers import start_method

    monkeypatch.delenv("GEOBATCH_WORKER_START", raising=False)
    assert start_method("cuda") == "spawn"  # a CUDA context must never cross a fork
    if threading.active_count() == 1:
        assert start_method("cpu") == "fork"
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert start_method("cpu") == "spawn"  # another thread could hold a lock the child inherits
    finally:
        stop.set()
        t.join()
    monkeypatch.setenv("GEOBATCH_WORKER_START", "spawn")
    assert start_method("cpu") == "spawn"


def test_cpu_threads_are_divided_among_workers():
    assert threads_per_worker(8, 4, "cpu") == 2 and threads_per_worker(3, 2, "auto") == 1 and threads_per_worker(1, 4, "cpu") == 1
    assert threads_per_worker(None, 2, "cpu") == max(1, (os.cpu_count() or 1) // 2)
    assert threads_per_worker(None, 8, "cuda") is None and threads_per_worker(4, 8, "cuda") == 4


def test_units_that_come_back_out_of_order_are_committed_in_reading_order():
    """The scheduling loop alone, with a stand-in pool whose workers answer newest first: every unit
    is committed once, in reading order, with at most 2 units a worker outstanding."""
    from types import SimpleNamespace

    from geobatch.engines.workers import Task, tag_units

    class Pool:
        def __init__(self, n):
            self.workers = [SimpleNamespace(task=None) for _ in range(n)]
            self.given = 0

        def give(self, w, task):
            w.task = task
            self.given += 1
            assert self.given - len(committed) <= 2 * len(self.workers)  # handed out, not yet committed

        def wait_any(self):
            busy = [w for w in self.workers if w.task is not None]
            w = max(busy, key=lambda w: w.task.unit_id)  # the newest unit comes back first
            task, w.task = w.task, None
            return [(task, f"result of {task.unit_id}")]

    for n in (1, 2, 3):
        pool, committed = Pool(n), []
        tasks = (Task(f"{k:05d}", None, 0, True, "", {}) for k in range(25))

        def commit(task, result):
            assert result == f"result of {task.unit_id}"
            committed.append(task.unit_id)

        tag_units(pool, tasks, commit)
        assert committed == [f"{k:05d}" for k in range(25)]


@pytest.mark.parametrize("flag", [(), ("--focus-fallback",)], ids=["default", "focus-fallback"])
def test_workers_build_the_resolver_with_focus_fallback_and_fill_the_focus_columns(tmp_path, tiny_onnx_dir, monkeypatch, flag):  # noqa: F811
    """Issue 17 through --workers: each worker's resolver gets --focus-fallback, the focus and resolved_by
    it returns reach docs/ and spans/ as with one process, and the job's identity records the switch.
    Forked workers inherit the fake resolver (a spawned one would import the real module)."""
    import geobatch.resolve as resolve_pkg
    from geobatch.resolve.focus import Resolutions

    def fake_build_resolver(cache_dir=None, log=None, focus_fallback=False):
        def resolve(text, spans):
            by = "document_focus" if focus_fallback else None
            return Resolutions([{"resolved_by": by, "latitude": 48.85, "longitude": 2.35} for _ in spans],
                               {"focus_country_code": "FR", "focus_admin1_code": "on" if focus_fallback else "off",
                                "focus_latitude": 48.85, "focus_longitude": 2.35})
        return resolve

    monkeypatch.setattr(resolve_pkg, "build_resolver", fake_build_resolver)
    monkeypatch.setenv("GEOBATCH_WORKER_START", "fork")
    corpus = tmp_path / "in.jsonl"
    texts = ["We flew from Paris to London.", "Then Germany and the U.S. embassy in St. Louis.", "nothing to see", "", "Kenya"]
    corpus.write_text("".join(json.dumps({"id": f"d{i}", "text": texts[i % len(texts)]}) + "\n" for i in range(60)))
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        args = [a for a in kr.run_args(tiny_onnx_dir, corpus, out, 7) if a != "--no-resolve"]
        assert main([*args, "--workers", str(n), *flag]) == 0
        outs[n] = out
    for table in ("docs", "spans"):
        assert kr.row_set(outs[2], table) == kr.row_set(outs[1], table), table
    docs = pq.read_table(outs[2] / "docs").to_pylist()
    with_spans = [d for d in docs if d["n_spans"]]
    assert with_spans, "the tiny model made no span: nothing to check"
    assert {d["focus_admin1_code"] for d in with_spans} == {"on" if flag else "off"}
    assert {s["resolved_by"] for s in pq.read_table(outs[2] / "spans").to_pylist() if s["label"] in ("geo", "gpe")} <= \
        {"document_focus" if flag else None}
    m = json.loads((outs[2] / MANIFEST).read_text())
    assert m["job"]["settings"]["resolve"] and m["job"]["settings"]["focus_fallback"] is bool(flag)
