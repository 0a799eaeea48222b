"""Container registries have the admin user disabled."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import REGISTRY, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "adminUserEnabled")
    if value is not False:
        return f"adminUserEnabled is {value!r}; must be False"
    return None


POLICY = policy(
    name="registry-admin-user",
    description="Container registries must disable the admin user.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_137",
    resource="container registry",
    types=(REGISTRY,),
    check=check,
    remediation="Set admin_user_enabled=False and pull with managed identities (AcrPull).",
)
