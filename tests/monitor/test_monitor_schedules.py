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


def test_retrain_daily_runs_check_triggers_at_six(retrain, repo_root_module: Path) -> None:
    assert type(retrain).__name__ == "JobSchedule"
    assert retrain.trigger.expression == "0 6 * * *" and retrain.trigger.time_zone == "UTC"
    job = retrain.create_job
    # A pipeline job: the SDK refuses a command job in a schedule outside private preview.
    assert type(job).__name__ == "PipelineJob" and job.display_name == "check_triggers"
    node = job.jobs["check_triggers"]
    assert node.inputs["stack"]._data == "${{parent.inputs.stack}}"  # bound, never a literal stack
    assert node.outputs["state"].mode == "rw_mount"
    component = (repo_root_module / "components" / "check_triggers.yml").read_text()
    assert "--stack dev" not in component
    assert "check-triggers --scope endpoint --target azure --stack ${{inputs.stack}}" in component
    assert '"$rc" -eq 10' in component and "run pipelines/training.yml --target azure" in component
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


# --- what MLClient.schedules accepts: the real client, offline, only the service calls answered --
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
WORKSPACE_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ctloop-dev/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-ctloop-dev"
)
STACK_ENDPOINT = "ctloop-dev-k3x9qa"


class _Token:
    """A credential that is never asked for a token: every network call below is answered."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("unused", 2**31)


def _deployment_as_the_service_returns_it(repo: Path, endpoint: str):
    """blue.yml as GET onlineDeployments answers: each collection points at its data asset."""
    from azure.ai.ml import load_online_deployment

    with contextlib.redirect_stderr(io.StringIO()):
        deployment = load_online_deployment(str(repo / "pipelines/endpoints/blue.yml"))
    deployment.endpoint_name = endpoint
    for name, collection in deployment.data_collector.collections.items():
        collection.data = f"{WORKSPACE_ID}/data/{endpoint}-{deployment.name}-{name}/versions/1"
    return deployment


def _apply(schedule, repo: Path):
    """MLClient(...).schedules.begin_create_or_update with only the service calls replaced
    (autospecced from the real operations); returns the REST body the client would send."""
    from unittest import mock

    from azure.ai.ml import MLClient
    from azure.ai.ml.entities import Data

    client = MLClient(_Token(), SUBSCRIPTION, "rg-ctloop-dev", "mlw-ctloop-dev")
    ops = client.schedules
    sent = []
    service = mock.create_autospec(
        ops.service_client.begin_create_or_update, side_effect=lambda **kw: sent.append(kw)
    )
    data_asset = lambda name, version=None, **_: Data(  # noqa: E731
        name=name, version=version, type="uri_folder", path="azureml://datastores/workspaceblobstore/paths/x/"
    )
    with (
        mock.patch.object(ops.service_client, "begin_create_or_update", service),
        mock.patch.object(ops._job_operations, "_resolve_arm_id_or_upload_dependencies", autospec=True),
        mock.patch.object(
            ops._online_deployment_operations,
            "get",
            autospec=True,
            return_value=_deployment_as_the_service_returns_it(repo, STACK_ENDPOINT),
        ),
        mock.patch.object(ops._data_operations, "get", autospec=True, side_effect=data_asset),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        ops.begin_create_or_update(schedule)
    assert len(sent) == 1
    return sent[0]["body"].as_dict()["properties"]


def test_the_client_accepts_both_schedules_bound_to_a_stack(repo_root_module: Path) -> None:
    from ctloop.gitops.names import bind_schedule

    monitor = bind_schedule(
        _load(repo_root_module / "pipelines/schedules/monitor.yml"), repo_root_module, "dev", STACK_ENDPOINT
    )
    body = _apply(monitor, repo_root_module)
    definition = body["action"]["monitorDefinition"]
    assert definition["computeConfiguration"]["runtimeVersion"] == "3.4"
    assert (
        f"onlineEndpoints/{STACK_ENDPOINT}/deployments/blue" in definition["monitoringTarget"]["deploymentId"]
    )
    retrain = bind_schedule(
        _load(repo_root_module / "pipelines/schedules/retrain-daily.yml"), repo_root_module, "prod", None
    )
    body = _apply(retrain, repo_root_module)
    job = body["action"]["jobDefinition"]
    assert job["jobType"] == "Pipeline"
    assert job["inputs"]["stack"]["value"] == "prod"


def test_the_client_refuses_what_the_service_would(repo_root_module: Path, tmp_path: Path) -> None:
    text = (repo_root_module / "pipelines/schedules/monitor.yml").read_text()
    old_runtime = tmp_path / "monitor.yml"
    old_runtime.write_text(text.replace('runtime_version: "3.4"', 'runtime_version: "3.3"'))
    with pytest.raises(Exception, match=r"runtime version must be one of: 3\.4, 3\.5"):
        _apply(_load(old_runtime), repo_root_module)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "command.yml").write_text(
        "type: command\ncommand: echo hi\nenvironment: azureml:ctloop-train:2\ncompute: azureml:cpu-cluster\n"
    )
    command = tmp_path / "command-schedule.yml"
    command.write_text(
        "name: s\ntrigger:\n  type: cron\n  expression: '0 6 * * *'\n  time_zone: UTC\n"
        "create_job: ./jobs/command.yml\n"
    )
    with pytest.raises(Exception, match="Unsupported job type 'CommandJob'"):
        _apply(_load(command), repo_root_module)
