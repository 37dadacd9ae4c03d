"""The Ray test modules' shared pieces: whether Ray is installed, one local Ray instance per module, and what a subprocess's Ray session logged."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

from geobatch.pipeline import PipelineOptions

HAVE_RAY = importlib.util.find_spec("ray") is not None
skip_without_ray = pytest.mark.skipif(not HAVE_RAY, reason="needs the [ray] extra (pip install 'geobatch[ray]')")


@pytest.fixture(scope="module")
def ray_session():
    """A local Ray instance with 2 workers for the module's runs (each module starts and stops its own)."""
    if not HAVE_RAY:
        pytest.skip("needs the [ray] extra")
    import ray

    from geobatch.engines.ray import RayOptions, start_ray

    session = start_ray(RayOptions(workers=2), PipelineOptions(threads=1))
    yield
    if session.started:
        ray.shutdown()


def ray_test(fn):
    """Mark a test that runs jobs on the module's local Ray instance: the `ray` mark, skipped without
    Ray, and the `ray_session` fixture."""
    for mark in (pytest.mark.usefixtures("ray_session"), skip_without_ray, pytest.mark.ray):
        fn = mark(fn)
    return fn


def ray_session_logs(pid: int, root: str | None = None) -> str:
    """What the Ray instance a subprocess `pid` started wrote about its end, for a failure message.

    A run that dies inside Ray (once in CI: exit 1, nothing on stderr, the raylet "terminated
    unexpectedly") leaves its story only there: the session directory ends with the driver's pid."""
    # where Ray keeps its sessions: RAY_TMPDIR, else the system's temporary directory
    root = root or os.path.join(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir(), "ray")
    sessions = sorted(Path(root).glob(f"session_*_{pid}"))
    if not sessions:
        return f"(no Ray session of pid {pid} under {root})"
    logs = sessions[-1] / "logs"
    parts = []
    for pattern in ("raylet.err", "gcs_server.err", "runtime_env_agent.err", f"python-core-driver-*_{pid}.log", "ray-data/ray-data.log"):
        for f in sorted(logs.glob(pattern)):
            text = f.read_text(errors="replace").strip()
            if text:
                parts.append(f"--- {f.name} (last 15 lines)\n" + "\n".join(text.splitlines()[-15:]))
    return f"Ray session {sessions[-1]}:\n" + ("\n".join(parts) or "(its logs are empty)")
