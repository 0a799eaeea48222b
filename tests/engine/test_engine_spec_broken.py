"""Broken specs: each is refused with file, field and reason, exit code 2, no traceback, nothing run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctloop.engine.spec import SpecError, check_pipeline, load_pipeline

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "broken"

# (pipeline file, file named in the message, field, words of the reason, rule id)
CASES = [
    (
        "binding_job.yml",
        "binding_job.yml",
        "jobs.double.inputs.data",
        "names no job 'nosuch'",
        "pipeline.binding-exists",
    ),
    (
        "binding_port.yml",
        "binding_port.yml",
        "jobs.double.inputs.data",
        "has no output 'nosuch'",
        "pipeline.binding-exists",
    ),
    (
        "binding_parent.yml",
        "binding_parent.yml",
        "jobs.source.inputs.n",
        "no pipeline input 'count'",
        "pipeline.binding-exists",
    ),
    (
        "binding_syntax.yml",
        "binding_syntax.yml",
        "jobs.double.inputs.label",
        "is not a binding",
        "pipeline.binding-syntax",
    ),
    (
        "undeclared_port.yml",
        "undeclared_port.yml",
        "jobs.source.inputs.size",
        "declares no input 'size'",
        "pipeline.job-port-declared",
    ),
    (
        "command_input.yml",
        "undeclared_input.yml",
        "command",
        "declares no 'factr'",
        "component.command-uses-declared-ports",
    ),
    (
        "command_output.yml",
        "undeclared_output.yml",
        "command",
        "declares no 'result'",
        "component.command-uses-declared-ports",
    ),
    (
        "literal_type.yml",
        "literal_type.yml",
        "jobs.source.inputs.n",
        "'many' is not an integer",
        "pipeline.literal-type",
    ),
    (
        "parent_literal_type.yml",
        "parent_literal_type.yml",
        "jobs.double.inputs.factor",
        "'fast' is not a number",
        "pipeline.literal-type",
    ),
    ("cycle.yml", "cycle.yml", "jobs.a", "a -> b -> a form a cycle", "pipeline.no-cycle"),
    (
        "self_loop.yml",
        "self_loop.yml",
        "jobs.a.inputs.data",
        "binds its own output (self-loop)",
        "pipeline.no-cycle",
    ),
    (
        "unknown_type.yml",
        "unknown_type.yml",
        "type",
        "unknown component type 'comand'",
        "component.type-known",
    ),
    (
        "wrong_port_type.yml",
        "wrong_port_type.yml",
        "inputs.data.type",
        "unknown type 'uri_foldr'",
        "component.port-type",
    ),
    (
        "missing_code.yml",
        "missing_code.yml",
        "code",
        "code folder '../no_such_src' does not exist",
        "component.code-exists",
    ),
    ("syntax.yml", "syntax.yml", "<yaml>", "invalid YAML", "yaml.syntax"),
    ("empty.yml", "empty.yml", "<root>", "pipeline file is empty", "yaml.not-empty"),
    ("list.yml", "list.yml", "<root>", "the document is a list", "yaml.mapping"),
    ("component_list.yml", "list_component.yml", "<root>", "the document is a list", "yaml.mapping"),
    ("component_syntax.yml", "syntax_component.yml", "<yaml>", "invalid YAML", "yaml.syntax"),
    (
        "missing_component.yml",
        "missing_component.yml",
        "jobs.source.component",
        "component file '../../components/nosuch.yml' not found",
        "pipeline.component-exists",
    ),
    (
        "missing_input_path.yml",
        "missing_input_path.yml",
        "inputs.seed.path",
        "does not exist",
        "pipeline.input-path-exists",
    ),
    (
        "required_input.yml",
        "required_input.yml",
        "jobs.double.inputs.data",
        "Required input 'data'",
        "pipeline.schema",
    ),
    (
        "optional_outside.yml",
        "optional_outside.yml",
        "jobs.noise.inputs.label",
        "outside $[[...]]",
        "pipeline.required-input",
    ),
    (
        "job_type.yml",
        "job_type.yml",
        "jobs.sweep.search_space",
        "a sweep needs a non-empty search_space mapping",
        "pipeline.sweep-settings",
    ),
    ("unknown_field.yml", "unknown_field.yml", "retries", "unknown field", "pipeline.schema"),
    (
        "output_type.yml",
        "output_type.yml",
        "jobs.source.outputs.out",
        "'uri_foldr' is not one of",
        "pipeline.schema",
    ),
    (
        "literal_for_path.yml",
        "literal_for_path.yml",
        "jobs.double.inputs.data",
        "a uri_folder input needs a path",
        "pipeline.binding-type",
    ),
    (
        "distribution.yml",
        "distribution.yml",
        "jobs.ranks.distribution.process_count_per_instance",
        "0 is not a positive count",
        "pipeline.distribution-supported",
    ),
]


@pytest.mark.parametrize(("pipeline", "file", "field", "reason", "rule"), CASES, ids=[c[0] for c in CASES])
def test_broken_spec_is_refused_with_file_field_reason(toy, cli, pipeline, file, field, reason, rule):
    result = cli("run", BROKEN / pipeline, "--no-mlflow")
    assert result.code == 2
    assert "Traceback" not in result.err
    line = next((ln for ln in result.err.splitlines() if f": {field}: " in ln and f"[{rule}]" in ln), None)
    assert line is not None, result.err
    assert file in line.split(":")[0]
    assert reason in line
    assert "nothing was run" in result.err
    assert not (toy.home / "runs").exists()


@pytest.mark.parametrize(
    ("pipeline", "file", "field", "reason", "rule"), CASES[:3], ids=[c[0] for c in CASES[:3]]
)
def test_api_returns_the_same_problems(pipeline, file, field, reason, rule):
    problems = check_pipeline(BROKEN / pipeline)
    assert [(p.rule_id, p.field) for p in problems] == [(rule, field)]
    assert problems[0].line is not None and problems[0].line > 1
    with pytest.raises(SpecError) as err:
        load_pipeline(BROKEN / pipeline)
    assert (err.value.field, err.value.problems) == (field, problems)
    assert reason in err.value.reason


def test_all_problems_are_reported_at_once():
    problems = check_pipeline(BROKEN / "many_problems.yml")
    rules = sorted(p.rule_id for p in problems)
    assert rules == ["pipeline.binding-exists", "pipeline.binding-exists", "pipeline.literal-type"]
    assert all(p.file.endswith("many_problems.yml") and p.line for p in problems)


def test_a_literal_outside_a_string_enum_is_passed_on_as_azure_ml_does():
    # azure-ai-ml's load_job(...)._validate() accepts it, and Azure ML runs the official densenet
    # sample that gives center_crop: 224 to a string input with enum ['True', 'False']
    spec = load_pipeline(BROKEN / "enum_value.yml")
    assert spec.jobs["boom"].inputs["mode"].value == "explode"


def test_missing_pipeline_file(toy, cli):
    result = cli("run", toy.root / "pipelines" / "nosuch.yml")
    assert result.code == 2
    assert "nosuch.yml: <file>: pipeline file not found [yaml.file-exists]" in result.err
