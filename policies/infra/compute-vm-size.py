"""AmlCompute clusters use only the VM sizes the guardrails allow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, guardrails, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None:
        return None
    sizes = guardrails()["allowed_vm_sizes"]
    allowed = [*sizes["gpu"], *sizes["cpu"]]
    size = prop(inner, "vmSize")
    if size not in allowed:
        return f"vmSize {size!r} is not allowed; allowed: {allowed}"
    return None


POLICY = policy(
    name="compute-vm-size",
    description="AmlCompute clusters must use an allowed VM size.",
    severity=Severity.HIGH,
    checkov="none",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Pick a size from guardrails.yml allowed_vm_sizes (or add one there, reviewed).",
)
