"""Key Vault firewalls deny by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import KEY_VAULT, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "properties.networkAcls.defaultAction")
    if value != "Deny":
        return f"properties.networkAcls.defaultAction is {value!r}; must be 'Deny'"
    return None


POLICY = policy(
    name="keyvault-network-rules",
    description="Key Vault network rules must deny by default.",
    severity=Severity.MEDIUM,
    checkov="CKV_AZURE_109",
    resource="Key Vault",
    types=(KEY_VAULT,),
    check=check,
    remediation="Set network_acls default_action=Deny, bypass=AzureServices.",
)
