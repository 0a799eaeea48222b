"""The workspace's container registry: no admin user, no anonymous pull; public access per stack."""

from __future__ import annotations

import pulumi
from pulumi_azure_native import containerregistry, resources

from .config import StackConfig
from .naming import Names


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup) -> containerregistry.Registry:
    return containerregistry.Registry(
        "registry",
        registry_name=names.container_registry,
        resource_group_name=rg.name,
        location=cfg.location,
        sku=containerregistry.SkuArgs(name=cfg.registry_sku),
        admin_user_enabled=False,
        anonymous_pull_enabled=False,
        public_network_access=cfg.public_network_access,
        network_rule_bypass_options="AzureServices",
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
