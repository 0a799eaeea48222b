"""What the local and the Azure registry share: the MLflow client and the model-version record."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from ctloop.registry.base import STATUS_REGISTERED, TAG_STATUS, ModelVersion

#: MLflow experiment whose runs hold the registered model files.
REGISTRY_EXPERIMENT = "ctloop-registry"


def mlflow_client(uri: str) -> Any:
    """An ``MlflowClient`` for tracking and registry at ``uri`` (no telemetry, no progress bars)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in step logs
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def error_code(exc: BaseException) -> str:
    """The MLflow error code of ``exc`` ("" when it has none)."""
    return str(getattr(exc, "error_code", ""))


def is_missing(exc: BaseException) -> bool:
    """Whether ``exc`` says the model or version does not exist."""
    return error_code(exc) in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def to_model_version(name: str, mv: Any, aliases: tuple[str, ...]) -> ModelVersion:
    """The :class:`ModelVersion` of MLflow's model version ``mv`` of model ``name``."""
    tags = {str(k): str(v) for k, v in (mv.tags or {}).items()}
    created = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, UTC).isoformat(timespec="seconds")
    return ModelVersion(
        name=name,
        version=str(mv.version),
        source=str(mv.source),
        tags=tags,
        aliases=aliases,
        created=created,
        status=tags.get(TAG_STATUS, STATUS_REGISTERED),
    )
