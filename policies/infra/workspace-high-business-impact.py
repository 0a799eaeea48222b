"""Azure ML workspaces are flagged high business impact (less diagnostic data, encrypted scratch disks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import WORKSPACE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "hbiWorkspace")
    if value is not True:
        return f"hbiWorkspace is {value!r}; must be True"
    return None


POLICY = policy(
    name="workspace-high-business-impact",
    description="Azure ML workspaces must be flagged high business impact.",
    severity=Severity.LOW,
    checkov="CKV2_AZURE_50",
    resource="ML workspace",
    types=(WORKSPACE,),
    check=check,
    remediation="Set hbi_workspace=True (only at creation: the workspace is replaced).",
)
