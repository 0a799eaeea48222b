"""One source of names: what a stack and the pipelines create, checked against every YAML."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from ctloop.gitops import names
from ctloop.gitops.validate import validate

REPO = Path(__file__).resolve().parents[2]
ENDPOINT_SCHEMA = "https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json"
COPIED = ("pipelines", "components", "environments", "policies", "infra", "src")


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's specs, infra and package (no tests, state or venv) in a scratch folder."""
    root = tmp_path_factory.mktemp("names") / "repo"
    root.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in COPIED:
        shutil.copytree(REPO / folder, root / folder, ignore=skip)
    for stack_file in REPO.glob("Pulumi*.yaml"):
        shutil.copy(stack_file, root / stack_file.name)
    return root


def test_inventory_of_the_repository_for_dev() -> None:
    inv = names.inventory(REPO, "dev")
    assert {"cpu-cluster", "gpu-cluster"} <= inv.clusters
    assert inv.logical_endpoint == "ctloop-rainfall"
    assert inv.deployments == {"blue", "green"}
    assert {"rainfall-data", "rainfall-data-train", "rainfall-data-eval", "ctloop-ground-truth"} <= set(
        inv.data
    )
    assert (
        "ctloop-rainfall-blue-model_outputs" in inv.data and "ctloop-rainfall-green-model_inputs" in inv.data
    )
    assert set(inv.models) == {"rainfall-classifier"}
    assert inv.environments["ctloop-train"] == {"2"}


def test_references_of_the_monitor() -> None:
    from ctloop.gitops.graph import load_yaml

    refs = names.references("schedule", load_yaml(REPO / "pipelines/schedules/monitor.yml"))
    kinds = {(r.kind, r.name) for r in refs}
    assert ("endpoint", "ctloop-rainfall") in kinds and ("deployment", "blue") in kinds
    assert ("data", "rainfall-data-train") in kinds and ("data", "ctloop-ground-truth") in kinds
    assert ("data", "ctloop-rainfall-blue-model_outputs") in kinds


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("azureml:ctloop-rainfall:blue", "azureml:ctloop-endpoint:blue", "endpoint 'ctloop-endpoint' is not"),
        (
            "azureml:ctloop-rainfall:blue",
            "azureml:ctloop-rainfall:purple",
            "deployment 'purple' is not declared",
        ),
        (
            "azureml:rainfall-data-train:1",
            "azureml:rainfall-data-training:1",
            "'rainfall-data-training' is produced",
        ),
        (
            "azureml:ctloop-ground-truth:1",
            "azureml:ctloop-labels:1",
            "'ctloop-labels' is produced by nothing",
        ),
    ],
)
def test_a_name_nothing_creates_fails_validate(repo_copy: Path, old: str, new: str, reason: str) -> None:
    monitor = repo_copy / "pipelines/schedules/monitor.yml"
    original = monitor.read_text()
    assert old in original
    monitor.write_text(original.replace(old, new, 1))
    try:
        problems, _ = validate([monitor], root=repo_copy, stack="dev")
    finally:
        monitor.write_text(original)
    found = [p for p in problems if p.rule_id == "spec.names-in-stack"]
    assert found and all(p.line for p in found), [p.format() for p in problems]
    assert any(reason in p.reason for p in found), [p.format() for p in found]


def test_deployment_and_pipeline_endpoint_names_must_be_the_logical_one(repo_copy: Path) -> None:
    blue = repo_copy / "pipelines/endpoints/blue.yml"
    training = repo_copy / "pipelines/training.yml"
    originals = {p: p.read_text() for p in (blue, training)}
    blue.write_text(
        originals[blue].replace("endpoint_name: ctloop-rainfall", "endpoint_name: ctloop-prd-endpoint")
    )
    training.write_text(originals[training].replace("endpoint_name: ctloop-rainfall", "endpoint_name: other"))
    try:
        problems, _ = validate([blue, training], root=repo_copy, stack="dev")
    finally:
        for path, text in originals.items():
            path.write_text(text)
    fields = {(Path(p.file).name, p.field) for p in problems if p.rule_id == "spec.names-in-stack"}
    assert fields == {("blue.yml", "endpoint_name"), ("training.yml", "inputs.endpoint_name")}


