"""Azure ML compute disables local (key-based) authentication."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "properties.disableLocalAuth")
    if value is not True:
        return f"properties.disableLocalAuth is {value!r}; must be True"
    return None


POLICY = policy(
    name="compute-local-auth",
    description="Azure ML compute must disable local authentication.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_142",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Set disable_local_auth=True.",
)
