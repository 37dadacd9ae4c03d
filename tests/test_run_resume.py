"""Commit protocol: resume after an interruption, stale files, refusal of another job, the lock."""

import json
import os
import signal
import socket
import subprocess
import sys

import psutil
import pyarrow.parquet as pq
import pytest
from tiny_onnx import build_tiny_model_dir, tiny_onnx_dir  # noqa: F401

from run_helpers import one_error_line
from geobatch.cli import main
from geobatch.engines import RunConfig
from geobatch.engines.local import run_local
from geobatch.io.commit import LOCK
from geobatch.io.journal import Journal
from geobatch.pipeline import Pipeline, PipelineOptions
from geobatch.stop import Interrupted as StoppedRun
from geobatch.stop import Terminated, sigterm_raises

N = 10


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("".join(json.dumps({"id": f"d{i}", "text": f"doc {i} Paris and London, then France {i}"}) + "\n" for i in range(N)))
    return p


def config(model, inp, out, **kw):
    return RunConfig(model=str(model), inputs=[str(inp)], output=str(out), pipeline=PipelineOptions(provider="cpu"),
                     chunk_size=2, quiet=True, resolve=False, **kw)


def rows(out, table):
    return sorted(tuple(sorted(r.items(), key=lambda kv: kv[0])) for r in pq.read_table(out / table).to_pylist())


class Interrupted(Exception):
    pass


class CountingPipeline(Pipeline):
    def __init__(self, *a, fail_at=None, **kw):
        super().__init__(*a, **kw)
        self.calls = 0
        self.fail_at = fail_at

    def process(self, *a, **kw):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Interrupted
        return super().process(*a, **kw)


def test_resume_skips_finished_units_and_matches_clean_run(tmp_path, tiny_onnx_dir, corpus):  # noqa: F811
    clean = tmp_path / "clean"
    assert run_local(config(tiny_onnx_dir, corpus, clean)).exit_code == 0

    out = tmp_path / "out"
    first = CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"), fail_at=3)
    with pytest.raises(Interrupted):
        run_local(config(tiny_onnx_dir, corpus, out), pipeline=first)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["units"]) == ["00000-000000", "00000-000001"] and not manifest["complete"]
    assert not (out / LOCK).exists()  # released on the way out
    # what a SIGKILL between rename and manifest update, or mid-write, leaves behind
    (out / "docs" / ".part-00000-000002.parquet.tmp-999").write_bytes(b"half")
    (out / "tokens" / "part-00000-000004.parquet").write_bytes(b"orphan")

    second = CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"))
    summary = run_local(config(tiny_onnx_dir, corpus, out), pipeline=second)
    assert summary.exit_code == 0 and second.calls == N // 2 - 2  # only unfinished units were processed
    assert not any(".tmp-" in p.name for p in (out / "docs").iterdir())
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["removed_stale"] == 2 and manifest["reconciled"] and manifest["complete"]
    for table in ("docs", "tokens", "spans"):
        assert rows(out, table) == rows(clean, table)
    assert len(rows(out, "docs")) == N


