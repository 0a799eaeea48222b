"""Every rule has a failing fixture: the base repository passes, each overlay fails exactly its rule."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ctloop.gitops import commands
from ctloop.gitops.rules import load_rules, module_name_for
from ctloop.gitops.validate import validate

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "specs"
RULES = REPO / "policies" / "specs"

#: Fixture folder -> the one rule id it must trigger. Rules from policies/specs, the engine's
#: checks that the spec rules rely on, and the runner's own (YAML syntax, loader, folder kind).
EXPECTED = {
    "component_semver_version": "component.semver-version",
    "component_port_description": "component.port-description",
    "component_environment_pinned": "component.environment-pinned",
    "component_environment_declared": "component.environment-declared",
    "component_version_locked": "component.version-locked",
    "component_code_exists": "component.code-exists",
    "component_command_uses_declared_ports": "component.command-uses-declared-ports",
    "environment_dependencies_pinned": "environment.dependencies-pinned",
    "environment_base_image_pinned": "environment.base-image-pinned",
    "environment_version_locked": "environment.version-locked",
    "environment_schema": "environment.schema",
    "pipeline_job_timeout": "pipeline.job-timeout",
    "pipeline_compute_in_stack": "pipeline.compute-in-stack",
    "pipeline_gpu_where_needed": "pipeline.gpu-where-needed",
    "pipeline_release_gated": "pipeline.release-gated",
    "pipeline_binding_exists": "pipeline.binding-exists",
    "pipeline_no_cycle": "pipeline.no-cycle",
    "schedule_valid_cron": "schedule.valid-cron",
    "schedule_time_zone": "schedule.time-zone",
    "policy_schema_valid": "policy.schema-valid",
    "secrets_no_literal": "secrets.no-literal",
    "spec_names_in_stack": "spec.names-in-stack",
    "yaml_syntax": "yaml.syntax",
    "spec_kind": "spec.kind",
}


def test_base_fixture_is_clean(spec_repo: Path) -> None:
    problems, checked = validate([], root=spec_repo, rules_dir=RULES)
    assert checked >= 9
    assert problems == []


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_fixture_fails_exactly_its_rule(make_repo, fixture: str) -> None:
    root = make_repo(fixture)
    problems, _ = validate([], root=root, rules_dir=RULES)
    assert {p.rule_id for p in problems} == {EXPECTED[fixture]}, [p.format() for p in problems]
    assert all(p.file and p.reason and p.field for p in problems)
    assert all(p.line for p in problems), "every fixture violation has a line number"


def test_every_rule_file_has_a_fixture_and_follows_the_contract() -> None:
    rules = load_rules(RULES)
    assert len(rules) >= 15
    for rule in rules:
        assert module_name_for(rule.rule_id) == rule.path.stem
        assert rule.doc
        assert (FIXTURES / rule.path.stem).is_dir(), f"no failing fixture for {rule.rule_id}"
        assert EXPECTED[rule.path.stem] == rule.rule_id
    on_disk = {p.name for p in FIXTURES.iterdir() if p.is_dir()} - {"base"}
    assert on_disk == set(EXPECTED)


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_validate_exit_codes_and_output(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    clean = make_repo(name="clean")
    assert _run(["validate", "--root", str(clean)]) == 0
    bad = make_repo("schedule_valid_cron", name="bad")
    assert _run(["validate", "--root", str(bad), str(bad / "pipelines" / "schedules")]) == 2
    out = capsys.readouterr()
    assert "pipelines/schedules/daily.yml:5: schedule.valid-cron: trigger.expression:" in out.out
    assert "1 problem(s) in 1 file(s)" in out.err


def test_cli_validate_json_and_stack_option(make_repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_repo(name="json")
    # The fixture has no Pulumi.prod.yaml: checking against stack prod must say so.
    assert _run(["validate", "--root", str(root), "--stack", "prod", "--format", "json"]) == 2
    out = capsys.readouterr().out
    assert '"rule_id": "pipeline.compute-in-stack"' in out
    assert "no Pulumi.prod.yaml" in out


def test_list_rules_names_every_rule_and_fixture_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["validate", "--list-rules", "--root", str(REPO)]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert set(EXPECTED.values()) <= listed
