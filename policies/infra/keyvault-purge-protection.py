"""Key Vaults have purge protection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import KEY_VAULT, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "properties.enablePurgeProtection")
    if value is not True:
        return f"properties.enablePurgeProtection is {value!r}; must be True"
    return None


POLICY = policy(
    name="keyvault-purge-protection",
    description="Key Vaults must enable purge protection.",
    severity=Severity.MEDIUM,
    checkov="CKV_AZURE_110",
    resource="Key Vault",
    types=(KEY_VAULT,),
    check=check,
    remediation="Set enable_purge_protection=True (it cannot be turned off).",
)