def test_other_model_refused_unless_overwrite(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    out = tmp_path / "out"
    args = ["run", "--quiet", "--no-resolve", "--input", str(corpus), "--output", str(out)]
    assert main([*args, "--model", str(tiny_onnx_dir)]) == 0
    other = build_tiny_model_dir(tmp_path / "other", input_dtype="int32")
    assert main([*args, "--model", str(other)]) == 2
    assert "holds the output of a different job: model sha256" in capsys.readouterr().err
    assert main([*args, "--model", str(other), "--chunk-size", "3"]) == 2
    assert main([*args, "--model", str(other), "--overwrite"]) == 0
    assert len(pq.read_table(out / "docs")) == N
    assert main([*args, "--model", str(other), "--chunk-size", "3"]) == 2
    assert "settings differ (chunk_size)" in capsys.readouterr().err


def test_overwrite_never_deletes_files_geobatch_did_not_write(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    # a folder of the user's own named docs/ used to get "has docs/tokens/spans but no manifest.json;
    # pass --overwrite", and --overwrite then deleted it
    out = tmp_path / "out"
    (out / "docs").mkdir(parents=True)
    (out / "docs" / "README.md").write_text("mine")
    args = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(corpus), "--output", str(out)]
    for extra in ([], ["--overwrite"]):
        assert main([*args, *extra]) == 2
        assert "did not write where its tables go (docs/README.md)" in one_error_line(capsys)
        assert (out / "docs" / "README.md").read_text() == "mine"
    # geobatch's own output, even from another job, is still replaced
    (out / "docs" / "README.md").unlink()
    assert main(args) == 0
    assert main([*args[:-2], "--output", str(out), "--chunk-size", "3", "--overwrite"]) == 0
    assert len(pq.read_table(out / "docs")) == N


def test_an_output_inside_the_input_folder_is_not_read_as_input(tmp_path, tiny_onnx_dir, corpus):  # noqa: F811
    # the nightly rerun read last night's part files as input and stopped on their columns
    folder = tmp_path / "inbox"
    folder.mkdir()
    os.replace(corpus, folder / "in.jsonl")
    out = folder / "out"
    for inp in (folder, folder / "*"):
        args = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(inp), "--output", str(out)]
        assert main(args) == 0
        assert main(args) == 0  # the rerun: same inputs, resumed, nothing read twice
        m = json.loads((out / "manifest.json").read_text())
        assert [i["path"] for i in m["job"]["inputs"]] == [str(folder / "in.jsonl")]
        assert len(pq.read_table(out / "docs")) == N
        assert main([*args, "--overwrite"]) == 0


def test_an_input_inside_the_output_is_named_as_such(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    # it said "holds no input files", which sends the user looking at the corpus, not the paths
    out = tmp_path / "out"
    args = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--output", str(out)]
    assert main([*args, "--input", str(corpus)]) == 0
    assert main([*args, "--input", str(out / "docs")]) == 2
    assert "lies inside --output" in one_error_line(capsys)
    assert main([*args, "--input", str(out / "docs" / "*.parquet")]) == 2
    assert "matches only files inside --output" in one_error_line(capsys)


@pytest.mark.parametrize("damage", ["truncate", "same_size"])
def test_a_damaged_part_of_a_finished_unit_is_redone(tmp_path, tiny_onnx_dir, corpus, damage):  # noqa: F811
    # resume used to check only that part files exist: a truncated part was trusted, the summary
    # claimed its rows and the table could not be read
    clean = tmp_path / "clean"
    assert run_local(config(tiny_onnx_dir, corpus, clean)).exit_code == 0
    out = tmp_path / "out"
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    part = out / "tokens" / "part-00000-000001.parquet"
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2] if damage == "truncate" else data[:-4] + b"XXXX")
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    assert json.loads((out / "manifest.json").read_text())["sessions"][-1]["redone_missing_parts"] == 1
    for t in ("docs", "tokens", "spans"):
        assert rows(out, t) == rows(clean, t)


def _write_lock(out, pid):
    out.mkdir(parents=True, exist_ok=True)
    (out / LOCK).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "create_time": psutil.Process(pid).create_time()
                                        if psutil.pid_exists(pid) else 0.0}))


def test_lock_refuses_a_second_writer_and_breaks_when_owner_is_gone(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    out = tmp_path / "out"
    args = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(corpus), "--output", str(out)]
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(out, owner.pid)
        assert main(args) == 2
        assert f"being written by another geobatch process (pid {owner.pid})" in capsys.readouterr().err
        assert not (out / "docs").exists()
    finally:
        owner.kill()
        owner.wait()
    # the owner is dead now (its pid may even be reused later): the lock is broken safely
    _write_lock(out, owner.pid)
    assert main(args) == 0
    assert not (out / LOCK).exists() and len(pq.read_table(out / "docs")) == N


