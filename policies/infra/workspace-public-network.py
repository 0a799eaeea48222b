"""Azure ML workspaces are not reachable from public networks."""

from __future__ import annotations

from ctloop_policy import WORKSPACE, policy, public_network_disabled
from pulumi_policy import Severity

POLICY = policy(
    name="workspace-public-network",
    description="Azure ML workspaces must disable public network access.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_144",
    resource="ML workspace",
    types=(WORKSPACE,),
    check=public_network_disabled,
    remediation="Set public_network_access=Disabled and reach the workspace over a private endpoint.",
)
