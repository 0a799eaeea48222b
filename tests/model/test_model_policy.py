"""policies/promotion.yml: the reviewed file is valid; bad files are rejected naming file, field, reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ctloop.gate import GatePolicy
from ctloop.policies import PolicyError, load_policy


def test_repository_policy_is_valid(repo_root: Path) -> None:
    policy = GatePolicy.from_dict(load_policy("promotion", repo_root / "policies"))
    assert policy.primary_metric == "roc_auc"
    assert 0.5 < policy.floor < 1
    assert policy.resamples >= 100 and 0.5 < policy.confidence < 1


def _write(tmp_path: Path, repo_root: Path, data: object) -> Path:
    folder = tmp_path / "policies"
    (folder / "schemas").mkdir(parents=True)
    shutil.copy(repo_root / "policies" / "schemas" / "promotion.schema.json", folder / "schemas")
    (folder / "promotion.yml").write_text(yaml.safe_dump(data))
    return folder


def _valid(repo_root: Path) -> dict:
    return yaml.safe_load((repo_root / "policies" / "promotion.yml").read_text())


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda p: p.update(floor="high"), "floor", "is not of type 'number'"),
        (lambda p: p.update(floor=1.5), "floor", "greater than the maximum"),
        (lambda p: p.update(primary_metric="accuracy"), "primary_metric", "is not one of"),
        (lambda p: p["bootstrap"].pop("seed"), "bootstrap.seed", "required property"),
        (lambda p: p["bootstrap"].update(confidence=1.0), "bootstrap.confidence", "greater than or equal"),
        (lambda p: p["bootstrap"].update(resamples=10), "bootstrap.resamples", "less than the minimum"),
        (lambda p: p.update(min_improvment=0.01), "min_improvment", "Additional properties"),
        (lambda p: p.update(min_improvement=-0.01), "min_improvement", "less than the minimum"),
    ],
)
def test_bad_policy_is_rejected(tmp_path: Path, repo_root: Path, change, field: str, reason: str) -> None:
    data = _valid(repo_root)
    change(data)
    folder = _write(tmp_path, repo_root, data)
    with pytest.raises(PolicyError) as info:
        load_policy("promotion", folder)
    assert info.value.file == str(folder / "promotion.yml")
    assert info.value.field == field
    assert reason in info.value.reason
