"""Key Vaults authorise data access with Azure RBAC, not access policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import KEY_VAULT, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "properties.enableRbacAuthorization")
    if value is not True:
        return f"properties.enableRbacAuthorization is {value!r}; must be True"
    return None


POLICY = policy(
    name="keyvault-rbac-authorization",
    description="Key Vaults must use Azure RBAC authorisation.",
    severity=Severity.HIGH,
    checkov="none",
    resource="Key Vault",
    types=(KEY_VAULT,),
    check=check,
    remediation="Set enable_rbac_authorization=True; grant roles (Key Vault Secrets User).",
)
