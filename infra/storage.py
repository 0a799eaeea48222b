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


def ip_rules(cfg: StackConfig) -> list[storage.IPRuleArgs]:
    """The allowed ranges as storage firewall rules (storage takes a bare address for a /32)."""
    return [
        storage.IPRuleArgs(i_p_address_or_range=r.cidr.removesuffix("/32"), action=storage.Action.ALLOW)
        for r in cfg.network.allowed_ip_ranges
    ]


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup) -> storage.StorageAccount:
    """The account (firewall denies by default in every mode) and its blob soft-delete settings."""
    account = storage.StorageAccount(
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
            default_action=storage.DefaultAction.DENY,
            bypass="AzureServices",
            ip_rules=ip_rules(cfg) if not cfg.network.private else [],
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
    retention = storage.DeleteRetentionPolicyArgs(enabled=True, days=cfg.storage_soft_delete_days)
    storage.BlobServiceProperties(
        "storage-blob-service",
        account_name=account.name,
        resource_group_name=rg.name,
        blob_services_name="default",
        delete_retention_policy=retention,
        container_delete_retention_policy=retention,
        opts=pulumi.ResourceOptions(parent=account),
    )
    return account
