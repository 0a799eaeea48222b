# ruff: noqa: E501  (the case table keeps one case per line)
"""Every CrossGuard policy, one table: a compliant resource passes; each mutation fires exactly the
policies it names (usually one), so a broken check or an over-eager one both fail here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ctloop_policy import COMPUTE, KEY_VAULT, REGISTRY, STORAGE, WORKSPACE, info

DELETE = object()
INNER = "properties.properties"
SCALE = f"{INNER}.scaleSettings"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(props: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = props
        for p in parents:
            target = target[p]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value

    return mutate


# (policy, severity, checkov reference) for every policy of the pack
METADATA = {
    "compute-gpu-max-nodes": ("high", "none"),
    "compute-idle-timeout": ("medium", "none"),
    "compute-local-auth": ("high", "CKV_AZURE_142"),
    "compute-min-nodes": ("high", "CKV_AZURE_150"),
    "compute-public-ip": ("medium", "none"),
    "compute-ssh": ("high", "none"),
    "compute-vm-size": ("high", "none"),
    "keyvault-rbac-authorization": ("high", "none"),
    "registry-data-endpoint": ("low", "CKV_AZURE_237"),
    "registry-retention": ("low", "CKV_AZURE_167"),
    "resource-allowed-locations": ("high", "none"),
    "resource-required-tags": ("medium", "none"),
    "storage-public-blob-access": ("high", "CKV_AZURE_190"),
    "storage-shared-key": ("medium", "CKV2_AZURE_40"),
    "workspace-managed-identity": ("high", "none"),
}

# (case id, resource type, mutation, policies expected to fire)
CASES = [
    ("gpu-max-nodes-12", COMPUTE, _set(f"{SCALE}.maxNodeCount", 12), {"compute-gpu-max-nodes"}),
    ("gpu-max-nodes-9", COMPUTE, _set(f"{SCALE}.maxNodeCount", 9), {"compute-gpu-max-nodes"}),
    ("gpu-max-nodes-8-ok", COMPUTE, _set(f"{SCALE}.maxNodeCount", 8.0), set()),
    ("cpu-12-nodes-is-no-gpu-rule", COMPUTE, lambda p: (_set(f"{INNER}.vmSize", "Standard_DS3_v2")(p),
                                                         _set(f"{SCALE}.maxNodeCount", 12)(p)), set()),
    ("idle-15m-ok", COMPUTE, _set(f"{SCALE}.nodeIdleTimeBeforeScaleDown", "PT15M"), set()),
    ("idle-2h", COMPUTE, _set(f"{SCALE}.nodeIdleTimeBeforeScaleDown", "PT2H"), {"compute-idle-timeout"}),
    ("idle-30s", COMPUTE, _set(f"{SCALE}.nodeIdleTimeBeforeScaleDown", "PT30S"), {"compute-idle-timeout"}),
    ("local-auth-on", COMPUTE, _set("properties.disableLocalAuth", False), {"compute-local-auth"}),
    ("local-auth-unset", COMPUTE, _set("properties.disableLocalAuth", DELETE), {"compute-local-auth"}),
    ("min-nodes-float-zero-ok", COMPUTE, _set(f"{SCALE}.minNodeCount", 0.0), set()),
    ("min-nodes-1", COMPUTE, _set(f"{SCALE}.minNodeCount", 1), {"compute-min-nodes"}),
    ("min-nodes-unset", COMPUTE, _set(f"{SCALE}.minNodeCount", DELETE), {"compute-min-nodes"}),
    ("node-public-ip", COMPUTE, _set(f"{INNER}.enableNodePublicIp", True), {"compute-public-ip"}),
    ("node-public-ip-unset", COMPUTE, _set(f"{INNER}.enableNodePublicIp", DELETE), {"compute-public-ip"}),
    ("ssh-enabled", COMPUTE, _set(f"{INNER}.remoteLoginPortPublicAccess", "Enabled"), {"compute-ssh"}),
    ("ssh-not-specified", COMPUTE, _set(f"{INNER}.remoteLoginPortPublicAccess", "NotSpecified"), {"compute-ssh"}),
    ("vm-size-other-allowed-ok", COMPUTE, _set(f"{INNER}.vmSize", "Standard_D4s_v3"), set()),
    ("vm-size-not-allowed", COMPUTE, _set(f"{INNER}.vmSize", "Standard_M416ms_v2"), {"compute-vm-size"}),
    ("vm-size-unset", COMPUTE, _set(f"{INNER}.vmSize", DELETE), {"compute-vm-size"}),
    ("vault-access-policies", KEY_VAULT, _set("properties.enableRbacAuthorization", False),
     {"keyvault-rbac-authorization"}),
    ("vault-rbac-unset", KEY_VAULT, _set("properties.enableRbacAuthorization", DELETE),
     {"keyvault-rbac-authorization"}),
    ("registry-retention-off", REGISTRY, _set("policies.retentionPolicy.status", "disabled"), {"registry-retention"}),
    ("registry-retention-unset", REGISTRY, _set("policies", DELETE), {"registry-retention"}),
    ("registry-shared-data-endpoint", REGISTRY, _set("dataEndpointEnabled", False), {"registry-data-endpoint"}),
    ("registry-data-endpoint-unset", REGISTRY, _set("dataEndpointEnabled", DELETE), {"registry-data-endpoint"}),
    ("location-display-name-ok", WORKSPACE, _set("location", "West Europe"), set()),
    ("location-not-allowed", WORKSPACE, _set("location", "brazilsouth"), {"resource-allowed-locations"}),
    ("location-display-not-allowed", WORKSPACE, _set("location", "Brazil South"), {"resource-allowed-locations"}),
    ("registry-location", REGISTRY, _set("location", "japaneast"), {"resource-allowed-locations"}),
    ("tags-missing", STORAGE, _set("tags", DELETE), {"resource-required-tags"}),
    ("tag-cost-center-missing", STORAGE, _set("tags", {"env": "prod", "owner": "ml-platform"}),
     {"resource-required-tags"}),
    ("tag-blank", STORAGE, _set("tags", {"env": "prod", "owner": " ", "cost-center": "cc-1"}),
     {"resource-required-tags"}),
    ("blob-public-access", STORAGE, _set("allowBlobPublicAccess", True), {"storage-public-blob-access"}),
    ("blob-public-access-unset", STORAGE, _set("allowBlobPublicAccess", DELETE), {"storage-public-blob-access"}),
    ("shared-key-on", STORAGE, _set("allowSharedKeyAccess", True), {"storage-shared-key"}),
    ("shared-key-unset", STORAGE, _set("allowSharedKeyAccess", DELETE), {"storage-shared-key"}),
    ("workspace-no-identity", WORKSPACE, _set("identity", DELETE), {"workspace-managed-identity"}),
    ("workspace-identity-none", WORKSPACE, _set("identity", {"type": "None"}), {"workspace-managed-identity"}),
]  # fmt: skip


def test_the_table_covers_every_policy_of_the_pack(rules):
    assert sorted(r.name for r in rules) == sorted(METADATA)
    fired_somewhere = set().union(*(expected for *_, expected in CASES))
    assert fired_somewhere == set(METADATA)


@pytest.mark.parametrize("name", sorted(METADATA))
def test_metadata(name, rule):
    meta = info(rule(name))
    assert (meta.severity, meta.checkov) == METADATA[name]


@pytest.mark.parametrize("typ", [COMPUTE, KEY_VAULT, REGISTRY, STORAGE, WORKSPACE])
def test_compliant_resource_passes(typ, compliant, fired):
    assert fired(typ, compliant(typ)) == set()


@pytest.mark.parametrize(("case", "typ", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_mutation_fires_exactly_the_named_policies(case, typ, mutate, expected, compliant, fired):
    props = compliant(typ)
    mutate(props)
    assert fired(typ, props) == expected, case
