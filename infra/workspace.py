"""The Azure ML workspace (system-assigned identity, linked to storage, vault, registry, App Insights)
and the managed online endpoint the rollout deploys into.

The endpoint is created here, empty (no deployments, so no cost), because the alert rules need an
existing resource to watch; the rollout adds deployments and moves traffic with azure-ai-ml, so
Pulumi ignores later changes to its traffic split.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import containerregistry, keyvault, resources, storage
from pulumi_azure_native import machinelearningservices as ml

from .config import StackConfig
from .monitoring import Monitoring
from .naming import Names


@dataclass(frozen=True)
class Dependencies:
    storage: storage.StorageAccount
    key_vault: keyvault.Vault
    registry: containerregistry.Registry
    monitoring: Monitoring


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup, deps: Dependencies) -> ml.Workspace:
    return ml.Workspace(
        "workspace",
        workspace_name=names.workspace,
        resource_group_name=rg.name,
        location=cfg.location,
        kind="Default",
        sku=ml.SkuArgs(name="Basic", tier=ml.SkuTier.BASIC),
        friendly_name=f"ctloop {cfg.environment}",
        description=f"ctloop continuous training ({cfg.environment})",
        identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
        storage_account=deps.storage.id,
        key_vault=deps.key_vault.id,
        container_registry=deps.registry.id,
        application_insights=deps.monitoring.app_insights.id,
        system_datastores_auth_mode=ml.SystemDatastoresAuthMode.IDENTITY,
        public_network_access=cfg.public_network_access,
        managed_network=ml.ManagedNetworkSettingsArgs(isolation_mode=cfg.managed_network),
        # the registry is behind a firewall: environment images build on the stack's CPU cluster
        image_build_compute=cfg.cpu_cluster.name,
        hbi_workspace=cfg.high_business_impact,
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )


def create_endpoint(
    cfg: StackConfig, names: Names, rg: resources.ResourceGroup, workspace: ml.Workspace
) -> ml.OnlineEndpoint:
    return ml.OnlineEndpoint(
        "online-endpoint",
        endpoint_name=names.endpoint,
        resource_group_name=rg.name,
        workspace_name=workspace.name,
        location=cfg.location,
        kind="Managed",
        identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
        properties=ml.OnlineEndpointPropertiesArgs(
            auth_mode=cfg.endpoint_auth_mode,
            public_network_access=cfg.public_network_access,
            description=f"ctloop scoring endpoint ({cfg.environment}); the rollout manages deployments",
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(
            parent=workspace, ignore_changes=["properties.traffic", "properties.mirrorTraffic"]
        ),
    )
