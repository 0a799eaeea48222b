"""The Azure endpoint with the real azure-ai-ml MLClient at the wire (tests/azure/wire.py).

Only the network is replaced: the SDK loads the repository's endpoint YAMLs, uploads the scoring
code, resolves references and polls long-running operations against a workspace that checks
every request body against the REST API's schema. Metric responses have the Azure Monitor REST shape.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollout_helpers import MemoryRegistry

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "azure"))

from wire import WS_ID, StaticTokenCredential, Workspace

from ctloop.rollout.azure_endpoint import AzureEndpoint, parse_metrics, rest_metrics_query
from ctloop.rollout.controller import Controller
from ctloop.rollout.endpoint import DeploymentSpec, EndpointError
from ctloop.rollout.jsonfile import write_json
from ctloop.rollout.policy import load_rollout_policy
from ctloop.rollout.registry_adapter import RolloutRegistry

ARM = WS_ID


@pytest.fixture
def endpoints_dir(repo_root: Path, tmp_path: Path) -> Path:
    """The repository's endpoint YAMLs beside a code folder holding only the scoring script."""
    folder = tmp_path / "pipelines" / "endpoints"
    shutil.copytree(repo_root / "pipelines" / "endpoints", folder)
    score = tmp_path / "src" / "ctloop" / "serving" / "score.py"
    score.parent.mkdir(parents=True)
    shutil.copy(repo_root / "src" / "ctloop" / "serving" / "score.py", score)
    return folder


@pytest.fixture
def wire_ws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    ws = Workspace()
    ws.route_storage(monkeypatch)
    ws.seed(
        "environments",
        "ctloop-serve",
        "1",
        {"image": "mcr.microsoft.com/azureml/minimal-ubuntu22.04-py311-cpu-inference", "osType": "Linux"},
    )
    for version in ("2", "3"):
        ws.seed(
            "models",
            "rainfall-classifier",
            version,
            {"modelType": "mlflow_model", "modelUri": f"azureml://jobs/j{version}/outputs/model"},
        )
    yield ws
    assert not ws.unrouted, [f"{r.method} {r.url}" for r in ws.unrouted]
    assert ws.violations == []


@pytest.fixture
def azure(repo_root: Path, endpoints_dir: Path, wire_ws: Workspace) -> tuple[AzureEndpoint, Workspace]:
    policy = load_rollout_policy(repo_root / "policies")
    return AzureEndpoint(wire_ws.client(), policy, endpoints_dir), wire_ws


def _bodies(ws: Workspace, method: str, contains: str) -> list[dict[str, Any]]:
    return [r.json for r in ws.sent(method, contains) if r.json is not None]


def _endpoint_puts(ws: Workspace) -> list[dict[str, Any]]:
    return [r.json for r in ws.sent("PUT") if r.path.endswith("/onlineEndpoints/ctloop-rainfall")]


def _deploy(endpoint: AzureEndpoint, slot: str, version: str) -> None:
    endpoint.create_or_update_deployment(DeploymentSpec(slot, "rainfall-classifier", version))


def test_a_deployment_is_the_slot_yaml_with_the_version_and_serving_policy(azure: Any) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "green", "3")
    (created,) = _endpoint_puts(ws)
    assert created["properties"]["authMode"] == "Key" and created["location"]
    (dep,) = _bodies(ws, "PUT", "/deployments/green")
    props = dep["properties"]
    assert props["endpointComputeType"] == "Managed" and dep["sku"]["capacity"] == 2
    assert props["instanceType"] == "Standard_DS3_v2"
    assert props["model"] == f"{WS_ID}/models/rainfall-classifier/versions/3"
    assert props["environmentId"] == f"{WS_ID}/environments/ctloop-serve/versions/1"
    assert props["codeConfiguration"]["scoringScript"] == "ctloop/serving/score.py"
    assert props["codeConfiguration"]["codeId"].startswith(f"{WS_ID}/codes/")
    env = props["environmentVariables"]
    assert env["CTLOOP_MODEL_VERSION"] == "3" and env["CTLOOP_DEPLOYMENT"] == "green"
    assert json.loads(env["CTLOOP_SERVING_POLICY"]) == endpoint.policy.serving
    assert env["OMP_NUM_THREADS"] == "1"
    timeout_ms = endpoint.policy.serving["scoring_timeout_ms"]
    assert props["requestSettings"]["requestTimeout"] == f"PT{timeout_ms / 1000:g}S"
    assert props["livenessProbe"]["period"] and props["readinessProbe"]["failureThreshold"]
    assert set(props["dataCollector"]["collections"]) == {
        "request",
        "response",
        "model_inputs",
        "model_outputs",
    }
    # The scoring script went up as a code snapshot before the deployment named it.
    assert any(path.endswith("ctloop/serving/score.py") for path in ws.blobs)
    _deploy(endpoint, "blue", "2")
    assert len(_endpoint_puts(ws)) == 1  # the endpoint is created once
    info = endpoint.deployments()
    assert info["blue"].model_version == "2" and info["blue"].healthy
    assert info["blue"].detail["provisioning_state"] == "Succeeded"
    # Each create was a long-running operation the SDK polled to the end.
    assert len(ws.sent("GET", "/mfeOperationsStatus/")) >= 6


