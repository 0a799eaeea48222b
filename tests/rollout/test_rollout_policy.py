"""policies/rollout.yml: the shipped file is valid; broken ones are refused naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from serving_helpers import write_policies

from ctloop.policies import PolicyError
from ctloop.rollout.policy import load_rollout_policy


def test_the_shipped_policy_loads(repo_root: Path) -> None:
    policy = load_rollout_policy(repo_root / "policies")
    assert [s.weight for s in policy.steps][-1] == 100
    assert policy.health["max_error_rate"] == 0.02
    assert policy.health["max_p99_latency_ms"] == 1000
    assert policy.health["primary_metric"] == "roc_auc"


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        (
            {
                "canary": {
                    "steps": [
                        {"weight": 50, "bake_s": 1},
                        {"weight": 10, "bake_s": 1},
                        {"weight": 100, "bake_s": 1},
                    ]
                }
            },
            "canary.steps",
            "rise strictly",
        ),
        (
            {"canary": {"steps": [{"weight": 10, "bake_s": 1}, {"weight": 50, "bake_s": 1}]}},
            "canary.steps",
            "",
        ),
        ({"canary": {"steps": [{"weight": 150, "bake_s": 1}]}}, "canary.steps.0.weight", "150"),
        ({"mirror": {"percent": 80}}, "mirror.percent", "80"),
        ({"health": {"max_error_rate": 2}}, "health.max_error_rate", "2"),
        ({"health": {"primary_metric": "f1"}}, "health.primary_metric", "f1"),
        ({"serving": {"colour": "red"}}, "serving.colour", "colour"),
        ({"smoke": {"batch_rows": 5000}}, "smoke.batch_rows", "serving.max_rows"),
    ],
)
def test_broken_policies_name_file_and_field(
    tmp_path: Path, overrides: dict, field: str, reason: str
) -> None:
    folder = write_policies(tmp_path / "policies", **overrides)
    with pytest.raises(PolicyError) as err:
        load_rollout_policy(folder)
    assert err.value.file.endswith("rollout.yml")
    assert err.value.field == field
    assert reason in err.value.reason


def test_a_missing_section_is_named(tmp_path: Path) -> None:
    folder = write_policies(tmp_path / "policies")
    text = (folder / "rollout.yml").read_text()
    (folder / "rollout.yml").write_text(text.replace("mirror:", "mirrors:"))
    with pytest.raises(PolicyError) as err:
        load_rollout_policy(folder)
    assert err.value.field in ("mirror", "mirrors")
