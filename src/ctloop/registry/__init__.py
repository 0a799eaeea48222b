"""Model registry: ``open_registry(model_name)`` returns the :class:`Registry` for the current target.

The target is ``$CTLOOP_TARGET`` when set, else ``azure`` for an ``azureml://`` tracking URI, else
``local`` (MLflow on SQLite under ``.ctloop/registry/``). Implementations are imported only when
chosen; one that is not part of this build fails with a clear :class:`RegistryError`.
"""

from __future__ import annotations

import importlib
import os

from ctloop import paths
from ctloop.registry.base import (
    CHAMPION_ALIAS,
    STATUS_DEPLOYED,
    STATUS_MOVED,
    STATUS_NOT_PROMOTED,
    STATUS_PROMOTED,
    STATUS_REGISTERED,
    STATUS_REJECTED,
    TAG_STATUS,
    ModelVersion,
    Registry,
    RegistryError,
)

__all__ = [
    "CHAMPION_ALIAS",
    "IMPLEMENTATIONS",
    "STATUS_DEPLOYED",
    "STATUS_MOVED",
    "STATUS_NOT_PROMOTED",
    "STATUS_PROMOTED",
    "STATUS_REGISTERED",
    "STATUS_REJECTED",
    "TAG_STATUS",
    "ModelVersion",
    "Registry",
    "RegistryError",
    "current_target",
    "model_names",
    "open_registry",
]

TARGET_ENV = "CTLOOP_TARGET"

#: target -> "module:Class" implementing Registry (constructed with the model name).
IMPLEMENTATIONS: dict[str, str] = {
    "local": "ctloop.registry.local:LocalRegistry",
    "azure": "ctloop.azure.registry:AzureMLRegistry",
}


def current_target() -> str:
    """``$CTLOOP_TARGET``, else ``azure`` for an ``azureml://`` tracking URI, else ``local``."""
    explicit = os.environ.get(TARGET_ENV, "").strip()
    if explicit:
        return explicit
    return "azure" if paths.tracking_uri().startswith("azureml:") else "local"


def _implementation(target: str | None) -> type[Registry]:
    target = target or current_target()
    if target not in IMPLEMENTATIONS:
        raise RegistryError(f"{TARGET_ENV}: unknown target {target!r}; known: {', '.join(IMPLEMENTATIONS)}")
    module_name, _, class_name = IMPLEMENTATIONS[target].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise RegistryError(
            f"the {target} registry is not installed in this build ({module_name} is missing); "
            f"use {TARGET_ENV}=local"
        ) from None
    return getattr(module, class_name)


def open_registry(model_name: str, target: str | None = None) -> Registry:
    """The registry of ``model_name`` for ``target`` (default: :func:`current_target`)."""
    return _implementation(target)(model_name)


def model_names(target: str | None = None) -> list[str]:
    """Every registered model name for ``target``."""
    return _implementation(target).model_names()
