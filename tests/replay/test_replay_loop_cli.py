"""``ctloop loop`` on the command line: the first turn trains a champion, the next one leaves it alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctloop.cli import main
from ctloop.monitor.history import History


def test_loop_turns_train_first_then_wait(
    loop_home: tuple[Path, Path],
    repo_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, landing = loop_home
    args = [
        "loop",
        "--in-process",
        "--policies",
        str(repo_root / "policies"),
        "--pipeline",
        str(repo_root / "pipelines/training.yml"),
        "--landing",
        str(landing),
        "--model-name",
        "loop-test-model",
        "--as-of",
        "2024-01-01T06:00:00Z",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "triggers: no_champion; retrain=true" in out
    assert "pipeline completed: version 1, promoted=True, champion none -> 1" in out
    history = History(home / "monitor" / "history.sqlite")
    assert [e.kind for e in history.events()] == ["trigger_check", "retrain", "promote"]

    # a day later: no traffic, no labels, a champion one day old: nothing fires
    assert main([*args[:-1], "2024-01-02T06:00:00Z"]) == 0
    out = capsys.readouterr().out
    assert "triggers: none; retrain=false" in out
    assert [e.kind for e in history.events()][-1] == "trigger_check"
