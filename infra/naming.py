"""Deterministic Azure resource names that respect each resource type's length and charset rules.

Globally unique names (storage account, Key Vault, container registry, online endpoint) carry a
stable suffix: six base-36 characters of a SHA-256 over a seed (the program passes
``<subscription id>/<resource group>``, the same idea as Bicep's ``uniqueString``), so the same
stack in the same subscription always gets the same names and another subscription gets others.
The suffix has a fixed length, so whether a prefix fits every rule does not depend on the seed.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, fields

SUFFIX_LENGTH = 6
_BASE36 = string.digits + string.ascii_lowercase

# Short environment codes keep the tightest names (storage account, Key Vault: 24) within limits.
ENV_CODES: dict[str, str] = {"dev": "dev", "staging": "stg", "prod": "prd"}


@dataclass(frozen=True)
class NameRule:
    """Length and character rules of one Azure resource type's name."""

    resource: str
    min_len: int
    max_len: int
    pattern: str
    charset: str

    def violation(self, name: str) -> str | None:
        """Why ``name`` breaks this rule, or None when it is valid."""
        if not self.min_len <= len(name) <= self.max_len:
            return (
                f"{self.resource} name {name!r} is {len(name)} characters; "
                f"allowed {self.min_len}..{self.max_len}"
            )
        if not re.fullmatch(self.pattern, name):
            return f"{self.resource} name {name!r} breaks its character rule: {self.charset}"
        return None


RULES: dict[str, NameRule] = {
    "resource_group": NameRule(
        "resource group", 1, 90, r"[-\w.()]*[-\w()]", "letters, digits, - _ . ( ), not ending in '.'"
    ),
    "storage_account": NameRule("storage account", 3, 24, r"[a-z0-9]+", "lowercase letters and digits only"),
    "key_vault": NameRule(
        "Key Vault",
        3,
        24,
        r"[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and single hyphens; starts with a letter, ends with a letter or digit",
    ),
    "container_registry": NameRule("container registry", 5, 50, r"[a-zA-Z0-9]+", "letters and digits only"),
    "log_analytics": NameRule(
        "Log Analytics workspace",
        4,
        63,
        r"[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and hyphens; starts and ends with a letter or digit",
    ),
    "app_insights": NameRule(
        "Application Insights", 1, 255, r"[^%&\\?/<>*#|:+]+", "no % & \\ ? / < > * # | : +"
    ),
    "workspace": NameRule(
        "Azure ML workspace",
        3,
        33,
        r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
        "letters, digits, - and _; starts with a letter or digit",
    ),
    "compute": NameRule(
        "Azure ML compute",
        2,
        16,
        r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and hyphens; starts with a letter, does not end with a hyphen",
    ),
    "endpoint": NameRule(
        "online endpoint",
        3,
        32,
        r"[a-zA-Z][a-zA-Z0-9-]*[a-zA-Z0-9]",
        "letters, digits and hyphens; starts with a letter, ends with a letter or digit",
    ),
    "action_group": NameRule("action group", 1, 260, r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", "letters, digits, - _ ."),
    "action_group_short": NameRule("action group short name", 1, 12, r"[a-zA-Z0-9-]+", "letters, digits, -"),
    "alert_rule": NameRule("alert rule", 1, 260, r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", "letters, digits, - _ ."),
    "budget": NameRule("budget", 1, 63, r"[a-zA-Z0-9][a-zA-Z0-9_-]*", "letters, digits, - and _"),
    "diagnostic_setting": NameRule(
        "diagnostic setting", 1, 260, r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", "letters, digits, - _ ."
    ),
}


class NameRuleError(ValueError):
    """A derived or configured name that Azure would reject."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        super().__init__(reason)


def check(kind: str, name: str) -> str:
    """Return ``name`` if it satisfies the rule for ``kind``; raise NameRuleError otherwise."""
    reason = RULES[kind].violation(name)
    if reason:
        raise NameRuleError(kind, name, reason)
    return name


def unique_suffix(seed: str, length: int = SUFFIX_LENGTH) -> str:
    """A stable lowercase base-36 suffix derived from ``seed``."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 36)
        chars.append(_BASE36[digit])
    return "".join(chars)


@dataclass(frozen=True)
class Names:
    """Every name one stack uses (kinds in RULES; field name -> kind in ``KINDS``)."""

    resource_group: str
    storage_account: str
    key_vault: str
    container_registry: str
    log_analytics: str
    app_insights: str
    workspace: str
    endpoint: str
    action_group: str
    action_group_short: str
    latency_alert: str
    error_rate_alert: str
    budget: str
    endpoint_diagnostics: str


KINDS: dict[str, str] = {
    "latency_alert": "alert_rule",
    "error_rate_alert": "alert_rule",
    "endpoint_diagnostics": "diagnostic_setting",
}


def resource_group_name(prefix: str, environment: str) -> str:
    """The resource group name: needs no suffix (unique within a subscription)."""
    return check("resource_group", f"rg-{prefix}-{environment}")


def derive(prefix: str, environment: str, seed: str, endpoint: str | None = None) -> Names:
    """All names for ``prefix``/``environment``; raises NameRuleError for the first one Azure would reject.

    ``endpoint`` overrides the derived online-endpoint name (endpoint names are unique per region).
    """
    env = ENV_CODES[environment]
    sfx = unique_suffix(seed)
    names = Names(
        resource_group=f"rg-{prefix}-{environment}",
        storage_account=f"st{prefix}{env}{sfx}",
        key_vault=f"kv-{prefix}-{env}-{sfx}",
        container_registry=f"cr{prefix}{env}{sfx}",
        log_analytics=f"log-{prefix}-{environment}",
        app_insights=f"appi-{prefix}-{environment}",
        workspace=f"mlw-{prefix}-{environment}",
        endpoint=endpoint or f"{prefix}-{env}-{sfx}",
        action_group=f"ag-{prefix}-{environment}",
        action_group_short=f"{prefix[:8]}-{env}"[:12],
        latency_alert=f"alert-{prefix}-{environment}-endpoint-p99-latency",
        error_rate_alert=f"alert-{prefix}-{environment}-endpoint-error-rate",
        budget=f"budget-{prefix}-{environment}",
        endpoint_diagnostics=f"diag-{prefix}-{environment}-endpoint",
    )
    for field in fields(names):
        check(KINDS.get(field.name, field.name), getattr(names, field.name))
    return names
