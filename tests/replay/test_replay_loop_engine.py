"""``ctloop loop`` through the local engine: the whole training pipeline, deployment included."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctloop.cli import main
from ctloop.monitor.history import History


@pytest.mark.e2e
def test_loop_runs_the_engine_pipeline_and_records_the_deployment(
    loop_home: tuple[Path, Path],
    repo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home, landing = loop_home
    monkeypatch.chdir(repo_root)  # the deploy step finds pipelines/endpoints beside the policies
    try:
        code = main(
            [
                "loop",
                "--landing",
                str(landing),
                "--model-name",
                "loop-engine-test",
                "--as-of",
                "2024-01-01T06:00:00Z",
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out[-3000:]
        assert "pipeline completed: version 1, promoted=True" in out
        kinds = [e.kind for e in History(home / "monitor" / "history.sqlite").events()]
        assert kinds == ["trigger_check", "retrain", "promote", "deploy"]
        assert (home / "runs").is_dir() and any((home / "runs").iterdir())  # the engine's run record
    finally:
        main(["endpoint", "down"])
