"""CLI wiring that needs no TensorFlow: no TensorFlow in the runtime, and the [train] install hint."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_runtime_modules_never_import_tensorflow():
    code = r"""
import importlib, pkgutil, sys
import geobatch
failed = []
for m in pkgutil.walk_packages(geobatch.__path__, "geobatch."):
    if m.name.endswith("__main__"):  # runs the CLI
        continue
    try:
        importlib.import_module(m.name)
    except ImportError as e:  # an optional extra (e.g. ray) that is not installed
        failed.append((m.name, str(e)))
heavy = sorted(k for k in sys.modules if k.split(".")[0] in ("tensorflow", "tf_keras", "tf2onnx", "training", "transformers"))
assert not heavy, heavy
print("ok", len(failed))
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")


@pytest.mark.parametrize("cmd", [["train", "--train", "x.csv", "--output", "ck"], ["export", "ck", "--output", "m"]])
def test_missing_train_extra_gives_install_hint(cmd, tmp_path):
    # simulate an install without the [train] extra: importing tensorflow fails
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "from geobatch.cli import main\n"
        f"sys.exit(main({cmd!r}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'geobatch[train]'" in lines[0], r.stderr
