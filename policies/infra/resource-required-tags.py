"""Every tracked Azure resource (one with a location or tags) carries the required tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import guardrails, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    if "location" not in props and "tags" not in props:
        return None  # not a tracked resource (role assignment, budget, diagnostic setting)
    tags = prop(props, "tags") or {}
    missing = [t for t in guardrails()["required_tags"] if not str(tags.get(t) or "").strip()]
    if missing:
        return f"missing required tags {missing}"
    return None


POLICY = policy(
    name="resource-required-tags",
    description="Tracked Azure resources must carry the required tags.",
    severity=Severity.MEDIUM,
    checkov="none",
    resource="any tracked resource",
    check=check,
    remediation="Add the tags in guardrails.yml required_tags (the program sets them from the stack config).",
)