def _stack(root: Path, stack: str, location: str, endpoint: str | None) -> None:
    pinned = f"  ctloop:endpoint:\n    name: {endpoint}\n" if endpoint else ""
    (root / f"Pulumi.{stack}.yaml").write_text(
        f"config:\n  ctloop:location: {location}\n{pinned}"
        "  ctloop:cpu_cluster:\n    name: cpu-cluster\n    vm_size: Standard_DS3_v2\n"
    )


def test_two_stacks_in_one_region_cannot_pin_the_same_endpoint(tmp_path: Path) -> None:
    (tmp_path / "pipelines/endpoints").mkdir(parents=True)
    endpoint = tmp_path / "pipelines/endpoints/endpoint.yml"
    endpoint.write_text(f"$schema: {ENDPOINT_SCHEMA}\nname: ctloop-rainfall\nauth_mode: key\n")
    _stack(tmp_path, "staging", "swedencentral", "ctloop-rainfall")
    _stack(tmp_path, "prod", "swedencentral", "ctloop-rainfall")
    _stack(tmp_path, "dev", "westeurope", "ctloop-rainfall")
    problems, _ = validate([endpoint], root=tmp_path, stack="prod", rules_dir=REPO / "policies" / "specs")
    [clash] = [p for p in problems if p.rule_id == "spec.names-in-stack"]
    assert "as do staging in the same region" in clash.reason
    assert names.endpoint_collisions(tmp_path, "dev") == []
    _stack(tmp_path, "staging", "swedencentral", None)  # derived, suffixed: no clash
    assert names.endpoint_collisions(tmp_path, "prod") == []


def test_stack_endpoint_and_environment_come_from_the_stack_outputs(tmp_path: Path) -> None:
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml/config.prod.json").write_text(
        '{"subscription_id": "s", "resource_group": "rg-ctloop-prod", "workspace_name": "mlw-ctloop-prod",'
        ' "endpoint_name": "ctloop-prd-4f2k9a", "stack": "prod"}'
    )
    _stack(tmp_path, "dev", "westeurope", None)
    assert names.stack_endpoint(tmp_path, "prod") == "ctloop-prd-4f2k9a"
    assert names.stack_endpoint(tmp_path, "dev") is None
    assert names.stack_environment(tmp_path, "prod") == {
        "CTLOOP_STACK": "prod",
        "AZURE_SUBSCRIPTION_ID": "s",
        "AZURE_RESOURCE_GROUP": "rg-ctloop-prod",
        "AZUREML_WORKSPACE_NAME": "mlw-ctloop-prod",
        "AZUREML_ENDPOINT_NAME": "ctloop-prd-4f2k9a",
    }
    (tmp_path / ".azureml/config.prod.json").write_text("{not json")
    with pytest.raises(names.NamesError, match=r"config\.prod\.json: cannot read it as JSON"):
        names.stack_endpoint(tmp_path, "prod")


def test_schedule_apply_dry_run_binds_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    from ctloop.azure.commands import apply_schedules_for_stack

    assert apply_schedules_for_stack(REPO, [], "dev", dry_run=True) == 0
    out = capsys.readouterr().out
    assert "ctloop-retrain-daily: 0 6 * * * (UTC): would be applied (stack 'dev')" in out
    assert "ctloop-model-monitor" in out


