"""AmlCompute clusters scale to zero nodes when idle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, guardrails, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None:
        return None
    required = guardrails()["compute"]["min_nodes"]
    found = prop(inner, "scaleSettings.minNodeCount")
    if found is None or int(found) != required:
        return f"scaleSettings.minNodeCount is {found!r}; must be {required}"
    return None


POLICY = policy(
    name="compute-min-nodes",
    description="AmlCompute clusters must have a minimum of 0 nodes.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_150",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Set scale_settings.min_node_count=0.",
)
