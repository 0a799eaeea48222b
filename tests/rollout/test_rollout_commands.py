"""``ctloop endpoint|rollout ...`` on bad input: a clear error, the right exit code, no state change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import write_policies

from ctloop import cli
from ctloop.rollout.commands import read_registration


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CTLOOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _run(args: list[str], repo_root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(
        [
            *args,
            "--policies",
            str(repo_root / "policies"),
            "--endpoints",
            str(repo_root / "pipelines" / "endpoints"),
        ]
    )
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_without_any_rollout_or_endpoint(
    home: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["rollout", "status"], repo_root, capsys)[1].strip() == "no rollout yet"
    code, out, _ = _run(["endpoint", "status"], repo_root, capsys)
    assert code == 0 and "endpoint ctloop-rainfall (local)" in out and "metrics unavailable" in out
    assert not home.exists()  # looking changes nothing


def test_resume_and_rollback_need_a_rollout(
    home: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(["rollout", "resume"], repo_root, capsys)
    assert code == 1 and "no rollout to resume" in err
    code, _, err = _run(["rollout", "rollback", "--reason", "x"], repo_root, capsys)
    assert code == 1 and "no rollout to roll back" in err


def test_start_with_bad_inputs_changes_nothing(
    home: Path, repo_root: Path, built: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(built["models"]["v1"])
    base = ["rollout", "start", "--model-name", "rainfall-classifier", "--version", "1"]
    code, _, err = _run([*base, "--model-dir", model, "--eval", str(tmp_path / "nope")], repo_root, capsys)
    assert code == 2 and "nope: <file>: no such dataset folder or Parquet file" in err
    empty = tmp_path / "empty-model"
    empty.mkdir()
    code, _, err = _run([*base, "--model-dir", str(empty), "--eval", str(built["eval"])], repo_root, capsys)
    assert code == 1 and "expected one MLflow model folder" in err
    features_only = tmp_path / "features.parquet"
    built["rows"].drop(columns=["rain"]).to_parquet(features_only)
    code, _, err = _run([*base, "--model-dir", model, "--eval", str(features_only)], repo_root, capsys)
    assert code == 2 and "rain: column missing" in err
    assert not (home / "endpoint" / "rollout.json").exists()
    assert not (home / "endpoint" / "state.json").exists()


def test_split_refuses_bad_weights(home: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["endpoint", "split", "blue=abc"], repo_root, capsys)
    assert code == 2 and "expected NAME=PERCENT" in err
    code, _, err = _run(["endpoint", "split", "blue=100"], repo_root, capsys)
    assert code == 1 and "unknown deployment 'blue'" in err


def test_an_invalid_policy_is_named(
    home: Path, tmp_path: Path, repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(tmp_path / "policies", health={"max_error_rate": 5})
    code = cli.main(["rollout", "status", "--policies", str(policies)])
    err = capsys.readouterr().err
    assert code == 2 and "rollout.yml: health.max_error_rate:" in err


def test_registration_is_read_defensively(tmp_path: Path, built: dict[str, Any]) -> None:
    file = tmp_path / "registration.json"
    file.write_text(
        json.dumps({"model_name": "m", "version": 3, "source": f"file://{built['models']['v1']}"})
    )
    assert read_registration(tmp_path) == {
        "model_name": "m",
        "version": "3",
        "model_dir": built["models"]["v1"],
    }
    file.write_text(json.dumps({"model_name": "m", "version": "3", "model_uri": "models:/m/3"}))
    assert read_registration(file)["model_dir"] is None  # fetched from the registry instead
    for bad, field in (({"version": "3"}, "model_name"), ({"model_name": "m"}, "version"), ([1], "<root>")):
        file.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=f"registration.json: {field}"):
            read_registration(file)
