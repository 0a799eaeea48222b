"""Container registries purge untagged manifests after a retention period (Premium registries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import REGISTRY, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    status = prop(props, "policies.retentionPolicy.status")
    if status != "enabled":
        return f"policies.retentionPolicy.status is {status!r}; must be 'enabled'"
    return None


POLICY = policy(
    name="registry-retention",
    description="Container registries must purge untagged manifests after a retention period.",
    severity=Severity.LOW,
    checkov="CKV_AZURE_167",
    resource="container registry",
    types=(REGISTRY,),
    check=check,
    remediation="Set policies.retention_policy (status enabled, days from ctloop:registry_retention_days).",
)
