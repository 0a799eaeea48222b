"""kill -9 of the engine takes its steps with it: the step, and what the step started, are gone.

A small engine process runs one step through ``ProcessPool`` (as ``ctloop run`` does); the step
starts a grandchild and both write their pids. The test kills the engine with SIGKILL and waits,
on a bounded deadline, until neither pid is alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")

STEP = """
import subprocess, sys, time
from pathlib import Path
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
Path(sys.argv[1]).write_text(f"{__import__('os').getpid()} {child.pid}")
time.sleep(600)
"""

ENGINE = """
import sys
from pathlib import Path
from ctloop.engine.process import ProcessPool
argv = [sys.executable, "-c", sys.argv[2], sys.argv[1]]
outcome = ProcessPool().run(argv, Path.cwd(), dict(__import__("os").environ), Path(sys.argv[3]), 600)
print(outcome.status)
"""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_for(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_kill_9_of_the_engine_kills_the_step_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(pids), STEP, str(tmp_path / "step.log")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: pids.is_file() and len(pids.read_text().split()) == 2), "step never started"
        step, grandchild = map(int, pids.read_text().split())
        assert alive(step) and alive(grandchild)
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(timeout=60)
        assert wait_for(lambda: not alive(step) and not alive(grandchild)), (
            "a step process outlived the engine"
        )
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=60)
        for pid in map(int, pids.read_text().split()) if pids.is_file() else []:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_step_killed_by_a_signal_is_reported_as_killed(tmp_path: Path) -> None:
    from ctloop.engine.process import ProcessPool

    code = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    outcome = ProcessPool().run(
        [sys.executable, "-c", code], tmp_path, dict(os.environ), tmp_path / "log", 60
    )
    assert (outcome.status, outcome.signal) == ("killed", "SIGSEGV")
    exits = ProcessPool().run(
        [sys.executable, "-c", "raise SystemExit(3)"], tmp_path, dict(os.environ), tmp_path / "l2", 60
    )
    assert (outcome.status, exits.status, exits.exit_code) == ("killed", "failed", 3)
