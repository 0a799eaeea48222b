"""The resource group that holds one stack (and scopes its budget)."""

from __future__ import annotations

from pulumi_azure_native import resources

from .config import StackConfig
from .naming import Names


def create(cfg: StackConfig, names: Names) -> resources.ResourceGroup:
    return resources.ResourceGroup(
        "resource-group",
        resource_group_name=names.resource_group,
        location=cfg.location,
        tags=cfg.tags,
    )
