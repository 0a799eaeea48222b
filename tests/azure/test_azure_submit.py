"""``submit_pipeline`` with the real MLClient at the wire: registration, submission, streaming, failures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from wire import WS_ID, Workspace

from ctloop.azure import workspace as azure_workspace
from ctloop.azure.assets import CONTENT_TAG
from ctloop.azure.submit import submit_pipeline
from ctloop.gitops.versions import LOCK_PATH, read_lock


def _submit(
    root: Path, ws: Workspace | None, overrides: dict[str, str] | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    client = ws.client() if ws is not None else None
    rc = submit_pipeline(
        root / "pipelines" / "training.yml", overrides, "dev", client=client, root=root, out=out, err=err
    )
    return rc, out.getvalue(), err.getvalue()


def _job_body(ws: Workspace) -> dict:
    (put,) = [r for r in ws.sent("PUT", "/jobs/")][-1:]
    return put.json["properties"]


def test_registers_environments_then_components_then_submits(spec_repo: Path, workspace: Workspace) -> None:
    rc, out, err = _submit(spec_repo, workspace)
    assert rc == 0, err
    assert workspace.violations == []
    puts = [w for w in workspace.writes() if w.startswith("PUT") and "/codes/" not in w]
    assert puts[0] == "PUT /environments/ctloop-train/versions/1"
    assert sorted(puts[1:4]) == [
        "PUT /components/ctloop_evaluate/versions/1.0.0",
        "PUT /components/ctloop_register/versions/1.0.0",
        "PUT /components/ctloop_train/versions/1.0.0",
    ]
    assert puts[4].startswith("PUT /jobs/") and len(puts) == 5
    # Every body went out at the api-version its schema was taken from.
    for request in workspace.sent("PUT"):
        if request.host == "management.azure.com":
            kind = request.path.replace(WS_ID, "").split("/")[1]
            schema = {
                "environments": "environment_version",
                "components": "component_version",
                "codes": "code_version",
                "jobs": "pipeline_job",
            }[kind]
            assert request.api_version == workspace.schemas.api_version(schema), request.short
    lock = read_lock(spec_repo / LOCK_PATH)
    train = workspace.assets[("components", "ctloop_train", "1.0.0")]["properties"]
    assert train["tags"][CONTENT_TAG] == lock[("component", "ctloop_train", "1.0.0")].digest
    assert train["componentSpec"]["code"].startswith(f"azureml:{WS_ID}/codes/")
    # Each job runs the version registered just before, not an anonymous copy of the YAML.
    jobs = _job_body(workspace)["jobs"]
    assert {j: spec["componentId"] for j, spec in jobs.items()} == {
        name: f"{WS_ID}/components/ctloop_{name}/versions/1.0.0" for name in ("train", "evaluate", "register")
    }
    name = workspace.sent("PUT", "/jobs/")[-1].path.rsplit("/", 1)[1]
    assert f"{name} completed" in out
    # The status was followed on the workspace's run history, after submission.
    assert workspace.sent("GET", f"/runs/{name}/details")


def test_existing_versions_with_the_same_content_are_skipped(spec_repo: Path, workspace: Workspace) -> None:
    assert _submit(spec_repo, workspace)[0] == 0
    before = len(workspace.requests)
    rc, out, _ = _submit(spec_repo, workspace)
    assert rc == 0
    again = [
        r.short for r in workspace.requests[before:] if r.method == "PUT" and r.host == "management.azure.com"
    ]
    assert len(again) == 1 and again[0].startswith("PUT /jobs/")
    assert "component ctloop_train:1.0.0: exists with the same content, skipped" in out


def test_a_version_that_exists_with_other_content_stops_everything(
    spec_repo: Path, workspace: Workspace
) -> None:
    client = workspace.client()
    from azure.ai.ml import load_component, load_environment

    env = load_environment(str(spec_repo / "environments" / "train.yml"))
    client.environments.create_or_update(env)  # registered by hand: no content tag
    comp = load_component(str(spec_repo / "components" / "evaluate.yml"))
    comp.tags = {CONTENT_TAG: "sha256:other"}
    client.components.create_or_update(comp)
    before = len(workspace.writes())
    rc, _, err = _submit(spec_repo, workspace)
    assert rc == 2
    assert workspace.writes()[before:] == []
    assert "component ctloop_evaluate:1.0.0 already exists in the workspace with different content" in err
    assert "environment ctloop-train:1 already exists in the workspace without a ctloop content hash" in err
    assert "bump its version" in err


def test_failed_run_names_the_failing_step_and_its_link(spec_repo: Path, workspace: Workspace) -> None:
    workspace.job_status = "Failed"
    workspace.child_jobs = [
        {"name": "c1", "display_name": "train", "status": "Failed"},
        {"name": "c2", "display_name": "evaluate", "status": "Completed"},
    ]
    rc, _, err = _submit(spec_repo, workspace)
    assert rc == 1
    name = workspace.sent("PUT", "/jobs/")[-1].path.rsplit("/", 1)[1]
    assert f"{name} ended Failed: https://ml.azure.com/runs/{name}" in err
    assert "step 'train' failed: https://ml.azure.com/runs/c1" in err
    assert "evaluate" not in err
    assert workspace.sent("GET", f"/runs/{name}/children")


def test_invalid_specs_are_refused_before_any_azure_call(make_repo, workspace: Workspace) -> None:
    root = make_repo("pipeline_job_timeout")
    rc, _, err = _submit(root, workspace)
    assert rc == 2
    assert workspace.requests == []
    assert "pipeline.job-timeout" in err and "nothing was submitted" in err


def test_overrides(spec_repo: Path, workspace: Workspace) -> None:
    assert _submit(spec_repo, workspace, {"landing": "azureml:rainfall-landing:3"})[0] == 0
    # On the wire a data asset reference is the asset version's ARM id.
    assert _job_body(workspace)["inputs"]["landing"] == {
        "uri": f"{WS_ID}/data/rainfall-landing/versions/3",
        "jobInputType": "uri_folder",
    }
    assert workspace.violations == []
    # A local override is checked by the engine first (the path must exist).
    fresh = Workspace()
    rc, _, err = _submit(spec_repo, fresh, {"landing": "no/such/folder"})
    assert rc == 2 and fresh.requests == []
    assert "landing" in err


def test_missing_workspace_config_is_explained(spec_repo: Path) -> None:
    rc, _, err = _submit(spec_repo, None)
    assert rc == 2
    assert ".azureml/config.json: not found" in err and "make azureml-config STACK=dev" in err


def test_incomplete_config_and_missing_credentials(spec_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = spec_repo / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"subscription_id": "00000000-0000-0000-0000-000000000000"}))
    with pytest.raises(azure_workspace.AzureSetupError, match="missing resource_group, workspace_name"):
        azure_workspace.ml_client(spec_repo, "dev")
    config.write_text(
        json.dumps(
            {"subscription_id": "0000", "resource_group": "rg-ctloop-dev", "workspace_name": "mlw-ctloop-dev"}
        )
    )
    import azure.identity

    class NoCredential:
        def get_token(self, *scopes: str) -> None:
            raise azure.identity.CredentialUnavailableError(
                "DefaultAzureCredential failed to retrieve a token"
            )

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NoCredential)
    for name in ("AZUREML_ARM_SUBSCRIPTION", "AZUREML_ARM_RESOURCEGROUP", "AZUREML_ARM_WORKSPACE_NAME"):
        monkeypatch.delenv(name, raising=False)
    rc, _, err = _submit(spec_repo, None)
    assert rc == 2
    assert "no Azure credentials: run `az login`" in err
    # A stack-specific config wins over config.json.
    (spec_repo / ".azureml" / "config.prod.json").write_text(config.read_text())
    assert azure_workspace.config_path(spec_repo, "prod").name == "config.prod.json"
    assert azure_workspace.config_path(spec_repo, "dev").name == "config.json"
