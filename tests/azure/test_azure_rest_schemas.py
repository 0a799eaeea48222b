"""The request-body schemas (tests/fixtures/azure_rest) accept well-formed bodies and refuse wrong ones
the way the service does: an unknown discriminator, a value outside an enum, a wrong type, a
missing required field. Each refusal through the workspace is a 400 UserError that changes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from wire import ARM, SCHEMAS, WS_ID, Request, Workspace

CODE = f"{WS_ID}/codes/0e4ba14f/versions/1"
GOOD: dict[str, dict[str, Any]] = {
    "environment_version": {
        "properties": {"image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04", "osType": "Linux"}
    },
    "component_version": {
        "properties": {"componentSpec": {"name": "c", "type": "command"}, "isArchived": False}
    },
    "code_version": {
        "properties": {"codeUri": "https://stctloopdev.blob.core.windows.net/c/x", "isAnonymous": True}
    },
    "pipeline_job": {"properties": {"jobType": "Pipeline", "experimentName": "ctloop", "jobs": {}}},
    "schedule": {
        "properties": {
            "trigger": {"triggerType": "Cron", "expression": "0 6 * * *", "timeZone": "UTC"},
            "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline", "jobs": {}}},
        }
    },
    "online_endpoint": {
        "location": "westeurope",
        "properties": {"authMode": "Key", "traffic": {"blue": 100}},
    },
    "online_deployment": {
        "location": "westeurope",
        "sku": {"name": "Default", "capacity": 2},
        "properties": {
            "endpointComputeType": "Managed",
            "instanceType": "Standard_DS3_v2",
            "codeConfiguration": {"codeId": CODE, "scoringScript": "score.py"},
        },
    },
    "model_version": {
        "properties": {
            "modelType": "mlflow_model",
            "modelUri": "azureml://jobs/j/outputs/model",
            "isAnonymous": False,
        }
    },
    "data_version": {
        "properties": {"dataType": "uri_folder", "dataUri": "azureml://datastores/workspaceblobstore/paths/x"}
    },
}


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(body: dict) -> None:
        *parents, last = path.split(".")
        node = body
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value

    return change


WRONG = [
    ("pipeline_job", _set("properties.jobType", "Notebook"), "'Notebook' is not one of"),
    ("schedule", _set("properties.action.jobDefinition.jobType", "Notebook"), "'Notebook' is not one of"),
    ("schedule", _set("properties.trigger.triggerType", "Hourly"), "'Hourly' is not one of"),
    ("schedule", _set("properties.trigger", KeyError), "'trigger' is a required property"),
    ("online_endpoint", _set("properties.authMode", "Token"), "'Token' is not one of"),
    ("online_endpoint", _set("location", KeyError), "'location' is a required property"),
    ("online_deployment", _set("properties.endpointComputeType", "Serverless"), "'Serverless' is not one of"),
    ("online_deployment", _set("sku.capacity", "two"), "'two' is not of type 'integer'"),
    ("environment_version", _set("properties.osType", "MacOS"), "'MacOS' is not one of"),
    ("environment_version", _set("properties.autoRebuild", "Always"), "'Always' is not one of"),
    ("component_version", _set("properties.isArchived", "no"), "'no' is not of type 'boolean'"),
    ("code_version", _set("properties.isAnonymous", "true"), "'true' is not of type 'boolean'"),
    ("model_version", _set("properties.tags", ["a"]), "is not of type 'object'"),
    ("data_version", _set("properties.dataType", "csv"), "'csv' is not one of"),
    ("data_version", _set("properties.dataUri", KeyError), "'dataUri' is a required property"),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_a_well_formed_body_is_accepted(name: str) -> None:
    assert Workspace().schemas.errors(name, GOOD[name]) == []


@pytest.mark.parametrize(("name", "change", "reason"), WRONG, ids=[f"{w[0]}-{w[2][:24]}" for w in WRONG])
def test_a_wrong_body_is_refused(name: str, change: Callable[[dict], None], reason: str) -> None:
    body = copy.deepcopy(GOOD[name])
    change(body)
    errors = Workspace().schemas.errors(name, body)
    assert errors and any(reason in e for e in errors), errors


def test_enums_compare_without_case_like_the_service() -> None:
    body = copy.deepcopy(GOOD["online_endpoint"])
    body["properties"]["authMode"] = "key"
    assert Workspace().schemas.errors("online_endpoint", body) == []


@pytest.mark.parametrize(
    ("path", "name"),
    [("/onlineEndpoints/ep", "online_endpoint"), ("/environments/e/versions/1", "environment_version")],
)
def test_the_workspace_answers_a_wrong_body_with_a_400_and_keeps_nothing(path: str, name: str) -> None:
    ws = Workspace()
    body = copy.deepcopy(GOOD[name])
    body["properties"]["authMode" if name == "online_endpoint" else "osType"] = "Bogus"
    reply = ws(Request("PUT", f"{ARM}{WS_ID}{path}?api-version=x", {}, json.dumps(body).encode()))
    assert reply.status == 400 and reply.body["error"]["code"] == "UserError"
    assert "'Bogus' is not one of" in reply.body["error"]["message"]
    assert ws.endpoints == {} and ws.assets == {}
    assert ws.violations and ws.violations[0][0] == name


def test_every_schema_names_its_source_and_api_version() -> None:
    files = sorted(Path(SCHEMAS).glob("*.schema.json"))
    assert {f.name.removesuffix(".schema.json") for f in files} == set(GOOD)
    for path in files:
        schema = json.loads(path.read_text())
        assert schema["x-api-version"][:4] in ("2022", "2023", "2024", "2025"), path.name
        assert schema["x-source"]["rest-spec"].startswith("Azure/azure-rest-api-specs:specification/"), (
            path.name
        )


def test_the_schemas_are_what_the_generator_builds() -> None:
    """An azure-ai-ml upgrade that changes a request model shows here: regenerate and review."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_schemas", Path(SCHEMAS) / "build_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("environment_version", "online_endpoint", "pipeline_job"):
        stored = json.loads((Path(SCHEMAS) / f"{name}.schema.json").read_text())
        assert module.build(name) == stored, f"{name}: run tests/fixtures/azure_rest/build_schemas.py"


@pytest.mark.parametrize("example", sorted((Path(SCHEMAS) / "examples").glob("*.json")), ids=lambda p: p.stem)
def test_the_published_example_requests_are_accepted(example: Path) -> None:
    """The REST API's own x-ms-examples request bodies (kept with source and commit) pass our schemas."""
    data = json.loads(example.read_text())
    ws = Workspace()
    assert data["api-version"] == ws.schemas.api_version(data["schema"])
    assert ws.schemas.errors(data["schema"], data["body"]) == []
