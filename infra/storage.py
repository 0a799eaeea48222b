"""The workspace's default storage account (StorageV2).

Shared key access is disabled in every stack: the workspace is created with
``systemDatastoresAuthMode: Identity`` so Azure ML reaches its datastores with Microsoft Entra ID
(workspace, cluster and endpoint managed identities; users' own identities from a laptop). What ctloop
uses (jobs on clusters, MLflow logging, blob datastores, managed online endpoints) works this way;
what does not (compute instances with a system-assigned identity, notebook ``git clone`` speed) is
not part of ctloop. See the README (Infrastructure).
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import resources, storage

from .config import StackConfig
from .naming import Names


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup) -> storage.StorageAccount:
    return storage.StorageAccount(
        "storage",
        account_name=names.storage_account,
        resource_group_name=rg.name,
        location=cfg.location,
        kind=storage.Kind.STORAGE_V2,
        sku=storage.SkuArgs(name=cfg.storage_sku),
        access_tier=storage.AccessTier.HOT,
        allow_blob_public_access=False,
        minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
        enable_https_traffic_only=True,
        allow_shared_key_access=False,
        default_to_o_auth_authentication=True,
        allow_cross_tenant_replication=False,
        is_hns_enabled=False,
        public_network_access=cfg.public_network_access,
        network_rule_set=storage.NetworkRuleSetArgs(
            default_action="Allow" if cfg.public else "Deny",
            bypass="AzureServices",
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
