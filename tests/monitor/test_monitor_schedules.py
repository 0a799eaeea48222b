"""The Azure schedules load with azure-ai-ml and carry the policies' numbers.

``MonitorSchedule._validate()`` raises NotImplementedError in azure-ai-ml 1.35, so the monitor is
checked by loading it and reading its key fields; the job schedule also passes ``_validate()``.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from ctloop.contracts import load_data_policy
from ctloop.policies import load_policy

pytest.importorskip("azure.ai.ml")


def _load(path: Path):
    from azure.ai.ml.entities._load_functions import load_schedule

    with contextlib.redirect_stderr(io.StringIO()):
        return load_schedule(str(path))


@pytest.fixture(scope="module")
def retrain(repo_root_module: Path):
    return _load(repo_root_module / "pipelines/schedules/retrain-daily.yml")


@pytest.fixture(scope="module")
def monitor(repo_root_module: Path):
    return _load(repo_root_module / "pipelines/schedules/monitor.yml")


@pytest.fixture(scope="module")
def repo_root_module() -> Path:
    return Path(__file__).resolve().parents[2]


def test_retrain_daily_runs_check_triggers_at_six(retrain) -> None:
    assert type(retrain).__name__ == "JobSchedule"
    assert retrain.trigger.expression == "0 6 * * *" and retrain.trigger.time_zone == "UTC"
    job = retrain.create_job
    assert type(job).__name__ == "Command" and job.display_name == "check_triggers"
    assert "ctloop check-triggers" in job.command and "--exit-code" in job.command
    assert '"$rc" -eq 10' in job.command and "ctloop run pipelines/training.yml --target azure" in job.command
    assert job.outputs["state"].mode == "rw_mount"
    assert retrain._validate().passed


def test_monitor_has_the_four_signals_with_policy_thresholds(monitor, repo_root_module: Path) -> None:
    policies = repo_root_module / "policies"
    retraining = load_policy("retraining", policies)
    data = load_data_policy(policies)
    azure = retraining["azure_monitor"]
    assert type(monitor).__name__ == "MonitorSchedule"
    assert (monitor.trigger.frequency, monitor.trigger.interval, monitor.trigger.time_zone) == (
        "day",
        1,
        "UTC",
    )
    signals = monitor.create_monitor.monitoring_signals
    assert set(signals) == {"data_drift", "prediction_drift", "data_quality", "model_performance"}
    drift = signals["data_drift"].metric_thresholds
    assert drift.numerical.normalized_wasserstein_distance == azure["normalized_wasserstein"]
    assert drift.categorical.jensen_shannon_distance == data["drift"]["warn"]["categorical"]["jensen_shannon"]
    prediction = signals["prediction_drift"].metric_thresholds
    assert prediction.numerical.jensen_shannon_distance == azure["prediction_drift_jensen_shannon"]
    quality = signals["data_quality"].metric_thresholds.numerical
    assert (
        quality.null_value_rate
        == azure["null_value_rate"]
        == data["contract"]["max_missing_fraction"]["default"]
    )
    assert quality.out_of_bounds_rate == azure["out_of_bounds_rate"]
    assert quality.data_type_error_rate == azure["data_type_error_rate"]
    performance = signals["model_performance"].metric_thresholds.classification
    assert (performance.accuracy, performance.precision) == (azure["accuracy"], azure["precision"])
    assert monitor.create_monitor.monitoring_target.ml_task == "classification"


def test_monitor_schedule_validate_is_not_implemented_upstream(monitor) -> None:
    with pytest.raises(NotImplementedError):
        monitor._validate()
