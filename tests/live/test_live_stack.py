"""Against an existing stack's workspace: register, train, schedule, roll out, roll back, monitor.

Run with ``make test-azure STACK=dev`` (``CTLOOP_STACK``); the tests run in file order, each
building on the one before, and only read or change that stack's workspace. Waits are bounded by
the pipeline's own timeouts (the Azure submitter follows the job to its end).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.azure_live

MODEL_NAME = "rainfall-classifier"
SCHEDULES = ("ctloop-retrain-daily", "ctloop-model-monitor")


def _ctloop(live, *argv: str) -> subprocess.CompletedProcess[str]:
    """``ctloop <argv>`` in a child process at the repository root (as the Makefile runs it)."""
    cmd = [sys.executable, "-m", "ctloop.cli", *argv]
    return subprocess.run(cmd, cwd=live.root, capture_output=True, text=True, check=False, timeout=7200)


def test_environments_and_components_register(live) -> None:
    from ctloop.azure.assets import register_assets
    from ctloop.gitops.graph import load_yaml

    register_assets(live.client, live.root)
    for folder, operations in (
        ("environments", live.client.environments),
        ("components", live.client.components),
    ):
        for path in sorted((live.root / folder).glob("*.yml")):
            spec = load_yaml(path)
            if isinstance(spec, dict) and "version" in spec and "name" in spec:
                assert operations.get(spec["name"], version=str(spec["version"])).name == spec["name"]


def test_training_pipeline_runs_to_completion(live) -> None:
    from ctloop.engine.commands import submitter_for

    args = argparse.Namespace(pipeline=str(live.root / "pipelines" / "training.yml"), stack=live.stack)
    assert submitter_for("azure").submit(args, {}) == 0
    from ctloop.registry import open_registry

    assert open_registry(MODEL_NAME, "azure").list_versions(), "the pipeline registered no version"


def test_schedules_apply_bound_to_the_stack(live) -> None:
    from ctloop.azure.commands import apply_schedules_for_stack

    assert apply_schedules_for_stack(live.root, [], live.stack, client=live.client) == 0
    monitor = live.client.schedules.get(SCHEDULES[1])
    assert live.endpoint in monitor.create_monitor.monitoring_target.endpoint_deployment_id
    retrain = live.client.schedules.get(SCHEDULES[0])
    assert type(retrain.create_job).__name__ == "PipelineJob"


def test_rollout_to_the_managed_endpoint(live, eval_parquet: Path) -> None:
    result = _ctloop(
        live, "rollout", "start", "--target", "azure", "--stack", live.stack,
        "--model-name", MODEL_NAME, "--eval", str(eval_parquet),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    status = _ctloop(live, "endpoint", "status", "--target", "azure", "--stack", live.stack, "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    assert live.endpoint in status.stdout


def test_a_failing_canary_is_rolled_back(live, eval_parquet: Path, tmp_path: Path) -> None:
    """Inverted labels make the new slot's metric fail the canary: the rollout must roll back."""
    import pandas as pd

    wrong = tmp_path / "inverted.parquet"
    frame = pd.read_parquet(eval_parquet)
    frame["rain"] = 1 - frame["rain"]
    frame.to_parquet(wrong)
    before = live.client.online_endpoints.get(live.endpoint).traffic
    result = _ctloop(
        live, "rollout", "start", "--target", "azure", "--stack", live.stack,
        "--model-name", MODEL_NAME, "--eval", str(wrong),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    after = live.client.online_endpoints.get(live.endpoint).traffic
    assert {k: v for k, v in after.items() if v} == {k: v for k, v in before.items() if v}


def test_monitor_and_triggers_read_the_stack(live) -> None:
    schedule = live.client.schedules.get(SCHEDULES[1])
    assert schedule.is_enabled
    check = _ctloop(
        live, "check-triggers", "--target", "azure", "--stack", live.stack, "--exit-code", "--json"
    )
    assert check.returncode in (0, 10), check.stderr[-2000:]
    assert '"retrain"' in check.stdout