def test_schedule_apply_refuses_an_invalid_schedule_and_applies_nothing(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from unittest import mock

    from azure.ai.ml.operations import ScheduleOperations

    from ctloop.azure.commands import apply_schedules_for_stack

    monitor = repo_copy / "pipelines/schedules/monitor.yml"
    original = monitor.read_text()
    monitor.write_text(original.replace('runtime_version: "3.4"', 'runtime_version: "3.3"'))
    client = mock.Mock(schedules=mock.create_autospec(ScheduleOperations, instance=True))
    try:
        code = apply_schedules_for_stack(repo_copy, [], "dev", client=client)
    finally:
        monitor.write_text(original)
    assert code == 2
    assert "Compute runtime version must be one of: 3.4, 3.5" in capsys.readouterr().err
    client.schedules.begin_create_or_update.assert_not_called()


def test_check_triggers_snapshot_is_the_package_and_the_specs_only() -> None:
    """The code snapshot azure-ai-ml builds for the daily check: never .git, venvs or tests."""
    from azure.ai.ml import load_component

    with contextlib.redirect_stderr(io.StringIO()):
        component = load_component(str(REPO / "components/check_triggers.yml"))
        assert component._validate().passed
        with component._build_code() as code:
            top = {p.name for p in Path(code.path).iterdir()}
    assert {"ctloop", "src", "pipelines", "components", "environments", "policies", "infra"} <= top
    assert "Pulumi.dev.yaml" in top
    assert not top & {".git", ".venv", "tests", ".ctloop", "mutants", "data", "README.md"}


def test_schedule_loader_problems_are_reported_offline(repo_copy: Path) -> None:
    retrain = repo_copy / "pipelines/schedules/retrain-daily.yml"
    jobs = repo_copy / "pipelines/schedules/jobs"
    (jobs / "command.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json\n"
        "type: command\ncommand: echo hi\nenvironment: azureml:ctloop-train:2\ncompute: azureml:cpu-cluster\n"
    )
    original = retrain.read_text()
    retrain.write_text(original.replace("./jobs/check_triggers.yml", "./jobs/command.yml"))
    try:
        problems, _ = validate([retrain], root=repo_copy, stack="dev")
    finally:
        retrain.write_text(original)
        (jobs / "command.yml").unlink()
    [problem] = problems
    assert problem.rule_id == "schedule.schema" and problem.field == "create_job"
    assert "Unsupported job type 'CommandJob'" in problem.reason


def test_schedule_apply_targets_the_stacks_endpoint_and_the_serving_slot(repo_copy: Path) -> None:
    from unittest import mock

    from azure.ai.ml.entities import ManagedOnlineEndpoint
    from azure.ai.ml.operations import OnlineEndpointOperations, ScheduleOperations

    from ctloop.azure.commands import apply_schedules_for_stack

    (repo_copy / ".azureml").mkdir(exist_ok=True)
    (repo_copy / ".azureml/config.dev.json").write_text(
        '{"subscription_id": "s", "resource_group": "rg", "workspace_name": "w",'
        ' "endpoint_name": "ctloop-dev-k3x9qa"}'
    )
    client = mock.Mock(
        schedules=mock.create_autospec(ScheduleOperations, instance=True),
        online_endpoints=mock.create_autospec(OnlineEndpointOperations, instance=True),
    )
    client.online_endpoints.get.return_value = ManagedOnlineEndpoint(
        name="ctloop-dev-k3x9qa", traffic={"blue": 0, "green": 100}
    )
    try:
        code = apply_schedules_for_stack(repo_copy, ["pipelines/schedules/monitor.yml"], "dev", client=client)
    finally:
        (repo_copy / ".azureml/config.dev.json").unlink()
    assert code == 0
    client.online_endpoints.get.assert_called_once_with("ctloop-dev-k3x9qa")
    [call] = client.schedules.begin_create_or_update.call_args_list
    monitor = call.args[0].create_monitor
    assert monitor.monitoring_target.endpoint_deployment_id == "azureml:ctloop-dev-k3x9qa:green"
    performance = monitor.monitoring_signals["model_performance"].production_data
    assert performance.input_data.path.removeprefix("azureml:") == "ctloop-dev-k3x9qa-green-model_outputs:1"
