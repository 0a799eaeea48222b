"""components/{train,evaluate,register}.yml: valid for azure-ai-ml, and matching pipelines/training.yml."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

STEPS = ("train", "evaluate", "register")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def components() -> dict:
    from azure.ai.ml import load_component

    return {step: load_component(REPO / "components" / f"{step}.yml") for step in STEPS}


@pytest.mark.parametrize("step", STEPS)
def test_component_loads_and_validates(components: dict, repo_root: Path, step: str) -> None:
    component = components[step]
    result = component._validate()
    assert result.passed, result.error_messages
    assert re.fullmatch(r"\d+\.\d+\.\d+", str(component.version)), component.version
    assert component.type == "command"
    raw = yaml.safe_load((repo_root / "components" / f"{step}.yml").read_text())
    train_env = yaml.safe_load((repo_root / "environments" / "train.yml").read_text())
    assert raw["environment"] == f"azureml:ctloop-train:{train_env['version']}"
    assert raw["code"] == "../src"
    assert raw["command"].startswith(f"python -m ctloop.steps.{step} ")
    for kind in ("inputs", "outputs"):
        for port, spec in raw[kind].items():
            assert spec.get("description"), f"{step}.{kind}.{port} has no description"
    # every port is used by the command; optional ones only inside $[[...]]
    command = raw["command"]
    for port, spec in raw["inputs"].items():
        ref = f"${{{{inputs.{port}}}}}"
        assert ref in command, f"{step}: input {port} unused"
        inside_optional = re.search(r"\$\[\[[^\]]*" + re.escape(ref), command) is not None
        assert inside_optional == bool(spec.get("optional")), f"{step}: input {port} optional mismatch"
    for port in raw["outputs"]:
        assert f"${{{{outputs.{port}}}}}" in command


def test_pipeline_bindings_match_the_components(repo_root: Path) -> None:
    pipeline = yaml.safe_load((repo_root / "pipelines" / "training.yml").read_text())
    specs = {step: yaml.safe_load((repo_root / "components" / f"{step}.yml").read_text()) for step in STEPS}
    for step in STEPS:
        job = pipeline["jobs"][step]
        assert job["component"] == f"../components/{step}.yml"
        inputs = specs[step]["inputs"]
        for port in job["inputs"]:
            assert port in inputs, f"pipeline binds {step}.{port}, which the component does not declare"
        required = {p for p, s in inputs.items() if not s.get("optional") and "default" not in s}
        assert required <= set(job["inputs"]), (
            f"{step}: unbound required inputs {required - set(job['inputs'])}"
        )
    # every binding to one of these jobs' outputs names a declared output port
    for job in pipeline["jobs"].values():
        for value in (job.get("inputs") or {}).values():
            match = re.fullmatch(r"\$\{\{parent\.jobs\.(\w+)\.outputs\.(\w+)\}\}", str(value))
            if match and match.group(1) in specs:
                assert match.group(2) in specs[match.group(1)]["outputs"], value
