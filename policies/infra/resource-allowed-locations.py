"""Azure resources are deployed only to the regions the guardrails allow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import guardrails, policy, prop
from pulumi_policy import Severity

GLOBAL = "global"


def check(props: Mapping[str, Any]) -> str | None:
    location = prop(props, "location")
    if location is None:
        return None
    region = str(location).replace(" ", "").lower()
    allowed = guardrails()["allowed_locations"]
    if region != GLOBAL and region not in allowed:
        return f"location {location!r} is not allowed; allowed: {allowed}"
    return None


POLICY = policy(
    name="resource-allowed-locations",
    description="Azure resources must be deployed to an allowed region.",
    severity=Severity.HIGH,
    checkov="none",
    resource="any resource with a location",
    check=check,
    remediation="Use a region from guardrails.yml allowed_locations.",
)
