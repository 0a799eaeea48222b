"""The real Checkov on an ARM rendering of what the Pulumi program registers for every stack.

Prod passes every applicable check or carries a reviewed skip; a skip that matches nothing fails; the
same prod resources without the reviewed skips fail exactly the skipped checks (the scan can fail).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from infra import arm, scan

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def scanned(stack_run):
    if not scan.DEFAULT_CHECKOV.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"no Checkov at {scan.DEFAULT_CHECKOV}: `make checkov-setup` must run before the tests"
            )
        pytest.skip(f"no Checkov at {scan.DEFAULT_CHECKOV}: run `make checkov-setup`")
    runs = {s: [(r.type, r.name, r.inputs) for r in stack_run(s).resources] for s in STACKS}
    # the same prod resources with no reviewed skip: a scan of its own (Checkov keys skips by resource
    # id), started beside the main one
    with ThreadPoolExecutor(max_workers=2) as pool:
        main = pool.submit(scan.scan, runs)
        unreviewed = pool.submit(scan.scan, {"prod": runs["prod"]}, skips=[])
        by_stack, stale = main.result()
        return {**by_stack, "prod-unreviewed": unreviewed.result()[0]["prod"]}, stale


def test_every_stack_passes_checkov_with_reviewed_skips_only(scanned):
    by_stack, stale = scanned
    assert stale == []
    for stack in STACKS:
        assert by_stack[stack].failed == [], by_stack[stack].line()
        assert by_stack[stack].passed, f"{stack}: Checkov ran no check"
    print("\n" + "\n".join(by_stack[s].line() for s in STACKS))


def test_prod_skips_are_few_and_each_is_reviewed(scanned):
    by_stack, _ = scanned
    prod = by_stack["prod"]
    assert len(prod.skipped) <= 2
    assert len(prod.passed) > len(by_stack["dev"].passed)  # private endpoints, zones and links add checks
    skips = scan.load_skips()
    for line in prod.skipped:
        check_id = line.split()[0]
        assert any(s.id == check_id and "prod" in s.stacks and s.reviewer for s in skips), line


def test_without_the_reviewed_skips_checkov_fails_exactly_those_checks(scanned):
    by_stack, _ = scanned
    unreviewed = by_stack["prod-unreviewed"]
    assert sorted(f.split()[0] for f in unreviewed.failed) == sorted(
        s.split()[0] for s in by_stack["prod"].skipped
    )


def test_a_skip_that_matches_no_resource_is_reported(stack_run):
    ghost = scan.Skip("CKV_AZURE_1", "Microsoft.Compute/virtualMachines", ("prod",), "x" * 30, "ml-platform")
    resources = [(r.type, r.name, r.inputs) for r in stack_run("prod").resources]
    _, used, _ = scan.template_for("prod", resources, [ghost])
    assert used == set()


def test_rendering_maps_types_names_api_versions_and_wire_names():
    storage = arm.render_resource(
        "azure-native:storage:StorageAccount",
        {
            "accountName": "stx",
            "resourceGroupName": "rg",
            "location": "westeurope",
            "sku": {"name": "Standard_GZRS"},
            "enableHttpsTrafficOnly": True,
            "networkRuleSet": {"defaultAction": "Deny", "ipRules": [{"iPAddressOrRange": "203.0.113.0/24"}]},
        },
        "storage",
    )
    assert storage["type"] == "Microsoft.Storage/storageAccounts" and storage["name"] == "stx"
    assert storage["apiVersion"][:4].isdigit()
    assert storage["sku"] == {"name": "Standard_GZRS"} and storage["location"] == "westeurope"
    assert storage["properties"] == {
        "supportsHttpsTrafficOnly": True,
        "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}]},
    }
    compute = arm.render_resource(
        "azure-native:machinelearningservices:Compute",
        {"computeName": "gpu", "workspaceName": "mlw", "resourceGroupName": "rg", "properties": {"a": 1}},
        "gpu",
    )
    assert (compute["type"], compute["name"]) == (
        "Microsoft.MachineLearningServices/workspaces/computes",
        "mlw/gpu",
    )
    assert compute["properties"] == {"a": 1}
    with pytest.raises(arm.UnknownType, match="azure-native:foo:Bar: no ARM type mapping"):
        arm.render_resource("azure-native:foo:Bar", {}, "x")


def test_every_type_the_program_registers_has_an_arm_mapping(stack_run):
    for stack in STACKS:
        for r in stack_run(stack).resources:
            assert r.type in arm.TYPES, r.type
            arm.api_version(r.type)
