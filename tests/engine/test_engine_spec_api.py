"""The spec API that the engine and ``ctloop validate`` share: model, order, overrides, components."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctloop.engine.spec import RULES, SpecError, check_component, check_pipeline, load_pipeline
from ctloop.engine.spec.literals import LiteralTypeError, coerce_literal

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"
REPO = Path(__file__).resolve().parents[2]


def test_toy_pipelines_have_no_problems():
    for pipeline in sorted((FIXTURES / "pipelines").glob("*.yml")):
        assert check_pipeline(pipeline) == [], pipeline.name


def test_loaded_pipeline_has_bindings_order_and_assets():
    spec = load_pipeline(FIXTURES / "pipelines" / "diamond.yml")
    assert spec.name == "toy-diamond"
    assert spec.order.index("source") < spec.order.index("left") < spec.order.index("merge")
    assert spec.order.index("right") < spec.order.index("merge")
    merge = spec.jobs["merge"]
    assert merge.upstream() == {"left", "right"}
    assert (merge.inputs["left"].kind, merge.inputs["left"].ref, merge.inputs["left"].port) == (
        "job",
        "left",
        "out",
    )
    assert merge.outputs["out"].asset_name == "toy-total"
    assert merge.outputs["out"].asset_version is None
    source = spec.jobs["source"]
    assert source.inputs["n"].kind == "parent" and spec.resolve(source.inputs["n"]) == 3
    assert spec.inputs["seed"].value == (FIXTURES / "data" / "seed").resolve()
    assert source.component.code == (FIXTURES / "src").resolve()
    assert source.component.inputs["seed"].optional is True
    assert spec.downstream("source") == {"left", "right", "merge"}


def test_distribution_bound_to_a_pipeline_input():
    job = load_pipeline(FIXTURES / "pipelines" / "distributed.yml").jobs["ranks"]
    assert job.distribution_type == "pytorch"
    assert job.process_count == "${{parent.inputs.procs}}"


def test_set_overrides_are_type_checked(tmp_path):
    spec = load_pipeline(FIXTURES / "pipelines" / "diamond.yml", {"n": "5", "factor": "0.5"})
    assert spec.inputs["n"].value == 5 and spec.inputs["factor"].value == 0.5
    assert spec.overrides == {"n": 5, "factor": 0.5}
    with pytest.raises(SpecError) as err:
        load_pipeline(FIXTURES / "pipelines" / "diamond.yml", {"n": "five"})
    assert err.value.field == "inputs.n"
    assert "'five' is not an integer" in err.value.reason and "jobs.source.inputs.n" in err.value.reason
    with pytest.raises(SpecError) as err:
        load_pipeline(FIXTURES / "pipelines" / "diamond.yml", {"nope": "1"})
    assert "no such pipeline input" in err.value.reason
    with pytest.raises(SpecError) as err:
        load_pipeline(FIXTURES / "pipelines" / "diamond.yml", {"seed": str(tmp_path / "missing")})
    assert err.value.field == "inputs.seed" and "does not exist" in err.value.reason
    spec = load_pipeline(FIXTURES / "pipelines" / "diamond.yml", {"seed": str(tmp_path)})
    assert spec.inputs["seed"].value == tmp_path


def test_literal_coercion_rules():
    assert coerce_literal("7", "integer") == 7
    assert coerce_literal("0.5", "number") == 0.5
    assert coerce_literal("false", "boolean") is False
    assert coerce_literal(3, "string") == "3"
    for value, type_ in (("7.5", "integer"), (True, "integer"), ("yes", "boolean"), ("x", "number")):
        with pytest.raises(LiteralTypeError):
            coerce_literal(value, type_)
    with pytest.raises(LiteralTypeError, match="below the minimum"):
        coerce_literal(0, "integer", minimum=1)


def test_check_component_reports_and_passes():
    assert check_component(FIXTURES / "components" / "transform.yml") == []
    problems = check_component(FIXTURES / "broken" / "components" / "undeclared_input.yml")
    assert [p.rule_id for p in problems] == ["component.command-uses-declared-ports"]
    assert problems[0].line == 13


def test_every_reported_rule_is_documented():
    broken = sorted((FIXTURES / "broken").glob("*.yml"))
    seen = {p.rule_id for f in broken for p in check_pipeline(f)}
    assert seen <= set(RULES)
    assert len(seen) >= 15


def test_training_pipeline_loads_with_its_components():
    pipeline = REPO / "pipelines" / "training.yml"
    components = REPO / "components"
    needed = ["ingest", "validate_data", "prep", "train", "evaluate", "register"]
    missing = [name for name in needed if not (components / f"{name}.yml").is_file()]
    assert not missing, f"components missing from {components}: {missing}"
    spec = load_pipeline(pipeline)
    assert set(needed) <= set(spec.jobs)
    assert spec.order.index("ingest") < spec.order.index("train") < spec.order.index("register")
    assert spec.jobs["ingest"].outputs["data"].asset_name == "rainfall-data"


def test_loader_crashes_become_problems(tmp_path):
    from ctloop.engine.spec import sdk
    from ctloop.engine.spec.source import read_source

    spec = tmp_path / "pipe.yml"
    spec.write_text("type: pipeline\njobs: {}\n")
    src = read_source(spec, [])

    def crashing(kind: type[Exception]):
        def loader(_path: str):
            raise kind("'list' object has no attribute 'get'")

        return lambda: loader

    for kind in (TypeError, AttributeError):
        entity, problems = sdk.load(crashing(kind), src, "pipeline.schema", {})
        assert entity is None
        assert [(p.rule_id, p.field) for p in problems] == [("pipeline.schema", "<spec>")]
        assert f"the azure-ai-ml loader could not read this spec ({kind.__name__}:" in problems[0].reason
        assert problems[0].file.endswith("pipe.yml")


def test_unchanged_specs_skip_the_loader_on_the_next_run(toy, monkeypatch):
    from ctloop.engine.spec import sdk

    first = load_pipeline(toy.pipeline("diamond"), use_memo=True)
    calls = []
    real_load_job = sdk.load_job
    monkeypatch.setattr(sdk, "load_job", lambda *a: calls.append(a) or real_load_job(*a))
    again = load_pipeline(toy.pipeline("diamond"), {"n": "4"}, use_memo=True)
    assert calls == []  # recalled from the memo
    assert again.jobs == first.jobs and again.order == first.order
    assert again.inputs["n"].value == 4 and again.inputs["seed"].value == first.inputs["seed"].value
    component = toy.root / "components" / "combine.yml"
    component.write_text(component.read_text().replace("version: 1.0.0", "version: 1.0.1"))
    changed = load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert len(calls) == 1 and changed.jobs["merge"].component.version == "1.0.1"
    # a memo never hides a problem: the cheap checks run again on every load
    (toy.root / "data" / "seed" / "a.txt").unlink()
    (toy.root / "data" / "seed" / "b.txt").unlink()
    (toy.root / "data" / "seed").rmdir()
    with pytest.raises(SpecError) as err:
        load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert err.value.problems[0].rule_id == "pipeline.input-path-exists"
