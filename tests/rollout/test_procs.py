"""Background processes: identity by (pid, start time), clean stop of the whole group, state files."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest
from psutil import _pslinux

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
    # the reference is handed out only once the exec is over and the token shows, so an impostor
    # with another token can never be judged "ours" because the environment read empty
    assert procs.read_environ(ref.pid)[procs.TOKEN_ENV] == ref.token
    for impostor in (
        procs.ProcessRef(ref.pid, ref.start_ticks - 1, ref.token),  # same pid, started earlier
        procs.ProcessRef(ref.pid, ref.start_ticks, "another-token"),  # same pid and tick, not ours
        procs.ProcessRef(ref.pid, ref.start_ticks, ref.token, "another-boot"),  # before a reboot
    ):
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
        {
            "endpoint": "ctloop-rainfall",
            "deployments": {},
            "traffic": {},
            "starting": {"green": {**ref.to_dict(), "model_dir": str(tmp_path / "model-copy")}},
        },
    )
    endpoint = LocalEndpoint(
        load_rollout_policy(repo_root / "policies"), repo_root / "pipelines" / "endpoints", home
    )
    assert endpoint.revive() == []
    assert not procs.is_running(ref) and not (tmp_path / "model-copy").exists()
    assert read_json(home / "state.json")["starting"] == {}


def test_identity_survives_a_clock_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wall-clock step moves the boot time (and so psutil's create_time) by 22 s: the recorded
    process is still ours, and a process is still never confused with another start."""
    ref = procs.start_detached([sys.executable, "-c", SLEEP], {}, tmp_path, tmp_path / "log.txt")
    try:
        before = psutil.Process(ref.pid).create_time()
        stepped = _pslinux.boot_time() + 22.0
        monkeypatch.setattr(_pslinux, "boot_time", lambda: stepped)
        assert psutil.Process(ref.pid).create_time() == pytest.approx(before + 22.0)  # the step is real
        assert procs.is_running(ref)
        assert not procs.is_running(procs.ProcessRef(ref.pid, ref.start_ticks + 1, ref.token))
    finally:
        assert procs.stop(ref, 5)
    assert not procs.is_running(ref)


def test_everything_an_owner_started_is_found_and_stopped(tmp_path: Path) -> None:
    owner = str(tmp_path / "endpoint")
    first = procs.start_detached(
        SLEEPER, {"PATH": "/usr/bin:/bin"}, tmp_path, tmp_path / "a.txt", owner=owner
    )
    second = procs.start_detached(
        [sys.executable, "-c", SLEEP], {}, tmp_path, tmp_path / "b.txt", owner=owner
    )
    stranger = procs.start_detached([sys.executable, "-c", SLEEP], {}, tmp_path, tmp_path / "c.txt")
    try:
        assert procs.wait_until(lambda: len(procs.owned_by(owner)) == 3, 20)  # the child inherits the owner
        assert procs.uses_path(owner, tmp_path / "a.txt") is False
        stopped = procs.stop_owned(owner, 5)
        assert {r.pid for r in stopped} >= {first.pid, second.pid}
        assert procs.owned_by(owner) == []
        assert not procs.is_running(first) and not procs.is_running(second)
        assert procs.is_running(stranger)  # not this owner's: untouched
    finally:
        procs.stop(stranger, 5)
