"""The rollout watchdog (``supervise``): it resumes an unfinished rollout that no controller runs,
leaves a running or finished one alone, and never sleeps in tests (the wait is injected)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctloop.rollout import procs
from ctloop.rollout.controller import RolloutError, supervise
from ctloop.rollout.jsonfile import write_json

DEAD = {"pid": 1, "start_ticks": -1, "token": "gone"}


def _write(home: Path, stage: str, controller: dict[str, Any], rollout_id: str = "m-v2-1") -> None:
    write_json(home / "rollout.json", {"id": rollout_id, "stage": stage, "controller": controller})


class Script:
    """Counts resumes and waits; ``after_wait`` changes the world between checks."""

    def __init__(self, home: Path, waits_until_stop: int = 10, after_wait: Any = None) -> None:
        self.home = home
        self.resumed = 0
        self.waits = 0
        self.limit = waits_until_stop
        self.after_wait = after_wait

    def resume(self) -> dict[str, Any]:
        self.resumed += 1
        _write(self.home, "promoted", DEAD)
        return {"id": "m-v2-1", "stage": "promoted"}

    def wait(self, interval: float) -> bool:
        assert interval == 5.0
        self.waits += 1
        if self.after_wait:
            self.after_wait(self.waits)
        return self.waits >= self.limit


def test_an_orphaned_rollout_is_resumed(tmp_path: Path) -> None:
    _write(tmp_path, "canary", DEAD)
    script = Script(tmp_path)
    state = supervise(tmp_path, script.resume, script.wait, 5.0, say=lambda _m: None)
    assert state == {"id": "m-v2-1", "stage": "promoted"} and script.resumed == 1 and script.waits == 0


def test_a_running_controller_is_left_alone_until_it_dies(tmp_path: Path) -> None:
    _write(tmp_path, "canary", procs.self_ref().to_dict())  # this process: alive

    def controller_dies(waits: int) -> None:
        if waits == 3:
            _write(tmp_path, "canary", DEAD)

    script = Script(tmp_path, after_wait=controller_dies)
    state = supervise(tmp_path, script.resume, script.wait, 5.0, say=lambda _m: None)
    assert script.waits == 3 and script.resumed == 1 and state is not None and state["stage"] == "promoted"


@pytest.mark.parametrize("stage", ["promoted", "rolled_back"])
def test_a_finished_rollout_needs_nothing(tmp_path: Path, stage: str) -> None:
    _write(tmp_path, stage, DEAD)
    script = Script(tmp_path)
    state = supervise(tmp_path, script.resume, script.wait, 5.0, say=lambda _m: None)
    assert state is not None and state["stage"] == stage and script.resumed == 0


def test_nothing_to_watch_and_another_rollout_are_not_ours(tmp_path: Path) -> None:
    script = Script(tmp_path)
    assert supervise(tmp_path, script.resume, script.wait, 5.0, say=lambda _m: None) is None
    _write(tmp_path, "canary", DEAD, rollout_id="other")
    state = supervise(tmp_path, script.resume, script.wait, 5.0, rollout_id="m-v2-1", say=lambda _m: None)
    assert state is not None and state["id"] == "other" and script.resumed == 0


def test_a_refused_resume_keeps_watching(tmp_path: Path) -> None:
    _write(tmp_path, "canary", DEAD)
    messages: list[str] = []

    def busy() -> dict[str, Any]:
        raise RolloutError("another rollout controller is running (pid 7)")

    script = Script(tmp_path, waits_until_stop=2)
    state = supervise(tmp_path, busy, script.wait, 5.0, say=messages.append)
    assert state is not None and state["stage"] == "canary" and script.waits == 2
    assert sum("another rollout controller" in m for m in messages) == 2
