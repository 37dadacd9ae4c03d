"""Commit protocol: resume after an interruption, stale files, refusal of another job, the lock."""

import json
import os
import socket
import subprocess
import sys

import psutil
import pyarrow.parquet as pq
import pytest
from tiny_onnx import build_tiny_model_dir, tiny_onnx_dir  # noqa: F401

from geobatch.cli import main
from geobatch.commit import LOCK
from geobatch.engines import RunConfig
from geobatch.engines.local import run_local
from geobatch.pipeline import Pipeline, PipelineOptions

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
