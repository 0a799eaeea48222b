"""``--target azure`` hands the pipeline to ctloop.azure.submit, or says clearly that it is missing."""

from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path
from unittest.mock import create_autospec

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_azure_target_missing_is_a_clear_usage_error(toy, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctloop.azure.submit", None)  # as if the module did not exist
    result = cli("run", toy.pipeline("diamond"), "--target", "azure", "--stack", "dev")
    assert result.code == 2
    assert "the azure target is not installed in this build" in result.err
    assert "Traceback" not in result.err
    assert not (toy.home / "runs").exists()


def test_azure_target_dispatches_path_overrides_and_stack(toy, cli, monkeypatch):
    calls = []
    fake = types.ModuleType("ctloop.azure.submit")
    fake.submit_pipeline = lambda path, overrides, stack: calls.append((path, overrides, stack)) or 0
    monkeypatch.setitem(sys.modules, "ctloop.azure.submit", fake)
    result = cli("run", toy.pipeline("diamond"), "--target", "azure", "--stack", "staging", "--set", "n=4")
    assert result.code == 0
    assert calls == [(str(toy.pipeline("diamond")), {"n": "4"}, "staging")]
    assert not (toy.home / "runs").exists()  # nothing ran locally


# --- one table of submitters; the azure target fills its own inputs and outlives a login -------
def test_submitters_come_from_one_table():
    import inspect

    from ctloop.engine import commands

    assert set(commands.SUBMITTERS) == {"local", "azure"}
    assert isinstance(commands.submitter_for("local"), commands.LocalSubmitter)
    from ctloop.azure.submitter import AzureSubmitter

    assert isinstance(commands.submitter_for("azure"), AzureSubmitter)
    with pytest.raises(ValueError, match="unknown target 'moon'; known: local, azure"):
        commands.submitter_for("moon")
    assert "args.target ==" not in inspect.getsource(commands)


def test_target_overrides_fill_declared_inputs_only(tmp_path):
    from ctloop.azure.submitter import target_overrides

    training = REPO / "pipelines" / "training.yml"
    assert target_overrides(training, "azure", "ctloop-dev-abc123", {}) == {
        "deploy_target": "azure",
        "endpoint_name": "ctloop-dev-abc123",
    }
    assert target_overrides(training, "azure", "e1", {"endpoint_name": "mine"})["endpoint_name"] == "mine"
    assert target_overrides(training, "azure", None, {}) == {"deploy_target": "azure"}
    other = tmp_path / "p.yml"
    other.write_text("type: pipeline\ninputs:\n  n: 1\njobs: {}\n")
    assert target_overrides(other, "azure", "e1", {"n": "2"}) == {"n": "2"}


def test_azure_target_binds_the_stacks_endpoint_and_deploy_target(toy, cli, monkeypatch, tmp_path):
    calls = []
    fake = types.ModuleType("ctloop.azure.submit")
    fake.submit_pipeline = lambda path, overrides, stack, **kw: calls.append((overrides, stack)) or 0
    monkeypatch.setitem(sys.modules, "ctloop.azure.submit", fake)
    pipeline = tmp_path / "deploying.yml"
    pipeline.write_text("type: pipeline\ninputs:\n  deploy_target: local\n  endpoint_name: x\njobs: {}\n")
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.prod.json").write_text(
        json.dumps(
            {"subscription_id": "s", "resource_group": "rg", "workspace_name": "w", "endpoint_name": "ep-prd"}
        )
    )
    result = cli("run", str(pipeline), "--target", "azure", "--stack", "prod")
    assert result.code == 0, result.err
    assert calls == [({"deploy_target": "azure", "endpoint_name": "ep-prd"}, "prod")]


def _jobs_double():
    from azure.ai.ml.operations import JobOperations

    return create_autospec(JobOperations, instance=True)


def _client_with(jobs):
    client = types.SimpleNamespace(jobs=jobs)
    return client


def test_stream_survives_an_expired_login_by_polling_with_a_fresh_credential(capsys):
    from azure.core.exceptions import ClientAuthenticationError

    from ctloop.azure.submitter import ReauthenticatingClient

    first, second = _jobs_double(), _jobs_double()
    first.stream.side_effect = ClientAuthenticationError(
        "AADSTS700024: client assertion is not within its valid time range"
    )
    second.get.side_effect = [
        types.SimpleNamespace(status="Running"),
        types.SimpleNamespace(status="Completed"),
    ]
    clients = iter([_client_with(first), _client_with(second)])
    slept: list[float] = []
    client = ReauthenticatingClient(lambda: next(clients), poll_s=7, sleep=slept.append)
    client.jobs.stream("job-1")
    assert slept == [7]
    second.get.assert_called_with("job-1")
    assert "login expired (AADSTS700024" in capsys.readouterr().err


def test_final_get_is_retried_after_a_401_and_other_errors_propagate():
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    from ctloop.azure.submitter import ReauthenticatingClient

    expired = HttpResponseError(message="token expired")
    expired.status_code = 401
    first, second = _jobs_double(), _jobs_double()
    first.get.side_effect = expired
    second.get.return_value = types.SimpleNamespace(status="Completed")
    clients = iter([_client_with(first), _client_with(second)])
    client = ReauthenticatingClient(lambda: next(clients), sleep=lambda _s: None)
    assert client.jobs.get("job-1").status == "Completed"
    second.get.side_effect = ResourceNotFoundError("no such job")
    with pytest.raises(ResourceNotFoundError):
        client.jobs.get("job-2")


