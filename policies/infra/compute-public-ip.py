"""AmlCompute nodes get no public IP address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None:
        return None
    if prop(inner, "enableNodePublicIp") is not False:
        return f"enableNodePublicIp is {prop(inner, 'enableNodePublicIp')!r}; must be False"
    return None


POLICY = policy(
    name="compute-public-ip",
    description="AmlCompute nodes must not have public IP addresses.",
    severity=Severity.MEDIUM,
    checkov="none",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Give the workspace a managed virtual network and set enable_node_public_ip=False.",
)
