"""``submit_pipeline`` against a recording fake MLClient: registration, submission, streaming, failures."""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_mlclient import FakeMLClient

from ctloop.azure import workspace
from ctloop.azure.assets import CONTENT_TAG
from ctloop.azure.submit import submit_pipeline
from ctloop.gitops.versions import LOCK_PATH, read_lock


def _submit(
    root: Path, client: FakeMLClient | None, overrides: dict[str, str] | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = submit_pipeline(
        root / "pipelines" / "training.yml", overrides, "dev", client=client, root=root, out=out, err=err
    )
    return rc, out.getvalue(), err.getvalue()


def _payload(client: FakeMLClient) -> dict:
    job = client.jobs.submitted[-1]
    return json.loads(json.dumps(job._to_rest_object().as_dict(), default=str))["properties"]


def test_registers_environments_then_components_then_submits(spec_repo: Path) -> None:
    client = FakeMLClient()
    rc, out, err = _submit(spec_repo, client)
    assert rc == 0, err
    ops = client.ops()
    first_component = ops.index("components.create_or_update")
    assert ops.index("environments.create_or_update") < first_component < ops.index("jobs.create_or_update")
    assert ops[-3:] == ["jobs.create_or_update", "jobs.stream", "jobs.get"]
    created = {d for op, d in client.calls if op.endswith("create_or_update") and not op.startswith("jobs")}
    assert created == {
        "ctloop-train:1",
        "ctloop_train:1.0.0",
        "ctloop_evaluate:1.0.0",
        "ctloop_register:1.0.0",
    }
    lock = read_lock(spec_repo / LOCK_PATH)
    entity = client.components.store[("ctloop_train", "1.0.0")]
    assert entity.tags[CONTENT_TAG] == lock[("component", "ctloop_train", "1.0.0")].digest
    # Each job runs the version registered just before, not an anonymous copy of the YAML.
    jobs = _payload(client)["jobs"]
    assert {j: spec["componentId"] for j, spec in jobs.items()} == {
        "train": "azureml:ctloop_train:1.0.0",
        "evaluate": "azureml:ctloop_evaluate:1.0.0",
        "register": "azureml:ctloop_register:1.0.0",
    }
    assert "quiet_tree_123 completed" in out


def test_existing_versions_with_the_same_content_are_skipped(spec_repo: Path) -> None:
    client = FakeMLClient()
    assert _submit(spec_repo, client)[0] == 0
    client.calls.clear()
    rc, out, _ = _submit(spec_repo, client)
    assert rc == 0
    assert [op for op in client.ops() if op.endswith("create_or_update")] == ["jobs.create_or_update"]
    assert "component ctloop_train:1.0.0: exists with the same content, skipped" in out


def test_a_version_that_exists_with_other_content_stops_everything(spec_repo: Path) -> None:
    client = FakeMLClient()
    client.components.store[("ctloop_evaluate", "1.0.0")] = SimpleNamespace(
        tags={CONTENT_TAG: "sha256:other"}
    )
    client.environments.store[("ctloop-train", "1")] = SimpleNamespace(tags={})
    rc, _, err = _submit(spec_repo, client)
    assert rc == 2
    assert not [op for op in client.ops() if op.endswith("create_or_update")]
    assert "component ctloop_evaluate:1.0.0 already exists in the workspace with different content" in err
    assert "environment ctloop-train:1 already exists in the workspace without a ctloop content hash" in err
    assert "bump its version" in err


def test_failed_run_names_the_failing_step_and_its_link(spec_repo: Path) -> None:
    children = [
        SimpleNamespace(
            name="c1", display_name="train", status="Failed", studio_url="https://ml.azure.com/runs/c1"
        ),
        SimpleNamespace(name="c2", display_name="evaluate", status="Completed", studio_url="https://x/c2"),
    ]
    client = FakeMLClient(final_status="Failed", children=children)
    rc, _, err = _submit(spec_repo, client)
    assert rc == 1
    assert "quiet_tree_123 ended Failed: https://ml.azure.com/runs/quiet_tree_123" in err
    assert "step 'train' failed: https://ml.azure.com/runs/c1" in err
    assert "evaluate" not in err
    assert ("jobs.list", "quiet_tree_123") in client.calls


def test_invalid_specs_are_refused_before_any_azure_call(make_repo) -> None:
    root = make_repo("pipeline_job_timeout")
    client = FakeMLClient()
    rc, _, err = _submit(root, client)
    assert rc == 2
    assert client.calls == []
    assert "pipeline.job-timeout" in err and "nothing was submitted" in err


def test_overrides(spec_repo: Path) -> None:
    client = FakeMLClient()
    assert _submit(spec_repo, client, {"landing": "azureml:rainfall-landing:3"})[0] == 0
    # The SDK keeps a data asset reference as name:version (resolved to its ARM id on submission).
    assert _payload(client)["inputs"]["landing"] == {
        "uri": "rainfall-landing:3",
        "jobInputType": "uri_folder",
    }
    # A local override is checked by the engine first (the path must exist).
    client = FakeMLClient()
    rc, _, err = _submit(spec_repo, client, {"landing": "no/such/folder"})
    assert rc == 2 and client.calls == []
    assert "landing" in err


def test_missing_workspace_config_is_explained(spec_repo: Path) -> None:
    rc, _, err = _submit(spec_repo, None)
    assert rc == 2
    assert ".azureml/config.json: not found" in err and "make azureml-config STACK=dev" in err


def test_incomplete_config_and_missing_credentials(spec_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = spec_repo / ".azureml" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"subscription_id": "00000000-0000-0000-0000-000000000000"}))
    with pytest.raises(workspace.AzureSetupError, match="missing resource_group, workspace_name"):
        workspace.ml_client(spec_repo, "dev")
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
    rc, _, err = _submit(spec_repo, None)
    assert rc == 2
    assert "no Azure credentials: run `az login`" in err
    # A stack-specific config wins over config.json.
    (spec_repo / ".azureml" / "config.prod.json").write_text(config.read_text())
    assert workspace.config_path(spec_repo, "prod").name == "config.prod.json"
    assert workspace.config_path(spec_repo, "dev").name == "config.json"
