"""Container registries serve image layers from dedicated data endpoints (one firewall rule per region)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import REGISTRY, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "dataEndpointEnabled")
    if value is not True:
        return f"dataEndpointEnabled is {value!r}; must be True"
    return None


POLICY = policy(
    name="registry-data-endpoint",
    description="Container registries must use dedicated data endpoints.",
    severity=Severity.LOW,
    checkov="CKV_AZURE_237",
    resource="container registry",
    types=(REGISTRY,),
    check=check,
    remediation="Set data_endpoint_enabled=True (Premium SKU).",
)