def test_traffic_and_mirror_are_written_on_the_endpoint_entity(azure: Any) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    endpoint.set_mirror({"green": 20})
    endpoint.set_traffic({"blue": 90, "green": 10})
    written = [b["properties"] for b in _endpoint_puts(ws)[1:]]
    # azure-ai-ml leaves 0% entries out of the body: the service reads them as 0.
    assert [w["traffic"] for w in written] == [{"blue": 100}, {"blue": 100}, {"blue": 90, "green": 10}]
    assert written[1]["mirrorTraffic"] == {"green": 20}
    assert not written[2].get("mirrorTraffic")  # green takes live traffic now: mirroring it stops
    assert endpoint.traffic() == {"blue": 90, "green": 10} and endpoint.live_deployment() == "blue"


@pytest.mark.parametrize(
    ("call", "args", "reason"),
    [
        ("set_traffic", {"blue": 60, "green": 60}, "sum to 100"),
        ("set_traffic", {"purple": 100}, "unknown deployment 'purple'"),
        ("set_mirror", {"blue": 10}, "takes live traffic"),
        ("set_mirror", {"green": 80}, "from 1 to 50"),
    ],
)
def test_refused_changes_send_nothing(azure: Any, call: str, args: dict[str, int], reason: str) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    before = ws.writes()
    with pytest.raises(EndpointError, match=reason):
        getattr(endpoint, call)(args)
    assert ws.writes() == before


def test_delete_only_a_deployment_without_traffic(azure: Any) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    with pytest.raises(EndpointError, match="takes 100% of traffic"):
        endpoint.delete_deployment("blue")
    endpoint.delete_deployment("green")
    assert [w for w in ws.writes() if w.startswith("DELETE")] == [
        "DELETE /onlineEndpoints/ctloop-rainfall/deployments/green"
    ]
    assert set(endpoint.deployments()) == {"blue"}
    target = endpoint.scoring_target()
    assert target.url == "https://ctloop-rainfall.westeurope.inference.ml.azure.com/score"
    assert target.headers == {"Authorization": "Bearer primary-key"}
    assert ws.sent("POST", "/onlineEndpoints/ctloop-rainfall/listKeys")


def test_traffic_to_a_missing_deployment_is_refused_by_the_service(azure: Any) -> None:
    """What the service answers when a traffic map names no deployment, through the SDK."""
    from azure.core.exceptions import HttpResponseError

    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    entity = endpoint.ml_client.online_endpoints.get(name="ctloop-rainfall")
    entity.traffic = {"blue": 50, "ghost": 50}
    with pytest.raises(HttpResponseError, match="traffic names deployments that do not exist"):
        endpoint.ml_client.online_endpoints.begin_create_or_update(entity).result()
    assert ws.endpoints["ctloop-rainfall"]["properties"].get("traffic") in (None, {}, {"blue": 0})


def _series(deployment: str, values: list[float], field: str = "total", **dims: str) -> dict[str, Any]:
    meta = [{"name": {"value": "deployment"}, "value": deployment}]
    meta += [{"name": {"value": k}, "value": v} for k, v in dims.items()]
    return {
        "metadatavalues": meta,
        "data": [{"timeStamp": f"2026-01-01T00:0{i}:00Z", field: v} for i, v in enumerate(values)],
    }


