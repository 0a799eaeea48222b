"""GPU clusters stay within the guardrails' node ceiling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, guardrails, is_gpu_size, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None or not is_gpu_size(str(prop(inner, "vmSize") or "")):
        return None
    ceiling = guardrails()["compute"]["max_nodes"]["gpu"]
    found = prop(inner, "scaleSettings.maxNodeCount")
    if found is None or int(found) > ceiling:
        return f"scaleSettings.maxNodeCount is {found!r}; a GPU cluster may have at most {ceiling}"
    return None


POLICY = policy(
    name="compute-gpu-max-nodes",
    description="GPU clusters must not scale beyond the allowed number of nodes.",
    severity=Severity.HIGH,
    checkov="none",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Lower scale_settings.max_node_count to guardrails.yml compute.max_nodes.gpu or less.",
)
