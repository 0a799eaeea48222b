"""Azure ML workspaces have a managed identity (they reach storage, registry and vault with it, not keys)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import WORKSPACE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    kind = str(prop(props, "identity.type") or "")
    if "SystemAssigned" not in kind and "UserAssigned" not in kind:
        return (
            f"identity.type is {kind or None!r}; must be a managed identity (SystemAssigned or UserAssigned)"
        )
    return None


POLICY = policy(
    name="workspace-managed-identity",
    description="Azure ML workspaces must have a managed identity.",
    severity=Severity.HIGH,
    checkov="none",
    resource="ML workspace",
    types=(WORKSPACE,),
    check=check,
    remediation="Set identity={'type': 'SystemAssigned'}.",
)
