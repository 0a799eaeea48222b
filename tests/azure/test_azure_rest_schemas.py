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


# --- the Swagger side ------------------------------------------------------------------------------
# tests/fixtures/azure_rest/swagger/<name>.schema.json restate, definition by definition, what the
# REST API's Swagger file says at the api-version azure-ai-ml sends (path and commit in x-source).
# The wire checks every body against them too (wire.SchemaCheck). Below: where the schema generated
# from the SDK's models disagrees with them. Each entry is a finding, kept so that a new one fails.
SWAGGER = Path(SCHEMAS) / "swagger"
SWAGGER_FINDINGS: dict[str, dict[tuple[str, str, str], str]] = {
    "environment_version": {
        (
            "no property",
            "EnvironmentVersionProperties",
            "intellectualProperty",
        ): "SDK model lacks it; open schema",
    },
    "component_version": {
        ("no property", "ComponentVersionProperties", "stage"): "SDK model lacks it; open schema",
    },
    "data_version": {
        (
            "no property",
            "DataVersionBaseProperties",
            "intellectualProperty",
        ): "SDK model lacks it; open schema",
        ("no property", "DataVersionBaseProperties", "stage"): "SDK model lacks it; open schema",
    },
    "model_version": {
        ("no property", "ModelVersionProperties", "intellectualProperty"): "SDK model lacks it; open schema",
    },
    "online_deployment": {
        ("enum value missing", "OnlineDeploymentProperties", "endpointComputeType=azuremlcompute"): (
            "Swagger lists AzureMLCompute; the SDK has no deployment class for it, so its schema refuses it"
        ),
        ("property not in swagger", "OnlineDeploymentProperties", "startupProbe"): (
            "the SDK model (newest API) has startupProbe; 2023-04-01-preview does not define it"
        ),
    },
    "online_endpoint": {
        ("property not in swagger", "OnlineEndpointProperties", "publicNetworkAccess"): (
            "2022-02-01-preview has no publicNetworkAccess (additionalProperties false); the SDK model has it"
        ),
    },
    "pipeline_job": {
        (
            "enum value extra",
            "JobBaseProperties",
            "jobType=finetuning",
        ): "SDK knows FineTuning; 2024-01-01-preview not",
        (
            "enum value missing",
            "JobBaseProperties",
            "jobType=labeling",
        ): "Swagger lists Labeling; the SDK has no class",
        ("no property", "JobBaseProperties", "secretsConfiguration"): "SDK model lacks it; open schema",
    },
    "schedule": {
        ("enum value missing", "ScheduleActionBase", "actionType=importdata"): (
            "Swagger lists ImportData; the SDK has no ImportDataAction class, so its schema refuses it"
        ),
    },
}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and a nullable ``anyOf`` to the schema that says what the value is."""
    while True:
        if "$ref" in schema:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**defs[schema["$ref"].rsplit("/", 1)[-1]], **rest}
        elif "anyOf" in schema:
            schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
        else:
            return schema


def _kind(schema: dict[str, Any], defs: dict[str, Any]) -> str | None:
    found = _resolve(schema, defs)
    kind = found.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind is None and ("properties" in found or "allOf" in found):
        kind = "object"
    return kind


def swagger_differences(name: str) -> set[tuple[str, str, str]]:
    """Where ``<name>.schema.json`` (from the SDK) and ``swagger/<name>.schema.json`` disagree:
    a Swagger-required field not required, a property or enum value missing on either side, readOnly
    or type not matching; SDK-only properties only where every Swagger parent was read (x-complete)."""
    swagger = json.loads((SWAGGER / f"{name}.schema.json").read_text())
    generated = json.loads((Path(SCHEMAS) / f"{name}.schema.json").read_text())
    sdefs, gdefs = swagger["definitions"], generated["definitions"]
    found: set[tuple[str, str, str]] = set()
    for definition in sdefs.values():
        target = definition.get("x-sdk-definition")
        if not target:
            continue
        other = gdefs[target]
        props, required = other.get("properties", {}), set(other.get("required", []))
        found |= {("not required", target, r) for r in definition.get("required", []) if r not in required}
        for prop, spec in definition.get("properties", {}).items():
            if prop not in props:
                found.add(("no property", target, prop))
                continue
            theirs, ours = _resolve(props[prop], gdefs), _resolve(spec, sdefs)
            if spec.get("readOnly") and not theirs.get("readOnly"):
                found.add(("not readOnly", target, prop))
            if "enum" in ours:
                values = theirs.get("enum") or ([theirs["const"]] if "const" in theirs else [])
                mine, sdk = {v.lower() for v in ours["enum"]}, {v.lower() for v in values}
                found |= {("enum value missing", target, f"{prop}={v}") for v in mine - sdk}
                found |= {("enum value extra", target, f"{prop}={v}") for v in sdk - mine}
            kinds = (_kind(spec, sdefs), _kind(props[prop], gdefs))
            if None not in kinds and kinds[0] != kinds[1]:
                found.add(("type", target, f"{prop}: {kinds[0]} != {kinds[1]}"))
        if definition.get("x-complete"):
            known = definition.get("properties", {})
            found |= {
                ("property not in swagger", target, p)
                for p, s in props.items()
                if p not in known and not s.get("readOnly")
            }
    return found


SWAGGER_NAMES = sorted(p.name.removesuffix(".schema.json") for p in SWAGGER.glob("*.schema.json"))


def test_swagger_schemas_name_their_file_commit_and_the_api_version_the_sdk_sends() -> None:
    assert set(SWAGGER_NAMES) == set(GOOD), SWAGGER_NAMES
    for name in SWAGGER_NAMES:
        swagger = json.loads((SWAGGER / f"{name}.schema.json").read_text())
        generated = json.loads((Path(SCHEMAS) / f"{name}.schema.json").read_text())
        source = swagger["x-source"]
        assert swagger["x-api-version"] == generated["x-api-version"], name
        assert f"/{swagger['x-api-version']}/" in source["rest-spec"], name
        assert source["rest-spec"] == generated["x-source"]["rest-spec"], name  # the same Swagger file
        assert len(source["rest-spec-commit"]) == 40 and int(source["rest-spec-commit"], 16) >= 0, name
        assert set(source["definitions-read"]) >= {
            d for d in swagger["definitions"] if "x-sdk-definition" in d
        }


@pytest.mark.parametrize("name", SWAGGER_NAMES)
def test_the_generated_schema_agrees_with_swagger_but_for_the_known_findings(name: str) -> None:
    """Every Swagger-required field is required, every Swagger property and enum value exists (case
    aside), readOnly and types match; the listed exceptions are the known findings."""
    assert swagger_differences(name) == set(SWAGGER_FINDINGS.get(name, {}))


def test_the_comparison_sees_a_dropped_requirement_and_an_enum_value(tmp_path: Path) -> None:
    """The comparison can fail: a Swagger file that requires more, or lists one more enum value, shows."""
    swagger = json.loads((SWAGGER / "schedule.schema.json").read_text())
    swagger["definitions"]["TriggerBase"]["required"].append("timeZone")
    swagger["definitions"]["TriggerType"]["enum"].append("Hourly")
    original = SWAGGER / "schedule.schema.json"
    copy_dir = tmp_path / "swagger"
    copy_dir.mkdir()
    (copy_dir / "schedule.schema.json").write_text(json.dumps(swagger))
    import test_azure_rest_schemas as module

    saved = module.SWAGGER
    module.SWAGGER = copy_dir
    try:
        found = swagger_differences("schedule")
    finally:
        module.SWAGGER = saved
    assert ("not required", "TriggerBase", "timeZone") in found
    assert ("enum value missing", "TriggerBase", "triggerType=hourly") in found
    assert original.exists()


SWAGGER_REFUSES = [
    ("online_endpoint", _set("properties.publicNetworkAccess", "Enabled"), "Additional properties"),
    ("online_endpoint", _set("properties.authMode", KeyError), "'authMode' is a required property"),
    ("data_version", _set("properties.dataUri", "--"), "does not match '[a-zA-Z0-9_]'"),
    ("schedule", _set("properties.action", KeyError), "'action' is a required property"),
    ("pipeline_job", _set("properties.jobType", "FineTuning"), "'FineTuning' is not one of"),
    ("environment_version", _set("properties.autoRebuild", "Always"), "'Always' is not one of"),
]


@pytest.mark.parametrize(
    ("name", "change", "reason"), SWAGGER_REFUSES, ids=[f"{w[0]}-{w[2][:20]}" for w in SWAGGER_REFUSES]
)
def test_the_swagger_schema_refuses_what_swagger_forbids(
    name: str, change: Callable[[dict], None], reason: str
) -> None:
    from wire import _ServiceValidator

    validator = _ServiceValidator(json.loads((SWAGGER / f"{name}.schema.json").read_text()))
    assert list(validator.iter_errors(GOOD[name])) == []
    body = copy.deepcopy(GOOD[name])
    change(body)
    messages = [e.message for e in validator.iter_errors(body)]
    assert any(reason in m for m in messages), messages
    assert any(reason in e for e in Workspace().schemas.errors(name, body))  # the wire checks it too


WIRE_ROUTES = [
    (r"/onlineEndpoints/[^/]+/deployments/[^/]+$", "online_deployment"),
    (r"/onlineEndpoints/[^/]+$", "online_endpoint"),
    (r"/environments/[^/]+/versions/[^/]+$", "environment_version"),
    (r"/data/[^/]+/versions/[^/]+$", "data_version"),
    (r"/models/[^/]+/versions/[^/]+$", "model_version"),
    (r"/codes/[^/]+/versions/[^/]+$", "code_version"),
    (r"/components/[^/]+/versions/[^/]+$", "component_version"),
]


def test_every_body_the_sdk_sends_validates_against_the_swagger_schemas(
    tmp_path: Path, workspace: Workspace
) -> None:
    """The real MLClient registers assets and rolls out an endpoint; each PUT body it sent, as
    recorded at the wire, is valid under the Swagger-derived schema of its operation."""
    import re

    from azure.ai.ml.entities import (
        CodeConfiguration,
        CommandComponent,
        Data,
        Environment,
        ManagedOnlineDeployment,
        ManagedOnlineEndpoint,
        Model,
    )
    from wire import _ServiceValidator

    (tmp_path / "score.py").write_text("def init():\n    pass\n\n\ndef run(raw):\n    return raw\n")
    client = workspace.client()
    client.environments.create_or_update(
        Environment(
            name="serve",
            version="1",
            image="mcr.microsoft.com/azureml/minimal-ubuntu22.04-py311-cpu-inference",
        )
    )
    client.data.create_or_update(
        Data(
            name="landing",
            version="1",
            type="uri_folder",
            path="azureml://datastores/workspaceblobstore/paths/x/",
        )
    )
    client.models.create_or_update(
        Model(
            name="clf",
            version="1",
            type="mlflow_model",
            path="azureml://datastores/workspaceblobstore/paths/m/",
        )
    )
    client.components.create_or_update(
        CommandComponent(
            name="train",
            version="1",
            command="python score.py",
            environment="azureml:serve:1",
            code=str(tmp_path),
        )
    )
    client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="ep-swagger", auth_mode="key")
    ).result()
    client.online_deployments.begin_create_or_update(
        ManagedOnlineDeployment(
            name="blue",
            endpoint_name="ep-swagger",
            model="azureml:clf:1",
            environment="azureml:serve:1",
            code_configuration=CodeConfiguration(code=str(tmp_path), scoring_script="score.py"),
            instance_type="Standard_DS3_v2",
            instance_count=1,
        )
    ).result()

    checked: dict[str, int] = {}
    for request in workspace.sent("PUT"):
        name = next((n for pattern, n in WIRE_ROUTES if re.search(pattern, request.path)), None)
        if name is None or request.host != "management.azure.com":
            continue
        validator = _ServiceValidator(json.loads((SWAGGER / f"{name}.schema.json").read_text()))
        assert [e.message for e in validator.iter_errors(request.json)] == [], (name, request.json)
        assert (
            request.api_version == json.loads((SWAGGER / f"{name}.schema.json").read_text())["x-api-version"]
        )
        checked[name] = checked.get(name, 0) + 1
    assert set(checked) == {n for _, n in WIRE_ROUTES}, checked
    assert workspace.violations == []
