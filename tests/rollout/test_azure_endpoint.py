"""The Azure endpoint at the SDK boundary: a fake MLClient records the entities azure-ai-ml would send.

Nothing here reaches Azure: the fake stands in for ``MLClient.online_endpoints`` and
``online_deployments``; the entity objects are the real azure-ai-ml classes loaded from the
repository's YAML, and the metric responses have the Azure Monitor REST shape.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint
from azure.core.exceptions import ResourceNotFoundError
from rollout_helpers import MemoryRegistry

from ctloop.rollout.azure_endpoint import AzureEndpoint, parse_metrics
from ctloop.rollout.controller import Controller
from ctloop.rollout.endpoint import DeploymentSpec, EndpointError
from ctloop.rollout.jsonfile import write_json
from ctloop.rollout.policy import load_rollout_policy
from ctloop.rollout.registry_adapter import RolloutRegistry

ARM = "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w"


class Poller:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class FakeEndpoints:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls
        self.stored: dict[str, ManagedOnlineEndpoint] = {}

    def get(self, name: str) -> ManagedOnlineEndpoint:
        if name not in self.stored:
            raise ResourceNotFoundError(f"endpoint {name} not found")
        return copy.deepcopy(self.stored[name])

    def begin_create_or_update(self, endpoint: ManagedOnlineEndpoint) -> Poller:
        self.calls.append(("endpoint", copy.deepcopy(endpoint)))
        # what the service fills in on the answer (read-only properties on the entity)
        endpoint._id = f"{ARM}/onlineEndpoints/{endpoint.name}"
        endpoint._scoring_uri = f"https://{endpoint.name}.westeurope.inference.ml.azure.com/score"
        self.stored[endpoint.name] = copy.deepcopy(endpoint)
        return Poller(endpoint)

    def get_keys(self, name: str) -> Any:
        return SimpleNamespace(primary_key="primary-key", secondary_key="secondary-key")


class FakeDeployments:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls
        self.stored: dict[str, ManagedOnlineDeployment] = {}

    def begin_create_or_update(self, deployment: ManagedOnlineDeployment) -> Poller:
        self.calls.append(("deployment", copy.deepcopy(deployment)))
        deployment._provisioning_state = "Succeeded"  # set by the service
        self.stored[deployment.name] = deployment
        return Poller(deployment)

    def list(self, endpoint_name: str) -> list[ManagedOnlineDeployment]:
        return [d for d in self.stored.values() if d.endpoint_name == endpoint_name]

    def begin_delete(self, name: str, endpoint_name: str) -> Poller:
        self.calls.append(("delete", (name, endpoint_name)))
        self.stored.pop(name)
        return Poller(None)


class FakeMLClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.online_endpoints = FakeEndpoints(self.calls)
        self.online_deployments = FakeDeployments(self.calls)

    def of(self, kind: str) -> list[Any]:
        return [value for k, value in self.calls if k == kind]


@pytest.fixture
def azure(repo_root: Path) -> tuple[AzureEndpoint, FakeMLClient]:
    client = FakeMLClient()
    policy = load_rollout_policy(repo_root / "policies")
    return AzureEndpoint(client, policy, repo_root / "pipelines" / "endpoints"), client


def _deploy(endpoint: AzureEndpoint, slot: str, version: str) -> None:
    endpoint.create_or_update_deployment(DeploymentSpec(slot, "rainfall-classifier", version))


def test_a_deployment_is_the_slot_yaml_with_the_version_and_serving_policy(azure: Any) -> None:
    endpoint, client = azure
    _deploy(endpoint, "green", "3")
    created = client.of("endpoint")
    assert len(created) == 1 and isinstance(created[0], ManagedOnlineEndpoint)
    assert created[0].name == "ctloop-rainfall" and created[0].auth_mode == "key"
    (dep,) = client.of("deployment")
    assert isinstance(dep, ManagedOnlineDeployment)
    assert (dep.name, dep.endpoint_name, dep.model) == (
        "green",
        "ctloop-rainfall",
        "azureml:rainfall-classifier:3",
    )
    assert (dep.instance_type, dep.instance_count) == ("Standard_DS3_v2", 2)
    assert dep.code_configuration.scoring_script == "ctloop/serving/score.py"
    assert dep.environment == "azureml:ctloop-serve:1" or str(dep.environment).endswith("ctloop-serve:1")
    env = dep.environment_variables
    assert env["CTLOOP_MODEL_VERSION"] == "3" and env["CTLOOP_DEPLOYMENT"] == "green"
    assert json.loads(env["CTLOOP_SERVING_POLICY"]) == endpoint.policy.serving
    assert env["OMP_NUM_THREADS"] == "1"
    assert dep.request_settings.request_timeout_ms == endpoint.policy.serving["scoring_timeout_ms"]
    assert dep.liveness_probe.period and dep.readiness_probe.failure_threshold
    assert set(dep.data_collector.collections) == {"request", "response"}
    _deploy(endpoint, "blue", "2")
    assert len(client.of("endpoint")) == 1  # the endpoint is created once
    assert endpoint.deployments()["blue"].model_version == "2"


def test_traffic_and_mirror_are_written_on_the_endpoint_entity(azure: Any) -> None:
    endpoint, client = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    endpoint.set_mirror({"green": 20})
    endpoint.set_traffic({"blue": 90, "green": 10})
    written = client.of("endpoint")[1:]
    assert [e.traffic for e in written] == [
        {"blue": 100, "green": 0},
        {"blue": 100, "green": 0},
        {"blue": 90, "green": 10},
    ]
    assert written[1].mirror_traffic == {"green": 20}
    assert written[2].mirror_traffic == {}  # green takes live traffic now: mirroring it stops
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
    endpoint, client = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    before = len(client.calls)
    with pytest.raises(EndpointError, match=reason):
        getattr(endpoint, call)(args)
    assert len(client.calls) == before


def test_delete_only_a_deployment_without_traffic(azure: Any) -> None:
    endpoint, client = azure
    _deploy(endpoint, "blue", "2")
    _deploy(endpoint, "green", "3")
    endpoint.set_traffic({"blue": 100})
    with pytest.raises(EndpointError, match="takes 100% of traffic"):
        endpoint.delete_deployment("blue")
    endpoint.delete_deployment("green")
    assert client.of("delete") == [("green", "ctloop-rainfall")]
    target = endpoint.scoring_target()
    assert target.url.endswith("/score") and target.headers == {"Authorization": "Bearer primary-key"}


def _series(deployment: str, values: list[float], field: str = "total", **dims: str) -> dict[str, Any]:
    meta = [{"name": {"value": "deployment"}, "value": deployment}]
    meta += [{"name": {"value": k}, "value": v} for k, v in dims.items()]
    return {
        "metadatavalues": meta,
        "data": [{"timeStamp": f"2026-01-01T00:0{i}:00Z", field: v} for i, v in enumerate(values)],
    }


def test_metrics_from_azure_monitor_responses(azure: Any) -> None:
    endpoint, _ = azure
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
    queries: list[tuple[str, dict[str, str]]] = []

    def query(resource: str, params: dict[str, str]) -> dict[str, Any]:
        queries.append((resource, params))
        return requests if params["metricnames"] == "RequestsPerMinute" else latency

    endpoint.metrics_query = query
    metrics = endpoint.metrics(since=1_767_225_600.0)
    assert queries[0][0] == f"{ARM}/onlineEndpoints/ctloop-rainfall"
    assert queries[0][1]["$filter"] == "deployment eq '*' and statusCodeClass eq '*'"
    assert queries[0][1]["timespan"].startswith("2026-01-01T00:00:00Z/")
    assert queries[1][1]["metricnames"] == "RequestLatency_P50,RequestLatency_P95,RequestLatency_P99"
    blue, green = metrics["blue"], metrics["green"]
    assert (blue.requests, blue.errors, blue.client_errors) == (126, 1, 5)
    assert (blue.p50_ms, blue.p95_ms, blue.p99_ms) == (7, None, 90)
    assert (green.requests, green.errors, green.p99_ms) == (19, 0, 12)
    assert blue.primary_metric is None  # labels never reach Azure Monitor
    assert parse_metrics({}, {}) == {}


def test_an_interrupted_azure_rollout_rolls_back_through_the_sdk(azure: Any, tmp_path: Path) -> None:
    endpoint, client = azure
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
    assert client.of("endpoint")[-1].traffic == {"blue": 100, "green": 0}
    assert client.of("delete") == [("green", "ctloop-rainfall")]
    assert set(endpoint.deployments()) == {"blue"}
    assert registry.versions["3"].tags["ctloop.rejected_reason"] == "alert fired"


def test_the_stack_endpoint_name_wins_over_endpoint_yml(
    repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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

    client = FakeMLClient()
    policy = load_rollout_policy(repo_root / "policies")
    endpoint = AzureEndpoint(client, policy, repo_root / "pipelines" / "endpoints", name="ctloop-prod-ab12cd")
    endpoint.ensure_endpoint()
    assert set(client.online_endpoints.stored) == {"ctloop-prod-ab12cd"}
