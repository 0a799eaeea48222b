"""Background processes: identity by (pid, start time), clean stop of the whole group, state files."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

from ctloop.rollout import procs
from ctloop.rollout.jsonfile import StateError, read_json, write_json

SLEEP = "import time; time.sleep(60)"
# a parent with one child: stopping must reach the whole process group
SLEEPER = [
    sys.executable,
    "-c",
    f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {SLEEP!r}]); {SLEEP}",
]
# ignores SIGTERM: only SIGKILL after the grace period stops it
IGNORE_TERM = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True)"
STUBBORN = [sys.executable, "-c", f"{IGNORE_TERM}; {SLEEP}"]


def test_start_and_stop_the_whole_group(tmp_path: Path) -> None:
    ref = procs.start_detached(SLEEPER, {"PATH": "/usr/bin:/bin"}, tmp_path, tmp_path / "log.txt")
    assert procs.wait_until(lambda: len(psutil.Process(ref.pid).children()) == 1, 20)
    child = psutil.Process(ref.pid).children()[0]
    assert procs.is_running(ref)
    assert procs.stop(ref, timeout_s=5)
    assert not procs.is_running(ref)
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_sigkill_after_the_grace_period(tmp_path: Path) -> None:
    ref = procs.start_detached(STUBBORN, {"PATH": "/usr/bin:/bin"}, tmp_path, tmp_path / "log.txt")
    assert procs.wait_until(lambda: "up" in procs.log_tail(tmp_path / "log.txt"), 20)
    assert procs.stop(ref, timeout_s=0.5)
    assert not procs.is_running(ref)


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    ref = procs.start_detached([sys.executable, "-c", SLEEP], {}, tmp_path, tmp_path / "log.txt")
    impostor = procs.ProcessRef(ref.pid, ref.create_time - 100)
    assert not procs.is_running(impostor)
    assert not procs.stop(impostor, 1)  # never signals a process it cannot prove is ours
    assert procs.is_running(ref)
    procs.stop(ref, 5)
    assert procs.ProcessRef.from_dict(None) is None
    assert procs.ProcessRef.from_dict(ref.to_dict()) == ref


def test_free_port_is_a_loopback_port() -> None:
    assert 1024 < procs.free_port() < 65536


def test_state_files_are_written_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json(path, {"a": 1})
    assert read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left
    assert read_json(tmp_path / "missing.json", {"d": 0}) == {"d": 0}
    path.write_text("{broken")
    with pytest.raises(StateError, match=r"state.json: not valid JSON"):
        read_json(path)


def test_a_deployment_left_booting_by_a_killed_caller_is_stopped(tmp_path: Path, repo_root: Path) -> None:
    from ctloop.rollout.local import LocalEndpoint
    from ctloop.rollout.policy import load_rollout_policy

    home = tmp_path / "endpoint"
    ref = procs.start_detached([sys.executable, "-c", SLEEP], {}, tmp_path, tmp_path / "log.txt")
    (tmp_path / "model-copy").mkdir()
    write_json(
        home / "state.json",
        {"starting": {"green": {**ref.to_dict(), "model_dir": str(tmp_path / "model-copy")}}},
    )
    endpoint = LocalEndpoint(
        load_rollout_policy(repo_root / "policies"), repo_root / "pipelines" / "endpoints", home
    )
    assert endpoint.revive() == []
    assert not procs.is_running(ref) and not (tmp_path / "model-copy").exists()
    assert read_json(home / "state.json")["starting"] == {}
