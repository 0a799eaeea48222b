"""Storage accounts refuse Shared Key (account key and SAS) authorisation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import STORAGE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "allowSharedKeyAccess")
    if value is not False:
        return f"allowSharedKeyAccess is {value!r}; must be False (Microsoft Entra ID only)"
    return None


POLICY = policy(
    name="storage-shared-key",
    description="Storage accounts must not allow Shared Key authorisation.",
    severity=Severity.MEDIUM,
    checkov="CKV2_AZURE_40",
    resource="storage account",
    types=(STORAGE,),
    check=check,
    remediation="Set allow_shared_key_access=False; workspace system_datastores_auth_mode=Identity.",
)
