"""Uploads with identity-based datastores (shared keys off), at the wire.

Two paths in azure-ai-ml put local files into the workspace's storage account:

- data and model versions with a local ``path``: the SDK reads the default datastore, sees it is
  identity-based (``credentials: None``) and writes the blobs with the caller's own token
  (audience ``https://storage.azure.com``): the caller needs *Storage Blob Data Contributor*;
- code snapshots (a component's or deployment's ``code:``): the SDK asks the workspace for a
  pending upload (``startPendingUpload``) and writes with the short-lived SAS the service returns.

Neither path asks for account keys (``listKeys``) or datastore secrets (``listSecrets``).
"""

from __future__ import annotations

from pathlib import Path

from wire import BLOB_HOST, WS_ID, StaticTokenCredential, Workspace

STORAGE_SCOPE = "https://storage.azure.com/.default"


def _storage_requests(ws: Workspace) -> list:
    return [r for r in ws.requests if r.host == BLOB_HOST]


def _no_key_requests(ws: Workspace) -> None:
    asked = [
        r.short
        for r in ws.requests
        if r.path.endswith(("/listKeys", "/listSecrets")) and "/datastores/" in r.path
    ]
    assert asked == []
    assert not [r for r in ws.requests if "Microsoft.Storage" in r.path]  # no storage-account ARM calls


def test_a_data_asset_is_uploaded_with_the_callers_token(tmp_path: Path, workspace: Workspace) -> None:
    from azure.ai.ml.entities import Data

    batch = tmp_path / "landing"
    batch.mkdir()
    (batch / "2026-01-01.csv").write_text("rain,temp\n1,0.5\n")
    credential = StaticTokenCredential()
    client = workspace.client(credential=credential)
    client.data.create_or_update(
        Data(name="rainfall-landing", version="7", type="uri_folder", path=str(batch))
    )
    writes = [r for r in _storage_requests(workspace) if r.method == "PUT"]
    assert writes and all(
        r.headers["Authorization"] == "Bearer " + credential.token_for(STORAGE_SCOPE) for r in writes
    )
    assert any(b.endswith("landing/2026-01-01.csv") for b in workspace.blobs)
    _no_key_requests(workspace)
    (put,) = workspace.sent("PUT", "/data/rainfall-landing/versions/7")
    assert put.api_version == workspace.schemas.api_version("data_version")
    assert put.json["properties"]["dataType"] == "uri_folder"
    assert put.json["properties"]["dataUri"].startswith("azureml://")
    assert workspace.violations == []


def test_a_model_version_is_uploaded_with_the_callers_token(tmp_path: Path, workspace: Workspace) -> None:
    from azure.ai.ml.entities import Model

    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
    credential = StaticTokenCredential()
    client = workspace.client(credential=credential)
    client.models.create_or_update(
        Model(
            name="rainfall-classifier",
            version="4",
            type="mlflow_model",
            path=str(model),
            tags={"ctloop.run": "r"},
        )
    )
    assert any(r.headers.get("Authorization", "").startswith("Bearer ") for r in _storage_requests(workspace))
    _no_key_requests(workspace)
    (put,) = workspace.sent("PUT", "/models/rainfall-classifier/versions/4")
    assert put.api_version == workspace.schemas.api_version("model_version")
    assert put.json["properties"]["modelType"] == "mlflow_model"
    assert workspace.violations == []


def test_a_code_snapshot_is_uploaded_with_the_services_sas(spec_repo: Path, workspace: Workspace) -> None:
    from azure.ai.ml import load_component

    credential = StaticTokenCredential()
    client = workspace.client(credential=credential)
    client.components.create_or_update(load_component(str(spec_repo / "components" / "train.yml")))
    (pending,) = workspace.sent("POST", "/startPendingUpload")
    assert pending.json == {"pendingUploadType": "TemporaryBlobReference"}
    uploads = _storage_requests(workspace)
    assert uploads and all("sig" in r.query and "Authorization" not in r.headers for r in uploads)
    assert any(b.endswith("src/ctloop/steps/train.py") for b in workspace.blobs)
    assert STORAGE_SCOPE not in credential.scopes  # the caller's token never went to storage
    _no_key_requests(workspace)
    (code,) = workspace.sent("PUT", "/codes/")
    assert code.json["properties"]["codeUri"].startswith(f"https://{BLOB_HOST}/")
    (component,) = workspace.sent("PUT", "/components/")
    assert (
        component.json["properties"]["componentSpec"]["code"] == f"azureml:{WS_ID}{code.path.split(WS_ID)[1]}"
    )
    assert workspace.violations == []


def test_shared_key_requests_are_refused_by_storage(workspace: Workspace) -> None:
    """The stand-in storage account refuses what a keys-off account refuses (SharedKey auth)."""
    from wire import Request

    reply = workspace(
        Request("PUT", f"https://{BLOB_HOST}/c/b.txt", {"Authorization": "SharedKey stctloopdev:c2ln"}, b"x")
    )
    assert reply.status == 403 and reply.headers["x-ms-error-code"] == "KeyBasedAuthenticationNotPermitted"
    assert workspace.blobs == {}