def test_renewals_are_bounded():
    from azure.core.exceptions import ClientAuthenticationError

    from ctloop.azure.submitter import ReauthenticatingClient

    made = []

    def make():
        jobs = _jobs_double()
        jobs.get.side_effect = ClientAuthenticationError("still expired")
        made.append(jobs)
        return _client_with(jobs)

    client = ReauthenticatingClient(make, renewals=2, sleep=lambda _s: None)
    with pytest.raises(ClientAuthenticationError):
        client.jobs.get("job-1")
    assert len(made) == 3


# --- --target/--stack on the loop's verbs; the deploy step on Azure ------------------------------
def test_monitor_verbs_take_target_and_stack_and_export_them(monkeypatch):
    import argparse

    from ctloop import monitor_commands

    monkeypatch.setenv("CTLOOP_TARGET", "local")  # restored after the test
    monkeypatch.delenv("CTLOOP_STACK", raising=False)
    parser = argparse.ArgumentParser()
    monitor_commands.register(parser.add_subparsers())
    for verb in ("monitor", "check-triggers", "loop"):
        args = parser.parse_args([verb, "--target", "azure", "--stack", "prod"])
        assert (args.target, args.stack) == ("azure", "prod")
    assert monitor_commands._apply_target(args) == "azure"
    assert (os.environ["CTLOOP_TARGET"], os.environ["CTLOOP_STACK"]) == ("azure", "prod")
    plain = parser.parse_args(["check-triggers"])
    monkeypatch.setenv("CTLOOP_TARGET", "local")
    assert monitor_commands._apply_target(plain) == "local"


def test_loop_on_azure_submits_the_pipeline_to_the_stack(monkeypatch, tmp_path):
    from ctloop.loop.pipeline import AzureRetrainer

    submitted = []

    class Recorder:
        def submit(self, args, overrides):
            submitted.append((args.pipeline, args.stack, overrides))
            return 0

    champions = iter(["3", "4"])
    monkeypatch.setattr("ctloop.engine.commands.submitter_for", lambda target: Recorder())
    monkeypatch.setattr(AzureRetrainer, "_champion", lambda self: next(champions))
    result = AzureRetrainer("pipelines/training.yml", "prod", "rainfall-classifier")(
        {"model_name": "m"}, tmp_path
    )
    assert submitted == [("pipelines/training.yml", "prod", {"model_name": "m"})]
    assert (result.status, result.promoted, result.champion_before, result.champion_after) == (
        "completed",
        True,
        "3",
        "4",
    )


def test_deploy_step_on_azure_uses_the_jobs_identity_and_the_stacks_endpoint():
    from ctloop.steps.deploy import rollout_environment

    job = {
        "AZUREML_ARM_SUBSCRIPTION": "sub",
        "AZUREML_ARM_RESOURCEGROUP": "rg-ctloop-dev",
        "AZUREML_ARM_WORKSPACE_NAME": "mlw-ctloop-dev",
        "DEFAULT_IDENTITY_CLIENT_ID": "cluster-identity",
    }
    env = rollout_environment("azure", "ctloop-dev-k3x9qa", job)
    assert env["AZURE_SUBSCRIPTION_ID"] == "sub" and env["AZURE_RESOURCE_GROUP"] == "rg-ctloop-dev"
    assert env["AZUREML_WORKSPACE_NAME"] == "mlw-ctloop-dev" and env["AZURE_CLIENT_ID"] == "cluster-identity"
    assert env["AZUREML_ENDPOINT_NAME"] == "ctloop-dev-k3x9qa"
    assert (
        rollout_environment("azure", None, {**job, "AZURE_CLIENT_ID": "explicit"})["AZURE_CLIENT_ID"]
        == "explicit"
    )
    assert rollout_environment("local", "x", job) == job


def test_deploy_component_defaults_to_azure_and_pipelines_bind_it():
    import yaml

    component = yaml.safe_load((REPO / "components/deploy.yml").read_text())
    assert component["inputs"]["target"]["default"] == "azure"
    assert "--endpoint-name ${{inputs.endpoint_name}}" in component["command"]
    for name in ("training.yml", "training-dnn.yml"):
        pipeline = yaml.safe_load((REPO / "pipelines" / name).read_text())
        deploy = pipeline["jobs"]["deploy"]["inputs"]
        assert deploy["target"] == "${{parent.inputs.deploy_target}}"
        assert deploy["endpoint_name"] == "${{parent.inputs.endpoint_name}}"
        assert pipeline["inputs"]["deploy_target"] == "local"  # the local engine; azure sets its own


def test_check_triggers_on_azure_without_a_workspace_says_so_and_touches_nothing(
    monkeypatch, tmp_path, capsys
):
    """``make check-triggers TARGET=azure STACK=prod`` once decided locally; now it refuses clearly."""
    import argparse

    from ctloop import monitor_commands

    home = tmp_path / "state"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTLOOP_HOME", str(home))
    monkeypatch.setenv("CTLOOP_TARGET", "local")
    monkeypatch.delenv("CTLOOP_STACK", raising=False)
    for name in ("AZUREML_ARM_SUBSCRIPTION", "AZUREML_ARM_RESOURCEGROUP", "AZUREML_ARM_WORKSPACE_NAME"):
        monkeypatch.delenv(name, raising=False)
    parser = argparse.ArgumentParser()
    monitor_commands.register(parser.add_subparsers())
    for verb in ("check-triggers", "monitor", "loop"):
        args = parser.parse_args([verb, "--target", "azure", "--stack", "prod"])
        assert args.func(args) == 2
        err = capsys.readouterr().err
        assert f"ctloop {verb}: " in err and "make azureml-config STACK=prod" in err
        assert "Traceback" not in err
    assert not home.exists()
