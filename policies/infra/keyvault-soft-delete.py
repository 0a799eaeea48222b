"""Key Vaults keep deleted objects recoverable (soft delete)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import KEY_VAULT, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "properties.enableSoftDelete")
    if value is not True:
        return f"properties.enableSoftDelete is {value!r}; must be True"
    return None


POLICY = policy(
    name="keyvault-soft-delete",
    description="Key Vaults must enable soft delete.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_111",
    resource="Key Vault",
    types=(KEY_VAULT,),
    check=check,
    remediation="Set enable_soft_delete=True.",
)
