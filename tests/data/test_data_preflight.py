"""Policy preflight: each policy mistake is found before any step starts, naming file and field."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from data_helpers import POLICIES, REPO

from ctloop import preflight


def edited(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the policies folder with ``edit`` applied to ``<name>.yml``."""
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / f"{name}.yml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _label_as_feature(d: dict[str, Any]) -> None:
    d["features"].append(d["label"])


def _min_above_max(d: dict[str, Any]) -> None:
    d["contract"]["value_ranges"]["columns"]["temperature"] = {"min": 5, "max": -5}


def _eval_slice_too_small(d: dict[str, Any]) -> None:
    d["split"]["min_eval_rows"] = 10


def _canary_short(d: dict[str, Any]) -> None:
    d["canary"]["steps"][-1]["weight"] = 90


def _promotion_missing_floor(d: dict[str, Any]) -> None:
    del d["floor"]


def _retraining_typo(d: dict[str, Any]) -> None:
    d["guards"]["cooldown_hours"] = "a day"


def _key_is_label(d: dict[str, Any]) -> None:
    d["key_columns"] = [d["label"]]


CASES = [
    ("data", _label_as_feature, "label", "'rain' cannot also be a feature"),
    ("data", _min_above_max, "contract.value_ranges.columns.temperature", "min 5 is greater than max -5"),
    ("data", _eval_slice_too_small, "split.min_eval_rows", "below promotion.yml min_eval_rows"),
    ("data", _key_is_label, "key_columns", "the label 'rain' cannot be a key column"),
    ("rollout", _canary_short, "canary.steps", "the last step must move 100% of traffic"),
    ("promotion", _promotion_missing_floor, "floor", "required property"),
    ("retraining", _retraining_typo, "guards.cooldown_hours", "is not of type"),
]


@pytest.mark.parametrize(("name", "edit", "field", "reason"), CASES, ids=[c[1].__name__ for c in CASES])
def test_every_policy_mistake_is_found_with_file_and_field(tmp_path, name, edit, field, reason):
    folder = edited(tmp_path, name, edit)
    problems = preflight.check_folder(folder)
    assert len(problems) == 1, [str(p) for p in problems]
    problem = problems[0]
    assert Path(problem.file).name == f"{name}.yml" and problem.field == field
    assert reason in problem.reason


def test_the_repository_policies_pass():
    assert preflight.check_folder(POLICIES) == []


def test_policy_folders_are_found_among_pipeline_inputs(tmp_path):
    assert preflight.policy_folders([POLICIES, tmp_path, "rainfall", 3]) == [POLICIES.resolve()]


def test_ctloop_run_stops_before_any_step_on_a_bad_policy(tmp_path):
    folder = edited(tmp_path, "data", _min_above_max)
    (tmp_path / "landing").mkdir()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CTLOOP_"))}
    env |= {"CTLOOP_HOME": str(home), "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "ctloop.cli", "run", "pipelines/training.yml", "--no-mlflow"),
            *("--set", f"policies={folder}", "--set", f"landing={tmp_path / 'landing'}"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        f"{folder / 'data.yml'}: contract.value_ranges.columns.temperature: min 5 is greater" in done.stderr
    )
    assert "ctloop run: 1 policy problem(s); nothing was run" in done.stderr
    assert not (home / "runs").exists() or not any((home / "runs").iterdir())


@pytest.mark.parametrize(("edit", "field"), [(_label_as_feature, "label"), (_min_above_max, "contract")])
def test_ctloop_validate_reports_the_rules_between_fields(tmp_path, edit, field):
    from ctloop.gitops.validate import validate

    edited(tmp_path, "data", edit)
    problems, _ = validate([], root=tmp_path, rules_dir=REPO / "policies" / "specs")
    found = [p for p in problems if p.rule_id == "policy.schema-valid"]
    assert [p.file for p in found] == ["policies/data.yml"], [p.format() for p in problems]
    assert found[0].field.startswith(field)
