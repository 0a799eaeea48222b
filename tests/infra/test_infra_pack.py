"""The CrossGuard pack: its catalog, its per-environment enforcement, its entry point, and every resource
the real program creates fed through it (dev, staging and prod pass every mandatory policy)."""

from __future__ import annotations

import re
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pulumi_policy
import pytest
from ctloop_policy import PolicyError, catalog, info
from pulumi_policy import EnforcementLevel

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policies" / "infra"

# What each environment deliberately accepts (advisory) in the real stacks: nothing, anywhere.
EXPECTED_ADVISORY_FINDINGS: dict[str, set[str]] = {"dev": set(), "staging": set(), "prod": set()}


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
    assert len(rules) == 15
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


def test_no_policy_mirrors_a_check_that_checkov_runs_on_the_arm_rendering(rules):
    """Rules Checkov's ARM framework checks are left to Checkov (make checkov); the pack keeps the rest."""
    checks = Path(ROOT / ".venv-checkov").glob("lib/python*/site-packages/checkov/arm/checks/**/*.*")
    arm_ids = {m for p in checks for m in re.findall(r"CKV2?_AZURE_\d+", p.read_text(errors="ignore"))}
    if not arm_ids:
        pytest.skip("Checkov is not installed (make checkov-setup)")
    assert {info(r).checkov for r in rules} & arm_ids == set()


def test_the_pack_stands_alone():
    """The pack imports nothing from the project: only its own folder on the path, in a fresh process."""
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; from ctloop_policy import catalog;"
        "assert len(catalog.load_policies()) == 15;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('ctloop', 'infra'));"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code, str(PACK)], capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    pins = [
        line.split("==")[0] for line in (PACK / "requirements.txt").read_text().splitlines() if "==" in line
    ]
    assert "pulumi-policy" in pins and "ctloop" not in pins


def test_prod_is_strictest_and_every_advisory_name_is_a_real_policy(rules):
    names = [r.name for r in rules]
    advisory = {
        env: {n for n, lvl in catalog.enforcement(env, names).items() if lvl.value == "advisory"}
        for env in catalog.ENVIRONMENTS
    }
    assert advisory["prod"] == set()
    assert advisory["staging"] <= advisory["dev"]
    with pytest.raises(PolicyError, match="unknown environment 'qa'"):
        catalog.enforcement("qa", names)


def test_configured_sets_each_policy_level_for_the_environment():
    levels = {r.name: r.enforcement_level for r in catalog.configured("staging")}
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


def test_an_advisory_entry_naming_no_policy_is_rejected(rules, monkeypatch):
    from ctloop_policy import core

    bad = {**core.guardrails(), "enforcement": {"dev": {"advisory": ["no-such-policy"]}}}
    monkeypatch.setattr(catalog, "guardrails", lambda: bad)
    with pytest.raises(PolicyError, match=r"enforcement\.dev\.advisory: unknown policy 'no-such-policy'"):
        catalog.enforcement("dev", [r.name for r in rules])


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
        assert len(catalog.load_policies()) == 15


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
    assert len(levels) == 15
    assert levels["compute-gpu-max-nodes"] == EnforcementLevel.MANDATORY


def test_pulumi_policy_yaml_uses_the_packs_own_venv():
    text = (PACK / "PulumiPolicy.yaml").read_text()
    assert "name: python" in text
    assert "virtualenv: venv" in text and "../" not in text


def test_docs_table_lists_every_policy_as_the_pack_defines_it(rules):
    doc = (ROOT / "docs" / "infra.md").read_text()
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
