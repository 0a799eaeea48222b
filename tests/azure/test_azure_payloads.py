"""The REST payloads azure-ai-ml would send (``_to_rest_object()``, offline) match the YAML specs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ctloop.azure.submit import build_job, component_refs
from ctloop.gitops.azureml_load import quiet_sdk

REPO = Path(__file__).resolve().parents[2]


def _rest(entity) -> dict:
    return json.loads(json.dumps(entity._to_rest_object().as_dict(), default=str))


def _seconds(iso: str) -> int:
    """``PT1H30M`` -> 5400 (the forms azure-ai-ml writes)."""
    total, number = 0, ""
    for ch in iso.removeprefix("PT"):
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * {"H": 3600, "M": 60, "S": 1}[ch]
            number = ""
    return total


def _check_pipeline(root: Path) -> None:
    path = root / "pipelines" / "training.yml"
    spec = yaml.safe_load(path.read_text())
    rest = _rest(build_job(path, {}, root))["properties"]
    assert rest["jobType"] == "Pipeline"
    assert rest["experimentName"] == spec["experiment_name"]
    assert rest["settings"]["default_compute"] == spec["settings"]["default_compute"].removeprefix("azureml:")
    assert set(rest["jobs"]) == set(spec["jobs"])
    refs = component_refs(path, root)
    for name, job in spec["jobs"].items():
        sent = rest["jobs"][name]
        component = yaml.safe_load((path.parent / job["component"]).read_text())
        assert sent["componentId"] == refs[name] == f"azureml:{component['name']}:{component['version']}"
        assert _seconds(sent["limits"]["timeout"]) == job["limits"]["timeout"]
        for port, binding in job.get("inputs", {}).items():
            if isinstance(binding, str):
                assert sent["inputs"][port]["value"] == binding, (name, port)
            else:  # a data input given on the job itself: sent as a typed URI
                assert sent["inputs"][port]["uri"] == binding["path"], (name, port)
                assert sent["inputs"][port]["job_input_type"] == binding["type"], (name, port)
        if "compute" in job:
            assert sent["computeId"] == job["compute"].removeprefix("azureml:")
    for name, value in spec.get("inputs", {}).items():
        sent = rest["inputs"][name]
        if isinstance(value, dict):
            assert sent["jobInputType"] == value["type"]
        else:
            assert sent == {"value": str(value), "jobInputType": "literal"}


def _check_components(root: Path) -> int:
    from azure.ai.ml import load_component

    count = 0
    for path in sorted((root / "components").glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        with quiet_sdk():
            rest = _rest(load_component(str(path)))
        body = rest["properties"]["componentSpec"]
        assert rest["name"] == body["name"] == spec["name"]
        assert body["version"] == str(spec["version"])
        assert body["environment"] == spec["environment"]
        assert " ".join(body["command"].split()) == " ".join(spec["command"].split())
        assert Path(body["code"]) == (path.parent / spec["code"]).resolve()
        for side in ("inputs", "outputs"):
            assert set(body.get(side, {})) == set(spec.get(side, {}))
            for port, decl in spec.get(side, {}).items():
                assert body[side][port]["type"] == decl["type"]
                assert body[side][port].get("description") == decl.get("description")
        count += 1
    return count


def test_fixture_pipeline_and_components(spec_repo: Path) -> None:
    _check_pipeline(spec_repo)
    assert _check_components(spec_repo) == 3


def test_repository_pipeline_and_components() -> None:
    """The real specs under components/ and pipelines/training.yml, read-only."""
    missing = [
        job["component"]
        for job in yaml.safe_load((REPO / "pipelines" / "training.yml").read_text())["jobs"].values()
        if not (REPO / "pipelines" / job["component"]).is_file()
    ]
    assert not missing, f"components named by pipelines/training.yml are missing: {missing}"
    _check_pipeline(REPO)
    assert _check_components(REPO) >= 6
