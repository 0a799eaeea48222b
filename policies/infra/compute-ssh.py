"""AmlCompute clusters keep the SSH (remote login) port closed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import COMPUTE, aml_compute, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    inner = aml_compute(props)
    if inner is None:
        return None
    state = prop(inner, "remoteLoginPortPublicAccess")
    if state != "Disabled":
        # "NotSpecified" leaves the port open on clusters outside a virtual network.
        return f"remoteLoginPortPublicAccess is {state!r}; must be 'Disabled'"
    return None


POLICY = policy(
    name="compute-ssh",
    description="AmlCompute clusters must disable the public SSH port.",
    severity=Severity.HIGH,
    checkov="none",
    resource="ML compute",
    types=(COMPUTE,),
    check=check,
    remediation="Set remote_login_port_public_access=Disabled.",
)
