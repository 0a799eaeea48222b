"""``ctloop monitor`` and ``ctloop check-triggers`` on the command line: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monitor_helpers import labels_frame, request, write_requests

from ctloop.cli import main
from ctloop.monitor.history import History
from ctloop.monitor.labels import write_labels
from ctloop.monitor_commands import RETRAIN_EXIT_CODE


def test_check_triggers_exit_codes_and_outputs(
    ctloop_home: Path, tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = str(tmp_path / "h.sqlite")
    base = [
        "check-triggers",
        "--history",
        history,
        "--policies",
        str(repo_root / "policies"),
        "--model-name",
        "nobody-model",
        "--as-of",
        "2024-01-01T06:00:00Z",
    ]
    assert main(base) == 0  # no champion: retrain needed, but exit 0 without --exit-code
    out = capsys.readouterr().out
    assert "no_champion" in out and out.strip().endswith("retrain=true")
    outputs = tmp_path / "github_output"
    assert main([*base, "--exit-code", "--output", str(outputs)]) == RETRAIN_EXIT_CODE == 10
    assert outputs.read_text() == "retrain=true\nfired=no_champion\n"
    capsys.readouterr()
    assert main([*base, "--json", "--no-record"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"]["retrain"] is True and data["inputs"]["has_champion"] is False
    assert len(History(history).events(kind="trigger_check")) == 2  # --no-record left no event


def test_check_triggers_rejects_a_broken_policy(
    ctloop_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "policies" / "schemas").mkdir(parents=True)
    (tmp_path / "policies" / "retraining.yml").write_text("primary_metric: roc_auc\n")
    code = main(
        ["check-triggers", "--policies", str(tmp_path / "policies"), "--history", str(tmp_path / "h.sqlite")]
    )
    assert code == 2
    assert "retraining.yml" in capsys.readouterr().err


def test_monitor_command_records_windows(
    ctloop_home: Path, tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "logs"
    write_requests(logs, request("a", "2024-06-01T10:00", [0.9]), request("b", "2024-06-01T11:00", [0.2]))
    write_labels(
        tmp_path / "labels" / "l.csv",
        labels_frame([("a", 0, 1, "2024-06-01T20:00"), ("b", 0, 0, "2024-06-02T07:00")]),
    )
    args = [
        "monitor",
        "--logs",
        str(logs),
        "--labels",
        str(tmp_path / "labels"),
        "--policies",
        str(repo_root / "policies"),
        "--model-name",
        "nobody-model",
        "--as-of",
        "2024-06-03T00:00:00Z",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 window(s) recorded" in out
    rows = History(ctloop_home / "monitor" / "history.sqlite").windows()
    assert [r.metrics["labels_matched"] for r in rows] == [1, 1]
    assert main(args) == 0 and "0 window(s) recorded" in capsys.readouterr().out
