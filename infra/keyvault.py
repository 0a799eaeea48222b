"""The workspace's Key Vault: RBAC authorisation, soft delete, purge protection per stack.

With a managed virtual network the vault's firewall denies by default: compute reaches it over the
managed network's private endpoint and the workspace as a trusted Azure service. Without one (dev)
compute nodes reach it over the internet, so the firewall allows.
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import keyvault, resources

from .config import StackConfig
from .naming import Names


def create(
    cfg: StackConfig, names: Names, rg: resources.ResourceGroup, tenant_id: pulumi.Input[str]
) -> keyvault.Vault:
    return keyvault.Vault(
        "keyvault",
        vault_name=names.key_vault,
        resource_group_name=rg.name,
        location=cfg.location,
        properties=keyvault.VaultPropertiesArgs(
            tenant_id=tenant_id,
            sku=keyvault.SkuArgs(family=keyvault.SkuFamily.A, name=keyvault.SkuName.STANDARD),
            enable_rbac_authorization=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=cfg.key_vault.soft_delete_retention_days,
            # Azure rejects an explicit `false`: purge protection is either on or left unset.
            enable_purge_protection=True if cfg.key_vault.purge_protection else None,
            enabled_for_deployment=False,
            enabled_for_disk_encryption=False,
            enabled_for_template_deployment=False,
            public_network_access="Enabled",
            network_acls=keyvault.NetworkRuleSetArgs(
                default_action="Deny" if cfg.isolated else "Allow",
                bypass="AzureServices",
            ),
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
