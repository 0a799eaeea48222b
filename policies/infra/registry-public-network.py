"""Container registries are not reachable from public networks."""

from __future__ import annotations

from ctloop_policy import REGISTRY, policy, public_network_disabled
from pulumi_policy import Severity

POLICY = policy(
    name="registry-public-network",
    description="Container registries must disable public network access.",
    severity=Severity.MEDIUM,
    checkov="CKV_AZURE_139",
    resource="container registry",
    types=(REGISTRY,),
    check=public_network_disabled,
    remediation="Use the Premium SKU with public_network_access=Disabled and private endpoints.",
)
