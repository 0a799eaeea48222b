"""The MLClient inside an Azure ML job (no config.json: the job's environment and managed identity)
and on a laptop (config.json), checked at the wire: which workspace the calls reach, with whose token."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import azure.identity
import pytest
from wire import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE, WS_ID, StaticTokenCredential, Workspace

from ctloop.azure import workspace as azure_workspace
from ctloop.rollout.azure_endpoint import ml_client_from_environment

JOB_ENV = {
    "AZUREML_ARM_SUBSCRIPTION": SUBSCRIPTION,
    "AZUREML_ARM_RESOURCEGROUP": RESOURCE_GROUP,
    "AZUREML_ARM_WORKSPACE_NAME": WORKSPACE,
}


def test_inside_a_job_the_environment_names_the_workspace(tmp_path: Path, workspace: Workspace) -> None:
    assert not (tmp_path / ".azureml").exists()  # a job's snapshot has no workspace config
    credential = StaticTokenCredential(principal="33333333-3333-3333-3333-333333333333")
    client = azure_workspace.ml_client(
        tmp_path, "prod", credential=credential, environ=JOB_ENV, transport=workspace.transport()
    )
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        SUBSCRIPTION,
        RESOURCE_GROUP,
        WORKSPACE,
    )
    client.workspaces.get(WORKSPACE)
    (request,) = workspace.requests
    assert request.path == WS_ID
    assert request.headers["Authorization"] == "Bearer " + credential.token_for(azure_workspace.ARM_SCOPE)


def test_the_job_identity_is_the_computes_managed_identity() -> None:
    with mock.patch.object(azure.identity, "ManagedIdentityCredential", autospec=True) as managed:
        azure_workspace.job_credential(
            {**JOB_ENV, "DEFAULT_IDENTITY_CLIENT_ID": "44444444-0000-0000-0000-000000000000"}
        )
        azure_workspace.job_credential(JOB_ENV)  # system-assigned identity: no client id
    assert managed.call_args_list == [
        mock.call(client_id="44444444-0000-0000-0000-000000000000"),
        mock.call(),
    ]


def test_a_job_client_needs_no_login_and_no_config(tmp_path: Path) -> None:
    """The real ManagedIdentityCredential is built (no network until a token is asked for)."""
    client = azure_workspace.ml_client(
        tmp_path, "dev", environ={**JOB_ENV, "DEFAULT_IDENTITY_CLIENT_ID": "abc"}
    )
    assert isinstance(client._credential, azure.identity.ManagedIdentityCredential)
    assert client.workspace_name == WORKSPACE


def test_a_partial_job_environment_is_explained(tmp_path: Path) -> None:
    partial = {"AZUREML_ARM_SUBSCRIPTION": SUBSCRIPTION}
    with pytest.raises(
        azure_workspace.AzureSetupError,
        match="AZUREML_ARM_RESOURCEGROUP, AZUREML_ARM_WORKSPACE_NAME not set while AZUREML_ARM_SUBSCRIPTION",
    ):
        azure_workspace.ml_client(tmp_path, "dev", environ=partial)


def test_outside_a_job_the_stack_config_is_used(tmp_path: Path, workspace: Workspace) -> None:
    config = tmp_path / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(
        json.dumps(
            {"subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP, "workspace_name": WORKSPACE}
        )
    )
    client = azure_workspace.ml_client(
        tmp_path, "dev", credential=StaticTokenCredential(), environ={}, transport=workspace.transport()
    )
    client.workspaces.get(WORKSPACE)
    assert workspace.requests[0].path == WS_ID
    with pytest.raises(azure_workspace.AzureSetupError, match=r"config\.json: not found"):
        azure_workspace.ml_client(
            tmp_path / "elsewhere", "dev", credential=StaticTokenCredential(), environ={}
        )


def test_the_deploy_step_builds_its_client_from_the_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in JOB_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEFAULT_IDENTITY_CLIENT_ID", "55555555-0000-0000-0000-000000000000")
    monkeypatch.chdir(tmp_path)
    client = ml_client_from_environment()
    assert client.workspace_name == WORKSPACE
    assert isinstance(client._credential, azure.identity.ManagedIdentityCredential)
