"""The register step on a real local registry: an unchanged model is not registered twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctloop import lineage
from ctloop.datasets import load_rainfall
from ctloop.registry.local import LocalRegistry
from ctloop.steps import register
from ctloop.tabular import write_dataset

MODEL_NAME = "rainfall-classifier"  # the name the `registry` fixture binds


def decision(folder: Path, model_dir: Path, promote: bool, champion: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    checks = [{"name": "floor", "passed": promote, "reason": "test"}]
    body = {
        "model_name": MODEL_NAME,
        "promote": promote,
        "champion_version": champion,
        "challenger": {"model_hash": lineage.model_hash(model_dir)},
        "gate": {"metric": "roc_auc", "challenger": 0.8, "champion": None, "checks": checks},
    }
    (folder / "decision.json").write_text(json.dumps(body))
    return folder


@pytest.fixture
def data(tmp_path: Path) -> Path:
    frame = load_rainfall().iloc[:60]
    write_dataset(frame, tmp_path / "data", name="rainfall", time_column="date", source="test")
    return tmp_path / "data"


def run(tmp_path: Path, model_dir: Path, data: Path, name: str, promote: bool, champion: str | None) -> dict:
    args = [
        *("--model", str(model_dir), "--data", str(data), "--model_name", MODEL_NAME),
        *("--decision", str(decision(tmp_path / f"decision-{name}", model_dir, promote, champion))),
        *("--registration", str(tmp_path / name)),
    ]
    assert register.main(args) == 0
    return json.loads((tmp_path / name / "registration.json").read_text())


def test_an_unchanged_rerun_registers_nothing_new(
    registry: LocalRegistry, model_dir: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run(tmp_path, model_dir, data, "r1", promote=True, champion=None)
    assert (first["version"], first["outcome"], first["registered"]) == ("1", "promoted", True)
    capsys.readouterr()
    again = run(tmp_path, model_dir, data, "r2", promote=False, champion="1")
    assert (again["version"], again["outcome"], again["registered"]) == ("1", "unchanged", False)
    assert "is already version 1: registration skipped" in capsys.readouterr().out
    assert [v.version for v in registry.list_versions()] == ["1"]


def test_a_model_a_rollout_rejected_is_not_promoted_again(
    registry: LocalRegistry, model_dir: Path, data: Path, tmp_path: Path
) -> None:
    run(tmp_path, model_dir, data, "r1", promote=True, champion=None)
    registry.mark_rejected("1", "canary failed")  # the champion returns to what serves: nothing
    assert registry.champion() is None
    again = run(tmp_path, model_dir, data, "r2", promote=True, champion=None)
    assert (again["outcome"], again["promoted"]) == ("rejected_before", False)
    assert registry.champion() is None and [v.version for v in registry.list_versions()] == ["1"]