def test_metrics_from_azure_monitor_responses(azure: Any) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    requests = {
        "value": [
            {
                "name": {"value": "RequestsPerMinute"},
                "timeseries": [
                    _series("blue", [60, 60], statusCodeClass="2xx"),
                    _series("blue", [1, 0], statusCodeClass="5xx"),
                    _series("blue", [3, 2], statusCodeClass="4xx"),
                    _series("green", [10, 9], statusCodeClass="2xx"),
                ],
            }
        ]
    }
    latency = {
        "value": [
            {"name": {"value": "RequestLatency_P50"}, "timeseries": [_series("blue", [5, 7], "average")]},
            {
                "name": {"value": "RequestLatency_P99"},
                "timeseries": [_series("blue", [40, 90], "average"), _series("green", [12], "average")],
            },
        ]
    }
    ws.metrics = {
        "RequestsPerMinute": requests,
        "RequestLatency_P50,RequestLatency_P95,RequestLatency_P99": latency,
    }
    credential = StaticTokenCredential()
    endpoint.metrics_query = rest_metrics_query(credential, ws.httpx_client())
    metrics = endpoint.metrics(since=1_767_225_600.0)
    queries = ws.sent("GET", "/providers/Microsoft.Insights/metrics")
    assert [q.path for q in queries] == [
        f"{ARM}/onlineEndpoints/ctloop-rainfall/providers/Microsoft.Insights/metrics"
    ] * 2
    first, second = queries[0].query, queries[1].query
    assert first["api-version"] == "2023-10-01" and first["interval"] == "PT1M"
    assert first["$filter"] == "deployment eq '*' and statusCodeClass eq '*'"
    assert first["aggregation"] == "Total,Average"
    assert first["timespan"].startswith("2026-01-01T00:00:00Z/")
    assert second["metricnames"] == "RequestLatency_P50,RequestLatency_P95,RequestLatency_P99"
    assert queries[0].headers["Authorization"] == "Bearer " + credential.token_for(
        "https://management.azure.com/.default"
    )
    blue, green = metrics["blue"], metrics["green"]
    assert (blue.requests, blue.errors, blue.client_errors) == (126, 1, 5)
    assert (blue.p50_ms, blue.p95_ms, blue.p99_ms) == (7, None, 90)
    assert (green.requests, green.errors, green.p99_ms) == (19, 0, 12)
    assert blue.primary_metric is None  # labels never reach Azure Monitor
    assert parse_metrics({}, {}) == {}


def test_an_interrupted_azure_rollout_rolls_back_through_the_sdk(azure: Any, tmp_path: Path) -> None:
    endpoint, ws = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 50, "green": 50})  # where a killed controller left it
    write_json(
        tmp_path / "rollout.json",
        {
            "id": "rainfall-classifier-v3-x",
            "endpoint": "ctloop-rainfall",
            "model_name": "rainfall-classifier",
            "version": "3",
            "model_dir": str(tmp_path),
            "eval": str(tmp_path),
            "old": "blue",
            "old_version": "2",
            "new": "green",
            "step": 0,
            "canary_started": 1.0,
            "stage": "canary",
            "checks": [],
            "history": [],
        },
    )
    registry = MemoryRegistry()
    registry.add("3", tmp_path)
    controller = Controller(
        endpoint, endpoint.policy, lambda n: RolloutRegistry(n, registry), tmp_path, say=lambda m: None
    )
    state = controller.rollback("alert fired")
    assert state["stage"] == "rolled_back"
    assert _endpoint_puts(ws)[-1]["properties"]["traffic"] == {"blue": 100}
    assert [w for w in ws.writes() if w.startswith("DELETE")] == [
        "DELETE /onlineEndpoints/ctloop-rainfall/deployments/green"
    ]
    assert set(endpoint.deployments()) == {"blue"}
    assert registry.versions["3"].tags["ctloop.rejected_reason"] == "alert fired"


def test_the_stack_endpoint_name_wins_over_endpoint_yml(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoints_dir: Path, wire_ws: Workspace
) -> None:
    """Infra derives one endpoint name per stack (names are unique per region); the rollout uses it."""
    from ctloop.rollout.azure_endpoint import configured_endpoint_name

    monkeypatch.delenv("AZUREML_ENDPOINT_NAME", raising=False)
    config = tmp_path / ".azureml"
    assert configured_endpoint_name(config) is None
    config.mkdir()
    (config / "config.json").write_text(
        '{"subscription_id": "s", "resource_group": "rg", "workspace_name": "w", '
        '"endpoint_name": "ctloop-prod-ab12cd"}'
    )
    assert configured_endpoint_name(config) == "ctloop-prod-ab12cd"
    monkeypatch.setenv("AZUREML_ENDPOINT_NAME", "from-env")
    assert configured_endpoint_name(config) == "from-env"

    policy = load_rollout_policy(repo_root / "policies")
    endpoint = AzureEndpoint(wire_ws.client(), policy, endpoints_dir, name="ctloop-prod-ab12cd")
    endpoint.ensure_endpoint()
    assert set(wire_ws.endpoints) == {"ctloop-prod-ab12cd"}
    assert wire_ws.writes()[0] == "PUT /onlineEndpoints/ctloop-prod-ab12cd"
