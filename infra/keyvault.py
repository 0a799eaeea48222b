"""The workspace's Key Vault: RBAC authorisation, soft delete, purge protection per stack.

The firewall denies by default in every stack: compute reaches the vault over the managed network's
private endpoint, the workspace as a trusted Azure service. Public access follows the stack's network
mode: ``public`` keeps the public endpoint for ``network.allowed_ip_ranges``; ``private`` turns it off
(people and the CI runner use the VNet's private endpoint).
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
            public_network_access=cfg.public_network_access,
            network_acls=keyvault.NetworkRuleSetArgs(
                default_action="Deny",
                bypass="AzureServices",
                ip_rules=[]
                if cfg.network.private
                else [keyvault.IPRuleArgs(value=r.cidr) for r in cfg.network.allowed_ip_ranges],
            ),
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
