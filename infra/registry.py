"""The workspace's container registry (Premium: the config requires it with a managed network).

No admin user, no anonymous pull, a firewall that denies by default (``public`` mode allows
``network.allowed_ip_ranges``; ``private`` mode has no public endpoint), zone redundancy, dedicated
data endpoints, and a retention policy that purges untagged manifests. Quarantine stays off: Azure ML
pulls the images it has just built, and quarantined images cannot be pulled until a scanner releases
them (``policies/infra/checkov-skips.yml``).
"""

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
        network_rule_set=containerregistry.NetworkRuleSetArgs(
            default_action=containerregistry.DefaultAction.DENY,
            ip_rules=[]
            if cfg.network.private
            else [
                containerregistry.IPRuleArgs(i_p_address_or_range=r.cidr, action="Allow")
                for r in cfg.network.allowed_ip_ranges
            ],
        ),
        zone_redundancy=containerregistry.ZoneRedundancy.ENABLED,
        data_endpoint_enabled=True,
        policies=containerregistry.PoliciesArgs(
            retention_policy=containerregistry.RetentionPolicyArgs(
                days=cfg.registry_retention_days, status=containerregistry.PolicyStatus.ENABLED
            ),
            quarantine_policy=containerregistry.QuarantinePolicyArgs(
                status=containerregistry.PolicyStatus.DISABLED
            ),
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg),
    )