def test_lock_from_another_host_is_not_broken(tmp_path, tiny_onnx_dir, corpus, capsys):  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere.example", "create_time": 0}))
    assert main(["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(corpus), "--output", str(out)]) == 2
    assert "locked by pid" in capsys.readouterr().err


# -- inputs are identified by content, not modification time (issue 18) ---------------------------

def _copy_again(path):
    """What a nightly job that re-downloads its input does: same bytes, a new file, a new mtime."""
    data = path.read_bytes()
    path.unlink()
    path.write_bytes(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # certainly newer, even on coarse clocks


def test_identical_input_copied_again_resumes_and_redoes_nothing(tmp_path, tiny_onnx_dir, corpus):  # noqa: F811
    clean = tmp_path / "clean"
    assert run_local(config(tiny_onnx_dir, corpus, clean)).exit_code == 0
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run_local(config(tiny_onnx_dir, corpus, out), pipeline=CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"), fail_at=3))
    before = json.loads((out / "manifest.json").read_text())["job"]["inputs"][0]
    _copy_again(corpus)
    assert corpus.stat().st_mtime_ns != before["mtime_ns"]

    second = CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"))
    assert run_local(config(tiny_onnx_dir, corpus, out), pipeline=second).exit_code == 0
    assert second.calls == N // 2 - 2  # the two finished units were kept, not redone
    m = json.loads((out / "manifest.json").read_text())
    after = m["job"]["inputs"][0]
    assert after["sha256"] == before["sha256"] and after["mtime_ns"] == corpus.stat().st_mtime_ns  # the new mtime is recorded
    for table in ("docs", "tokens", "spans"):
        assert rows(out, table) == rows(clean, table)

    _copy_again(corpus)  # once more after the job completed: nothing at all is redone
    third = CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"))
    assert run_local(config(tiny_onnx_dir, corpus, out), pipeline=third).exit_code == 0
    m = json.loads((out / "manifest.json").read_text())
    assert third.calls == 0 and m["sessions"][-1]["docs"] == 0 and m["complete"]


@pytest.mark.parametrize("change", ["same size", "longer"])
def test_changed_input_is_refused_with_one_line(tmp_path, tiny_onnx_dir, corpus, capsys, change):  # noqa: F811
    out = tmp_path / "out"
    args = ["run", "--quiet", "--no-resolve", "--model", str(tiny_onnx_dir), "--input", str(corpus), "--output", str(out)]
    assert main(args) == 0
    old = corpus.read_text()
    new = old.replace("doc 3 Paris", "doc 3 Lyons") if change == "same size" else old + json.dumps({"id": "x", "text": "Rome"}) + "\n"
    assert new != old and (len(new) == len(old)) == (change == "same size")
    corpus.write_text(new)
    capsys.readouterr()
    assert main(args) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {out} holds the output of a different job: input {corpus} has changed (")
    assert ("same size, other content: sha256" in line) == (change == "same size")
    assert line.endswith("; pass --overwrite to replace it, or choose another --output")
    assert json.loads((out / "manifest.json").read_text())["complete"]  # nothing changed


def test_unchanged_input_is_not_hashed_again(tmp_path, tiny_onnx_dir, corpus, monkeypatch):  # noqa: F811
    import geobatch.io.fingerprint as fp

    hashed = []
    real = fp.content_sha256
    monkeypatch.setattr(fp, "content_sha256", lambda path: hashed.append(path) or real(path))
    out = tmp_path / "out"
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    assert hashed == [str(corpus)]  # the first run hashes the file once
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    assert hashed == [str(corpus)]  # same size and mtime: the recorded hash is reused
    _copy_again(corpus)
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    assert hashed == [str(corpus)] * 2


def test_manifest_from_before_content_hashes_resumes_by_mtime(tmp_path, tiny_onnx_dir, corpus):  # noqa: F811
    """An OUT_DIR written before inputs were hashed (no "sha256") still resumes when the file's mtime is the
    recorded one, and records the hash from then on."""
    out = tmp_path / "out"
    assert run_local(config(tiny_onnx_dir, corpus, out)).exit_code == 0
    m = json.loads((out / "manifest.json").read_text())
    for i in m["job"]["inputs"]:
        del i["sha256"]
    (out / "manifest.json").write_text(json.dumps(m))
    again = CountingPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"))
    assert run_local(config(tiny_onnx_dir, corpus, out), pipeline=again).exit_code == 0
    assert again.calls == 0 and json.loads((out / "manifest.json").read_text())["job"]["inputs"][0]["sha256"]


# -- a run stopped by a signal says what it kept (issue 18) -----------------------------------------

class SignalledPipeline(Pipeline):
    """Processes two units, then gets `signal_exc` raised in it, as Python's handlers raise them."""

    def __init__(self, *a, signal_exc, **kw):
        super().__init__(*a, **kw)
        self.calls = 0
        self.signal_exc = signal_exc

    def process(self, *a, **kw):
        self.calls += 1
        if self.calls == 3:
            raise self.signal_exc
        return super().process(*a, **kw)


@pytest.mark.parametrize("exc, name, code", [(KeyboardInterrupt, "SIGINT", 130), (Terminated, "SIGTERM", 143)])
def test_signal_closes_the_output_and_names_the_committed_units(tmp_path, tiny_onnx_dir, corpus, exc, name, code):  # noqa: F811
    out = tmp_path / "out"
    with pytest.raises(StoppedRun) as stopped:
        run_local(config(tiny_onnx_dir, corpus, out), pipeline=SignalledPipeline(tiny_onnx_dir, PipelineOptions(provider="cpu"),
                                                                                 signal_exc=exc()))
    assert stopped.value.exit_code == code
    assert str(stopped.value) == (f"interrupted by {name}: 2 units (4 input rows) committed in {out} are kept; "
                                  "run the same command again to resume from them")
    m = json.loads((out / "manifest.json").read_text())
    assert sorted(m["units"]) == ["00000-000000", "00000-000001"] and not m["complete"]
    assert not (out / LOCK).exists() and not (out / "units.jsonl").exists()  # journal folded, lock released


def test_signal_before_any_unit_says_nothing_is_committed(tmp_path, tiny_onnx_dir, corpus):  # noqa: F811
    class Immediately(SignalledPipeline):
        def process(self, *a, **kw):
            raise self.signal_exc

    out = tmp_path / "out"
    with pytest.raises(StoppedRun) as stopped:
        run_local(config(tiny_onnx_dir, corpus, out), pipeline=Immediately(tiny_onnx_dir, PipelineOptions(provider="cpu"),
                                                                           signal_exc=KeyboardInterrupt()))
    assert str(stopped.value) == f"interrupted by SIGINT: no unit is committed in {out} yet; run the same command again to start the job"


@pytest.mark.parametrize("signum, name, code", [(signal.SIGINT, "SIGINT", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_a_signal_right_after_a_journal_line_keeps_that_unit(tmp_path, tiny_onnx_dir, corpus, monkeypatch, signum, name, code):  # noqa: F811
    """The journal line's fsync is a unit's commit point. A signal that lands right after it (a SIGTERM
    that arrived during the fsync is handled as it returns) used to unwind through the commit: its part
    files were unlinked and it was left out of manifest.json though the journal held it (a flaky Ray
    test showed it: 2 journal lines, 1 unit kept). Now it waits until the bookkeeping is done."""
    appended = []
    original = Journal.append

    def append_then_signal(self, unit_id, entry):
        original(self, unit_id, entry)
        appended.append(unit_id)
        if len(appended) == 2:
            signal.raise_signal(signum)  # handled at once, before append returns, unless held

    monkeypatch.setattr(Journal, "append", append_then_signal)
    out = tmp_path / "out"
    # a test runner started in the background (`cmd &` in a script) inherits SIGINT ignored, and Python
    # then keeps it ignored: give SIGINT its usual KeyboardInterrupt for this test
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_raises(), pytest.raises(StoppedRun) as stopped:
            run_local(config(tiny_onnx_dir, corpus, out))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped.value.exit_code == code
    assert str(stopped.value).startswith(f"interrupted by {name}: 2 units (4 input rows) committed")
    m = json.loads((out / "manifest.json").read_text())
    assert sorted(m["units"]) == appended == ["00000-000000", "00000-000001"]
    for unit in m["units"].values():
        assert all((out / part).is_file() for part in unit["parts"].values())
