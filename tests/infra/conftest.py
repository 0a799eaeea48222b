"""Fixtures for the infra tests: the real Pulumi program run once per stack under mocks, and the pack."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "policies" / "infra"
for _path in (str(ROOT), str(PACK_DIR), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from ctloop_policy import COMPUTE, KEY_VAULT, REGISTRY, STORAGE, WORKSPACE, catalog  # noqa: E402
from infra_mocks import StackRun, run_stack  # noqa: E402

STACKS = ("dev", "staging", "prod")
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep every infra test on one xdist worker so each stack's program runs once per session."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("infra"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def stack_run() -> Callable[[str], StackRun]:
    """``stack_run("dev")``: the program's recorded resources and outputs, computed once per stack."""
    cache: dict[str, StackRun] = {}

    def get(stack: str) -> StackRun:
        if stack not in cache:
            cache[stack] = run_stack(stack, ROOT)
        return cache[stack]

    return get


@pytest.fixture(scope="session")
def rules() -> list[Any]:
    """Every policy of the pack, loaded from its file."""
    return catalog.load_policies()


# A resource of each checked type that passes every policy; tests break one property at a time.
_TAGS = {"env": "prod", "owner": "ml-platform", "cost-center": "cc-1"}
_COMPLIANT: dict[str, dict[str, Any]] = {
    STORAGE: {
        "accountName": "stctloopprdabc123",
        "location": "westeurope",
        "kind": "StorageV2",
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
        "enableHttpsTrafficOnly": True,
        "allowSharedKeyAccess": False,
        "publicNetworkAccess": "Disabled",
        "tags": _TAGS,
    },
    KEY_VAULT: {
        "vaultName": "kv-ctloop-prd-abc123",
        "location": "westeurope",
        "properties": {
            "enableSoftDelete": True,
            "enablePurgeProtection": True,
            "enableRbacAuthorization": True,
            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
        },
        "tags": _TAGS,
    },
    REGISTRY: {
        "registryName": "crctloopprdabc123",
        "location": "westeurope",
        "adminUserEnabled": False,
        "publicNetworkAccess": "Disabled",
        "dataEndpointEnabled": True,
        "policies": {"retentionPolicy": {"days": 30, "status": "enabled"}},
        "tags": _TAGS,
    },
    WORKSPACE: {
        "workspaceName": "mlw-ctloop-prod",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "publicNetworkAccess": "Disabled",
        "hbiWorkspace": True,
        "tags": _TAGS,
    },
    COMPUTE: {
        "computeName": "gpu-cluster",
        "location": "westeurope",
        "identity": {"type": "SystemAssigned"},
        "properties": {
            "computeType": "AmlCompute",
            "disableLocalAuth": True,
            "properties": {
                "vmSize": "Standard_NC4as_T4_v3",
                "vmPriority": "Dedicated",
                "remoteLoginPortPublicAccess": "Disabled",
                "enableNodePublicIp": False,
                "scaleSettings": {
                    "minNodeCount": 0,
                    "maxNodeCount": 8,
                    "nodeIdleTimeBeforeScaleDown": "PT600S",
                },
            },
        },
        "tags": _TAGS,
    },
}


@pytest.fixture()
def compliant() -> Callable[[str], dict[str, Any]]:
    """``compliant(type)``: a fresh copy of properties that pass every policy."""
    return lambda typ: copy.deepcopy(_COMPLIANT[typ])


@pytest.fixture()
def fired(rules: list[Any]) -> Callable[[str, Mapping[str, Any]], set[str]]:
    """``fired(type, props)``: the names of the policies that report a violation for this resource."""
    levels = catalog.enforcement("prod", [r.name for r in rules])

    def run(typ: str, props: Mapping[str, Any]) -> set[str]:
        return {v.policy for v in catalog.evaluate([(typ, "resource", props)], rules, levels)}

    return run


@pytest.fixture()
def rule(rules: list[Any]) -> Callable[[str], Any]:
    """``rule(name)``: one loaded policy."""
    by_name = {r.name: r for r in rules}
    return lambda name: by_name[name]
