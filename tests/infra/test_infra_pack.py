"""The CrossGuard pack: its catalog, its per-environment enforcement, its entry point, and every resource
the real program creates fed through it (dev, staging and prod pass every mandatory policy)."""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from unittest import mock

import pulumi_policy
import pytest
from ctloop_policy import catalog, info
from pulumi_policy import EnforcementLevel

from ctloop.policies import PolicyError

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "infra"

# What each environment deliberately accepts (advisory) in the real stacks; prod accepts nothing.
EXPECTED_ADVISORY_FINDINGS = {
    "dev": {
        "storage-public-network",
        "keyvault-network-rules",
        "keyvault-purge-protection",
        "registry-public-network",
        "workspace-public-network",
        "workspace-high-business-impact",
        "compute-public-ip",
    },
    "staging": {
        "storage-public-network",
        "keyvault-purge-protection",
        "registry-public-network",
        "workspace-public-network",
        "workspace-high-business-impact",
    },
    "prod": set(),
}


def resources_of(run):
    return [(r.type, r.name, r.inputs) for r in run.resources]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_created_resource_passes_every_mandatory_policy(stack, stack_run, rules):
    levels = catalog.enforcement(stack, [r.name for r in rules])
    found = catalog.evaluate(resources_of(stack_run(stack)), rules, levels)
    mandatory = [v for v in found if v.enforcement == "mandatory"]
    assert mandatory == []
    assert {v.policy for v in found} == EXPECTED_ADVISORY_FINDINGS[stack]


def test_prod_resources_pass_every_policy_at_all(stack_run, rules):
    levels = catalog.enforcement("prod", [r.name for r in rules])
    assert catalog.evaluate(resources_of(stack_run("prod")), rules, levels) == []
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


def test_dev_resources_would_be_blocked_under_prod_enforcement(stack_run, rules):
    levels = catalog.enforcement("prod", [r.name for r in rules])
    found = catalog.evaluate(resources_of(stack_run("dev")), rules, levels)
    assert {v.policy for v in found if v.enforcement == "mandatory"} == EXPECTED_ADVISORY_FINDINGS["dev"]


def test_each_policy_file_holds_one_policy_named_after_it(rules):
    files = catalog.policy_files()
    assert [p.stem for p in files] == [r.name for r in rules]
    assert len(rules) == 23
    for path in files:
        assert re.fullmatch(r"(storage|keyvault|registry|workspace|compute|resource)-[a-z0-9-]+", path.stem)


def test_every_policy_states_severity_and_checkov_id(rules):
    for r in rules:
        meta = info(r)
        assert meta.severity in {"low", "medium", "high", "critical"}, r.name
        assert re.fullmatch(r"CKV2?_AZURE_\d+|none", meta.checkov), r.name
        assert meta.checkov in r.description or "no Checkov equivalent" in r.description
        if meta.checkov != "none":
            assert r.framework.reference == meta.checkov


def test_every_policy_has_its_mirrored_test_file(rules):
    tests = {p.stem for p in (Path(__file__).parent / "policies").glob("test_*.py")}
    assert {f"test_{r.name.replace('-', '_')}" for r in rules} <= tests


def test_prod_is_strictest_and_every_advisory_name_is_a_real_policy(rules):
    names = [r.name for r in rules]
    advisory = {
        env: {n for n, lvl in catalog.enforcement(env, names).items() if lvl.value == "advisory"}
        for env in catalog.ENVIRONMENTS
    }
    assert advisory["prod"] == set()
    assert advisory["staging"] <= advisory["dev"]
    with pytest.raises(PolicyError, match=r"enforcement\.dev\.advisory: unknown policy 'compute-public-ip'"):
        catalog.enforcement("dev", [n for n in names if n != "compute-public-ip"])
    with pytest.raises(PolicyError, match="unknown environment 'qa'"):
        catalog.enforcement("qa", names)


def test_configured_sets_each_policy_level_for_the_environment():
    levels = {r.name: r.enforcement_level for r in catalog.configured("staging")}
    assert levels["workspace-public-network"] == EnforcementLevel.ADVISORY
    assert levels["keyvault-network-rules"] == EnforcementLevel.MANDATORY
    assert levels["storage-tls-version"] == EnforcementLevel.MANDATORY


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"CTLOOP_POLICY_ENV": "dev", "CTLOOP_STACK": "prod"}, "dev"),
        ({"CTLOOP_STACK": "staging"}, "staging"),
        ({"PULUMI_STACK": "my-org/ctloop/dev"}, "dev"),
        ({"CTLOOP_STACK": "no-such-stack"}, "prod"),
        ({}, "prod"),
    ],
)
def test_the_pack_picks_its_environment_and_falls_back_to_the_strictest(environ, expected):
    environment, reason = catalog.environment_from(environ, ROOT)
    assert environment == expected
    assert reason


def test_importing_policies_never_builds_the_pack():
    with mock.patch.object(pulumi_policy, "PolicyPack", side_effect=AssertionError("PolicyPack built")):
        assert len(catalog.load_policies()) == 23


def test_the_pack_entry_point_builds_one_pack_with_levels_for_the_stack(monkeypatch):
    built = []
    monkeypatch.setenv("CTLOOP_STACK", "dev")
    monkeypatch.delenv("CTLOOP_POLICY_ENV", raising=False)
    with mock.patch.object(pulumi_policy, "PolicyPack", side_effect=lambda **kw: built.append(kw)):
        runpy.run_path(str(PACK / "__main__.py"), run_name="__main__")
    assert len(built) == 1
    pack = built[0]
    assert pack["name"] == "ctloop-infra"
    assert pack["enforcement_level"] == EnforcementLevel.MANDATORY
    levels = {p.name: p.enforcement_level for p in pack["policies"]}
    assert levels["compute-public-ip"] == EnforcementLevel.ADVISORY
    assert levels["compute-gpu-max-nodes"] == EnforcementLevel.MANDATORY


def test_pulumi_policy_yaml_points_at_the_project_venv():
    text = (PACK / "PulumiPolicy.yaml").read_text()
    assert "name: python" in text
    assert (PACK / "../../.venv").resolve() == (ROOT / ".venv").resolve()
    assert "virtualenv: ../../.venv" in text


def test_docs_table_lists_every_policy_as_the_pack_defines_it(rules):
    doc = (ROOT / "README.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in {r.name for r in rules}:
            rows[cells[0]] = cells
    assert set(rows) == {r.name for r in rules}
    names = [r.name for r in rules]
    advisory = {env: catalog.enforcement(env, names) for env in catalog.ENVIRONMENTS}
    for r in rules:
        meta = info(r)
        _name, _resource, _rule, checkov, severity, where = rows[r.name]
        assert (checkov, severity) == (meta.checkov, meta.severity), r.name
        mandatory_in = [e for e in catalog.ENVIRONMENTS if advisory[e][r.name] == EnforcementLevel.MANDATORY]
        assert where == ", ".join(mandatory_in), r.name
