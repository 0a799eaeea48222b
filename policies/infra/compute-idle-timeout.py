"""AmlCompute clusters release idle nodes within the guardrails' idle-time bounds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, guardrails, iso_seconds, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None:
        return None
    bounds = guardrails()["compute"]["idle_seconds"]
    raw = prop(inner, "scaleSettings.nodeIdleTimeBeforeScaleDown")
    seconds = iso_seconds(raw) if isinstance(raw, str) else None
    if seconds is None:
        return f"scaleSettings.nodeIdleTimeBeforeScaleDown is {raw!r}; must be an ISO 8601 duration"
    if not bounds["min"] <= seconds <= bounds["max"]:
        return (
            f"scaleSettings.nodeIdleTimeBeforeScaleDown is {raw} ({seconds} s); "
            f"allowed {bounds['min']}..{bounds['max']} s"
        )
    return None


POLICY = policy(
    name="compute-idle-timeout",
    description="AmlCompute clusters must scale idle nodes down within the allowed idle time.",
    severity=Severity.MEDIUM,
    checkov="none",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Set node_idle_time_before_scale_down within guardrails.yml compute.idle_seconds.",
)
