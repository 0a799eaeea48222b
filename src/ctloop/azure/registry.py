"""The Azure registry: the workspace's model registry through MLflow (``azureml://`` tracking URI).

Why MLflow rather than azure-ai-ml's ``MLClient.models``: the steps that use the registry
(``evaluate`` reads the champion, ``register`` adds a version and moves the pointer) run inside
Azure ML jobs, whose environment carries MLflow and the ``azureml-mlflow`` plugin and gets the
workspace tracking URI and credentials injected; azure-ai-ml is neither installed there nor
authenticated. MLflow also keeps model versions linked to the runs that produced them, and it is
the same client code as the local registry.

The champion pointer is the registered-model tag ``ctloop.champion`` (not an MLflow alias: this
implementation does not rely on alias support in the workspace's MLflow API). Azure ML has no
conditional update for tags, so :meth:`AzureMLRegistry.set_champion` is check-then-set with a
read-back, not an atomic compare-and-set: promotions must be serialised (one pipeline run at a
time: the retrain workflow's concurrency group and a single schedule).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from ctloop.registry.base import (
    CHAMPION_ALIAS,
    STATUS_PROMOTED,
    STATUS_REGISTERED,
    TAG_PROMOTED_AT,
    TAG_STATUS,
    TAG_SUPERSEDED_BY,
    ModelVersion,
    Registry,
    RegistryError,
    check_model_name,
    now_iso,
)
from ctloop.registry.mlflow_common import (
    REGISTRY_EXPERIMENT,
    error_code,
    is_missing,
    mlflow_client,
    to_model_version,
)

CHAMPION_TAG = "ctloop.champion"


def workspace_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` (set inside Azure ML jobs), else the workspace's, via azure-ai-ml."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("azureml:"):
        return uri
    from ctloop.azure.workspace import ml_client

    client = ml_client(Path.cwd(), os.environ.get("CTLOOP_STACK", "dev"))
    return str(client.workspaces.get(client.workspace_name).mlflow_tracking_uri)


class AzureMLRegistry(Registry):
    """Versions of one model in the workspace registry, through MLflow."""

    def __init__(self, name: str, tracking_uri: str | None = None, client: Any = None) -> None:
        self.name = check_model_name(name)
        self.uri = tracking_uri or workspace_tracking_uri()
        self._client = client or mlflow_client(self.uri)

    @classmethod
    def model_names(cls, tracking_uri: str | None = None, client: Any = None) -> list[str]:
        client = client or mlflow_client(tracking_uri or workspace_tracking_uri())
        names: list[str] = []
        token = None
        while True:
            page = client.search_registered_models(max_results=100, page_token=token)
            names.extend(m.name for m in page)
            token = getattr(page, "token", None)
            if not token:
                return sorted(names)

    # --- helpers -----------------------------------------------------------------------------
    def _champion_version(self) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            model = self._client.get_registered_model(self.name)
        except MlflowException as exc:
            if is_missing(exc):
                return None
            raise
        value = (model.tags or {}).get(CHAMPION_TAG)
        return str(value).split(";", 1)[0] if value else None

    def _convert(self, mv: Any, champion: str | None) -> ModelVersion:
        aliases = (CHAMPION_ALIAS,) if champion == str(mv.version) else ()
        return to_model_version(self.name, mv, aliases)

    def _experiment_id(self) -> str:
        found = self._client.get_experiment_by_name(REGISTRY_EXPERIMENT)
        return (
            found.experiment_id if found is not None else self._client.create_experiment(REGISTRY_EXPERIMENT)
        )

    def _tag(self, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self._client.set_model_version_tag(self.name, str(version), str(key), str(value))

    # --- Registry ----------------------------------------------------------------------------
    def register(self, model_dir: str | Path, tags: dict[str, str]) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        model_dir = Path(model_dir)
        if not (model_dir / "MLmodel").is_file():
            raise RegistryError(f"{model_dir}: not an MLflow model folder (no MLmodel file)")
        try:
            self._client.create_registered_model(self.name)
        except MlflowException as exc:
            if error_code(exc) != "RESOURCE_ALREADY_EXISTS":
                raise
        run = self._client.create_run(
            self._experiment_id(), run_name=f"register-{self.name}", tags={"ctloop.model": self.name}
        )
        self._client.log_artifacts(run.info.run_id, str(model_dir), "model")
        self._client.set_terminated(run.info.run_id)
        all_tags = {TAG_STATUS: STATUS_REGISTERED, **{str(k): str(v) for k, v in tags.items()}}
        mv = self._client.create_model_version(
            self.name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, tags=all_tags
        )
        return self._convert(mv, self._champion_version())

    def get(self, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            mv = self._client.get_model_version(self.name, str(version))
        except MlflowException as exc:
            if is_missing(exc):
                raise RegistryError(f"model {self.name!r} has no version {version!r}") from None
            raise
        return self._convert(mv, self._champion_version())

    def champion(self) -> ModelVersion | None:
        current = self._champion_version()
        return self.get(current) if current is not None else None

    def set_champion(self, version: str, expected: str | None) -> bool:
        version = str(version)
        expected = None if expected is None else str(expected)
        self.get(version)  # must exist
        current = self._champion_version()
        if current != expected:
            return False
        if current == version:
            return True
        claim = f"{version};{uuid.uuid4().hex}"
        self._client.set_registered_model_tag(self.name, CHAMPION_TAG, claim)
        model = self._client.get_registered_model(self.name)
        if (model.tags or {}).get(CHAMPION_TAG) != claim:
            return False  # another writer's claim landed after ours
        self._tag(version, {TAG_STATUS: STATUS_PROMOTED, TAG_PROMOTED_AT: now_iso()})
        if current is not None:
            self._tag(current, {TAG_SUPERSEDED_BY: version})
        return True

    def list_versions(self) -> list[ModelVersion]:
        champion = self._champion_version()
        found = []
        token = None
        while True:
            page = self._client.search_model_versions(f"name = '{self.name}'", page_token=token)
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                break
        return sorted((self._convert(mv, champion) for mv in found), key=lambda v: int(v.version))

    def set_tags(self, version: str, tags: dict[str, str]) -> ModelVersion:
        self.get(version)
        self._tag(version, tags)
        return self.get(version)

    def download(self, version: str, dest: str | Path) -> Path:
        import mlflow.artifacts

        mv = self.get(version)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=mv.source, dst_path=str(dest), tracking_uri=self.uri
        )
        return Path(local)
