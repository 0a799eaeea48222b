"""Storage accounts require TLS 1.2 or newer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import STORAGE, policy, prop
from pulumi_policy import Severity

ACCEPTED = ("TLS1_2", "TLS1_3")


def check(props: Mapping[str, Any]) -> str | None:
    version = prop(props, "minimumTlsVersion")
    if version not in ACCEPTED:
        return f"minimumTlsVersion is {version!r}; must be one of {list(ACCEPTED)}"
    return None


POLICY = policy(
    name="storage-tls-version",
    description="Storage accounts must require TLS 1.2 or newer.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_44",
    resource="storage account",
    types=(STORAGE,),
    check=check,
    remediation="Set minimum_tls_version=TLS1_2.",
)
