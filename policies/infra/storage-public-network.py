"""Storage accounts are not reachable from public networks."""

from __future__ import annotations

from ctloop_policy import STORAGE, policy, public_network_disabled
from pulumi_policy import Severity

POLICY = policy(
    name="storage-public-network",
    description="Storage accounts must disable public network access.",
    severity=Severity.MEDIUM,
    checkov="CKV_AZURE_59",
    resource="storage account",
    types=(STORAGE,),
    check=public_network_disabled,
    remediation="Set public_network_access=Disabled and reach the account over private endpoints.",
)
