"""Processes the endpoint starts run from its own copy of the code, not from a step's snapshot."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import ctloop
from ctloop.rollout.local import pinned_code, pythonpath


def test_pinned_code_outlives_the_snapshot_and_is_shared_by_content(tmp_path: Path) -> None:
    source = Path(ctloop.__file__).resolve().parents[1]
    snapshot = tmp_path / "run" / "work" / "deploy" / "code"
    shutil.copytree(source, snapshot, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    home = tmp_path / "endpoint"

    pinned = pinned_code(home, snapshot)
    assert pinned.parent == home / "code"
    assert pinned_code(home, snapshot) == pinned  # identical code: one copy
    shutil.rmtree(snapshot.parents[2])  # the engine removes the step's snapshot when it ends

    # a lazy import long after the step ended still finds the whole package
    env = {"PYTHONPATH": pythonpath(home, pinned)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import ctloop.metrics, ctloop.rollout.router_metrics, ctloop; print(ctloop.__file__)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).is_relative_to(home / "code")


def test_changed_code_gets_its_own_copy(tmp_path: Path) -> None:
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "score.py").write_text("def run(x):\n    return x\n")
    home = tmp_path / "endpoint"
    first = pinned_code(home, code)
    (code / "pkg" / "score.py").write_text("def run(x):\n    return 2 * x\n")
    second = pinned_code(home, code)
    assert first != second
    assert (first / "pkg" / "score.py").read_text().endswith("return x\n")
    assert pinned_code(home, first) == first  # already the endpoint's own: not copied again
