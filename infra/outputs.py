"""The stack outputs: everything azure-ai-ml and the rest of ctloop need to find this stack's resources."""

from __future__ import annotations

from typing import Any

import pulumi

from .config import StackConfig
from .naming import Names

# Keys every stack exports; azureml_config.py turns them into .azureml/config.json.
KEYS = (
    "subscription_id",
    "tenant_id",
    "resource_group",
    "location",
    "environment",
    "workspace_name",
    "workspace_id",
    "gpu_compute",
    "cpu_compute",
    "compute_names",
    "endpoint_name",
    "storage_account",
    "container_registry",
    "key_vault",
    "log_analytics_workspace_id",
    "app_insights_name",
)


def collect(
    cfg: StackConfig,
    names: Names,
    *,
    subscription_id: pulumi.Input[str],
    tenant_id: pulumi.Input[str],
    resource_group: pulumi.Resource,
    workspace: pulumi.Resource,
    clusters: dict[str, pulumi.Resource],
    endpoint: pulumi.Resource,
    storage_account: pulumi.Resource,
    registry: pulumi.Resource,
    key_vault: pulumi.Resource,
    logs: pulumi.Resource,
    app_insights: pulumi.Resource,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "subscription_id": subscription_id,
        "tenant_id": tenant_id,
        "resource_group": resource_group.name,  # type: ignore[attr-defined]
        "location": cfg.location,
        "environment": cfg.environment,
        "workspace_name": workspace.name,  # type: ignore[attr-defined]
        "workspace_id": workspace.id,  # type: ignore[attr-defined]
        "gpu_compute": clusters["gpu"].name,  # type: ignore[attr-defined]
        "cpu_compute": clusters["cpu"].name,  # type: ignore[attr-defined]
        "compute_names": {kind: c.name for kind, c in clusters.items()},  # type: ignore[attr-defined]
        "endpoint_name": endpoint.name,  # type: ignore[attr-defined]
        "storage_account": storage_account.name,  # type: ignore[attr-defined]
        "container_registry": registry.name,  # type: ignore[attr-defined]
        "key_vault": key_vault.name,  # type: ignore[attr-defined]
        "log_analytics_workspace_id": logs.id,  # type: ignore[attr-defined]
        "app_insights_name": app_insights.name,  # type: ignore[attr-defined]
    }
    if set(values) != set(KEYS):
        raise RuntimeError(f"stack outputs {sorted(values)} differ from outputs.KEYS {sorted(KEYS)}")
    return values


def export(values: dict[str, Any]) -> None:
    for key, value in values.items():
        pulumi.export(key, value)
