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

from ctloop.registry.base import CHAMPION_ALIAS, SERVING_ALIAS, check_model_name
from ctloop.registry.mlflow_common import MlflowRegistry, is_missing, mlflow_client

CHAMPION_TAG = "ctloop.champion"
SERVING_TAG = "ctloop.serving"
#: pointer -> the registered-model tag that holds it
POINTER_TAGS = {CHAMPION_ALIAS: CHAMPION_TAG, SERVING_ALIAS: SERVING_TAG}


def workspace_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` (set inside Azure ML jobs), else the workspace's, via azure-ai-ml."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if uri.startswith("azureml:"):
        return uri
    from ctloop.azure.workspace import ml_client

    client = ml_client(Path.cwd(), os.environ.get("CTLOOP_STACK", "dev"))
    return str(client.workspaces.get(client.workspace_name).mlflow_tracking_uri)


class AzureMLRegistry(MlflowRegistry):
    """Versions of one model in the workspace registry, through MLflow."""

    def __init__(self, name: str, tracking_uri: str | None = None, client: Any = None) -> None:
        self.name = check_model_name(name)
        self.uri = tracking_uri or workspace_tracking_uri()
        self._client = client or mlflow_client(self.uri)

    @classmethod
    def model_names(cls, tracking_uri: str | None = None, client: Any = None) -> list[str]:
        return cls._names(client or mlflow_client(tracking_uri or workspace_tracking_uri()))

    # --- store adapter -------------------------------------------------------------------------
    def _pointers(self) -> dict[str, str]:
        from mlflow.exceptions import MlflowException

        try:
            model = self._client.get_registered_model(self.name)
        except MlflowException as exc:
            if is_missing(exc):
                return {}
            raise
        tags = model.tags or {}
        return {
            pointer: str(tags[tag]).split(";", 1)[0]
            for pointer, tag in POINTER_TAGS.items()
            if tags.get(tag) and str(tags[tag]).split(";", 1)[0]
        }

    def _write_pointer(self, pointer: str, version: str | None) -> bool:
        """Set the pointer's tag to a unique claim and read it back (no conditional tag update)."""
        tag = POINTER_TAGS[pointer]
        if version is None:
            self._client.delete_registered_model_tag(self.name, tag)
            return True
        claim = f"{version};{uuid.uuid4().hex}"
        self._client.set_registered_model_tag(self.name, tag, claim)
        model = self._client.get_registered_model(self.name)
        return (model.tags or {}).get(tag) == claim  # False: another writer's claim landed after ours
