"""Nested ``type: pipeline`` steps: pipeline components expanded into the outer graph, to any depth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop.engine.spec import check_pipeline, load_pipeline
from ctloop.engine.spec.pipeline_checks import spec_only

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def nested(tmp_path: Path, ctloop_home: Path) -> Path:
    root = tmp_path / "nested_pipeline"
    shutil.copytree(SAMPLES / "nested_pipeline", root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _result(step: dict) -> list[str]:
    return (Path(step["outputs"]["out"]) / "result.txt").read_text().split("\n")[:-1]


def test_two_levels_run_with_bindings_defaults_and_literal_overrides(nested, cli, toy):
    result = cli("run", nested / "pipeline.yml", "--no-mlflow")
    assert result.code == 0, result.out + result.err
    steps = toy.record()["steps"]
    assert set(steps) == {
        *(
            f"{outer}/{inner}"
            for outer in ("prepare", "relabel")
            for inner in ("twice/first", "twice/second", "tag")
        ),
        "total",
    }
    # prepare: factor from the outer pipeline input (3), the inner default offset 100 and label
    assert _result(steps["prepare/twice/first"]) == ["3", "6", "9"]
    assert _result(steps["prepare/tag"]) == ["inner-default 103", "inner-default 106", "inner-default 109"]
    # relabel: the outer step's literals override the input and the component's default label
    assert _result(steps["relabel/tag"]) == ["outer-literal 110", "outer-literal 120", "outer-literal 130"]
    # the middle level's output (written by its step tag) feeds the outer step total
    assert _result(steps["total"]) == [str(103 + 106 + 109)]
    shown = cli("runs", "show", "latest")
    assert "prepare/twice/second" in shown.out and "relabel/tag" in shown.out


def test_inner_steps_are_cached_one_by_one(nested, cli, toy):
    assert cli("run", nested / "pipeline.yml", "--no-mlflow").code == 0
    again = cli("run", nested / "pipeline.yml", "--no-mlflow", "--set", "scale=4")
    assert again.code == 0, again.out + again.err
    steps = toy.record()["steps"]
    reused = {name for name, step in steps.items() if step["status"] == "cached"}
    # scale feeds only the prepare branch: every relabel step is reused, every prepare step reruns
    assert reused == {"relabel/twice/first", "relabel/twice/second", "relabel/tag"}
    assert _result(steps["total"]) == [str(104 + 108 + 112)]


def test_the_spec_binds_inner_steps_to_the_outer_graph(nested, toy):
    spec = load_pipeline(nested / "pipeline.yml")
    total = spec.jobs["total"].inputs["src"]
    assert (total.kind, total.ref, total.port) == ("job", "prepare/tag", "out")
    first = spec.jobs["prepare/twice/first"].inputs
    assert (first["src"].kind, first["src"].ref) == ("parent", "data")
    assert (first["factor"].kind, first["factor"].ref) == ("parent", "scale")
    assert spec.jobs["relabel/twice/first"].inputs["factor"].value == 10
    assert spec.jobs["prepare/twice/second"].inputs["offset"].value == 100  # the component's default
    assert spec.order.index("prepare/tag") < spec.order.index("total")


def _refusal(cli, pipeline: Path) -> str:
    result = cli("run", pipeline, "--no-mlflow")
    assert result.code == 2, result.out + result.err
    assert "Traceback" not in result.err and "nothing was run" in result.err
    return result.err


def test_an_inner_binding_to_a_missing_input_names_the_inner_file_and_field(nested, cli, toy):
    inner = nested / "inner" / "scale_twice.yml"
    inner.write_text(inner.read_text().replace("${{parent.inputs.factor}}", "${{parent.inputs.factr}}"))
    err = _refusal(cli, nested / "pipeline.yml")
    line = next(ln for ln in err.splitlines() if "factr" in ln)
    assert "scale_twice.yml" in line and "jobs.first.inputs.factor" in line
    assert "names no pipeline input 'factr'" in line
    assert not (toy.home / "runs").exists()


def test_a_required_component_input_left_unbound_names_the_inner_file(nested, cli, toy):
    outer = nested / "pipeline.yml"
    outer.write_text(outer.read_text().replace("      factor: 10\n", ""))
    err = _refusal(cli, outer)
    line = next(ln for ln in err.splitlines() if "[pipeline.required-input]" in ln)
    assert "prepare.yml" in line and "inputs.factor" in line
    assert "jobs.relabel.inputs does not bind it" in line


def test_reading_an_output_no_inner_step_writes_is_refused(nested, cli, toy):
    outer = nested / "pipeline.yml"
    outer.write_text(outer.read_text().replace("prepare.outputs.table", "prepare.outputs.tabel"))
    err = _refusal(cli, outer)
    line = next(ln for ln in err.splitlines() if "tabel" in ln)
    assert "jobs.total.inputs.src" in line and "declares no output 'tabel'" in line


def test_a_cycle_of_pipeline_components_is_refused_before_loading(tmp_path, cli, toy):
    err = _refusal(cli, SAMPLES / "nested_cycle" / "pipeline.yml")
    line = next(ln for ln in err.splitlines() if "[pipeline.no-cycle]" in ln)
    assert "b.yml" in line and "jobs.back.component" in line
    assert "a.yml -> b.yml -> a.yml" in line


def test_a_wrong_literal_is_reported_in_the_file_that_writes_it(nested, cli, toy):
    outer, inner = nested / "pipeline.yml", nested / "inner" / "scale_twice.yml"
    outer.write_text(outer.read_text().replace("factor: 10", "factor: ten"))
    line = next(ln for ln in _refusal(cli, outer).splitlines() if "'ten'" in ln)
    assert (
        line.split(":")[0].endswith("nested_pipeline/pipeline.yml") and "jobs.relabel.inputs.factor" in line
    )
    assert "pipeline component 'prepare' is integer" in line
    outer.write_text(outer.read_text().replace("factor: ten", "factor: 10"))
    inner.write_text(inner.read_text().replace("      factor: 1\n", "      factor: one\n"))
    lines = [ln for ln in _refusal(cli, outer).splitlines() if "'one'" in ln]
    assert lines and all(ln.split(":")[0].endswith("inner/scale_twice.yml") for ln in lines)
    assert all("jobs.second.inputs.factor" in ln for ln in lines)


def test_spec_only_checks_see_a_cycle_of_pipeline_components_too():
    with spec_only():
        problems = check_pipeline(SAMPLES / "nested_cycle" / "pipeline.yml")
    assert [(p.rule_id, p.field) for p in problems] == [("pipeline.no-cycle", "jobs.back.component")]
    assert problems[0].file.endswith("b.yml") and "a.yml -> b.yml -> a.yml" in problems[0].reason
