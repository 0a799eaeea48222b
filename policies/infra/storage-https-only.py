"""Storage accounts accept HTTPS only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import STORAGE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "enableHttpsTrafficOnly")
    if value is not True:
        return f"enableHttpsTrafficOnly is {value!r}; must be True"
    return None


POLICY = policy(
    name="storage-https-only",
    description="Storage accounts must accept HTTPS traffic only.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_3",
    resource="storage account",
    types=(STORAGE,),
    check=check,
    remediation="Set enable_https_traffic_only=True.",
)
