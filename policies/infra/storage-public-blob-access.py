"""Storage accounts forbid anonymous public read access to blobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctloop_policy import STORAGE, policy, prop
from pulumi_policy import Severity


def check(props: Mapping[str, Any]) -> str | None:
    value = prop(props, "allowBlobPublicAccess")
    if value is not False:
        return f"allowBlobPublicAccess is {value!r}; must be False"
    return None


POLICY = policy(
    name="storage-public-blob-access",
    description="Storage accounts must not allow anonymous public access to blobs.",
    severity=Severity.HIGH,
    checkov="CKV_AZURE_190",
    resource="storage account",
    types=(STORAGE,),
    check=check,
    remediation="Set allow_blob_public_access=False.",
)
