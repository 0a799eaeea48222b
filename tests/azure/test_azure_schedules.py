"""``ctloop schedule apply`` with the real MLClient at the wire, its offline dry run, and what the
SDK or the service refuses (runtime version, job type, enums) before anything is created."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from wire import WS_ID, Workspace

from ctloop.azure.commands import apply_schedules_for_stack


def _schedule_puts(ws: Workspace) -> list[dict]:
    return [r.json for r in ws.sent("PUT", "/schedules/")]


def test_apply_registers_components_then_creates_the_schedule(spec_repo: Path, workspace: Workspace) -> None:
    assert apply_schedules_for_stack(spec_repo, [], "dev", client=workspace.client()) == 0
    assert sorted(workspace.schedules) == ["fixture-daily"]
    writes = [w for w in workspace.writes() if "/codes/" not in w]
    assert writes[-1] == "PUT /schedules/fixture-daily"
    assert "PUT /components/ctloop_train/versions/1.0.0" in writes[:-1]
    assert workspace.violations == []
    (request,) = workspace.sent("PUT", "/schedules/")
    assert request.api_version == workspace.schemas.api_version("schedule")
    rest = request.json["properties"]
    assert rest["trigger"] == {"triggerType": "Cron", "expression": "0 6 * * *", "timeZone": "UTC"}
    assert rest["action"]["actionType"] == "CreateJob"
    jobs = rest["action"]["jobDefinition"]["jobs"]
    assert jobs["train"]["componentId"] == f"{WS_ID}/components/ctloop_train/versions/1.0.0"
    assert jobs["register"]["componentId"] == f"{WS_ID}/components/ctloop_register/versions/1.0.0"
    # a long-running operation: the SDK polled it until the service said Succeeded
    assert len(workspace.sent("GET", "/mfeOperationsStatus/")) == 2
    assert workspace.schedules["fixture-daily"]["properties"]["provisioningState"] == "Succeeded"


def test_dry_run_needs_no_azure(spec_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert apply_schedules_for_stack(spec_repo, [], "dev", dry_run=True) == 0
    out = capsys.readouterr().out
    assert "schedule fixture-daily: 0 6 * * * (UTC): would be applied (stack 'dev')" in out


def test_an_invalid_schedule_is_refused_before_azure(
    make_repo, workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_repo("schedule_time_zone")
    assert apply_schedules_for_stack(root, [], "dev", client=workspace.client()) == 2
    err = capsys.readouterr().err
    assert "schedule.time-zone" in err and "no trigger.time_zone" in err
    assert workspace.writes() == []  # refused before any request reached the workspace


MONITOR = """
name: wire-monitor
trigger: {type: recurrence, frequency: day, interval: 1, schedule: {hours: 7, minutes: 0}, time_zone: UTC}
create_monitor:
  compute: {instance_type: standard_e4s_v3, runtime_version: "RUNTIME"}
  monitoring_target: {ml_task: classification, endpoint_deployment_id: azureml:ctloop-rainfall:blue}
"""


def test_the_sdk_refuses_a_spark_runtime_it_does_not_support(tmp_path: Path, workspace: Workspace) -> None:
    """Monitor schedules run on serverless Spark: azure-ai-ml accepts runtime 3.4 or 3.5 only."""
    from azure.ai.ml.entities._load_functions import load_schedule

    workspace.seed_deployment("ctloop-rainfall", "blue")
    client = workspace.client()
    path = tmp_path / "monitor.yml"
    path.write_text(MONITOR.replace("RUNTIME", "3.3"))
    with pytest.raises(Exception, match=r"3\.4|3\.5|runtime"):
        client.schedules.begin_create_or_update(load_schedule(str(path))).result()
    assert _schedule_puts(workspace) == []
    path.write_text(MONITOR.replace("RUNTIME", "3.4"))
    client.schedules.begin_create_or_update(load_schedule(str(path))).result()
    (body,) = _schedule_puts(workspace)
    assert workspace.violations == []
    action = body["properties"]["action"]
    assert action["actionType"] == "CreateMonitor"
    assert action["monitorDefinition"]["computeConfiguration"]["runtimeVersion"] == "3.4"


def test_the_sdk_refuses_to_schedule_a_command_job(tmp_path: Path, workspace: Workspace) -> None:
    from azure.ai.ml.entities._load_functions import load_schedule

    (tmp_path / "job.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "command: echo hi\nenvironment: azureml:ctloop-train:1\ncompute: azureml:cpu-cluster\n"
    )
    path = tmp_path / "daily.yml"
    path.write_text(
        "name: wire-command\n"
        "trigger: {type: cron, expression: '0 6 * * *', time_zone: UTC}\n"
        "create_job: ./job.yml\n"
    )
    with pytest.raises(Exception, match="Unsupported job type"):
        workspace.client().schedules.begin_create_or_update(load_schedule(str(path))).result()
    assert _schedule_puts(workspace) == []


@pytest.mark.parametrize(
    ("change", "path", "reason"),
    [
        (
            lambda b: b["properties"]["action"]["jobDefinition"].update(jobType="Notebook"),
            "jobType",
            "Notebook",
        ),
        (lambda b: b["properties"]["trigger"].update(triggerType="Hourly"), "triggerType", "Hourly"),
        (lambda b: b["properties"]["action"].update(actionType="RunJob"), "actionType", "RunJob"),
        (lambda b: b["properties"].pop("trigger"), "properties", "trigger"),
    ],
    ids=["unknown-job-type", "bad-trigger-enum", "bad-action-enum", "no-trigger"],
)
def test_a_wrong_schedule_body_is_refused_like_the_service_would(
    spec_repo: Path, workspace: Workspace, change, path: str, reason: str
) -> None:
    """The recorded good body, broken one way, sent through the SDK's own REST client: a 400."""
    from azure.core.exceptions import HttpResponseError

    client = workspace.client()
    assert apply_schedules_for_stack(spec_repo, [], "dev", client=client) == 0
    body = copy.deepcopy(_schedule_puts(workspace)[-1])
    change(body)
    with pytest.raises(HttpResponseError, match=reason) as refused:
        client.schedules.service_client.begin_create_or_update(
            resource_group_name=client.resource_group_name,
            workspace_name=client.workspace_name,
            name="broken",
            body=body,
        ).result()
    assert refused.value.status_code == 400 and "UserError" in str(refused.value)
    assert [v for v in workspace.violations if v[0] == "schedule"] and any(
        path in v[1] for v in workspace.violations
    )
    assert "broken" not in workspace.schedules


def test_the_repository_monitor_needs_its_deployment_first(
    repo_root: Path, tmp_path: Path, workspace: Workspace
) -> None:
    """pipelines/schedules/monitor.yml: a supported runtime, and the SDK resolves its deployment first."""
    from azure.ai.ml.entities._load_functions import load_schedule
    from azure.core.exceptions import ResourceNotFoundError

    source = repo_root / "pipelines" / "schedules" / "monitor.yml"
    data = yaml.safe_load(source.read_text())
    runtime = str(data["create_monitor"]["compute"]["runtime_version"])
    if runtime not in ("3.4", "3.5"):
        pytest.fail(
            f"{source}: create_monitor.compute.runtime_version {runtime!r}: azure-ai-ml accepts 3.4 or 3.5"
        )
    schedule = load_schedule(str(source))
    with pytest.raises(ResourceNotFoundError, match="deployment"):
        workspace.client().schedules.begin_create_or_update(schedule).result()
    assert _schedule_puts(workspace) == []
