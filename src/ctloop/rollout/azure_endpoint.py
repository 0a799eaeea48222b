"""The Azure implementation of the Endpoint: a managed online endpoint through azure-ai-ml.

Deployments are the YAML files in ``pipelines/endpoints/`` loaded with ``load_online_deployment``,
with the model set to ``azureml:<name>:<version>`` and the serving policy passed as environment
variables; traffic and mirrored traffic are ``endpoint.traffic`` / ``endpoint.mirror_traffic``
written with ``online_endpoints.begin_create_or_update``. Metrics come from Azure Monitor
(``RequestsPerMinute`` by deployment and status class, ``RequestLatency_P50/P95/P99`` by deployment)
through a query callable that returns the Azure Monitor REST ``metrics`` JSON, so reading is
testable offline; :func:`rest_metrics_query` is the real callable (tested over httpx's mock transport).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctloop.rollout.endpoint import (
    DeploymentInfo,
    DeploymentMetrics,
    DeploymentSpec,
    Endpoint,
    EndpointError,
    ScoringTarget,
    check_mirror,
    check_traffic,
)
from ctloop.rollout.policy import RolloutPolicy
from ctloop.rollout.specs import code_dir, deployment_file, endpoint_file, endpoint_name

MetricsQuery = Callable[[str, dict[str, str]], Mapping[str, Any]]
REQUESTS_METRIC = "RequestsPerMinute"
LATENCY_METRICS = {
    "p50_ms": "RequestLatency_P50",
    "p95_ms": "RequestLatency_P95",
    "p99_ms": "RequestLatency_P99",
}
MONITOR_API_VERSION = "2023-10-01"


def _model_version(model: Any) -> tuple[str, str]:
    """(name, version) from ``azureml:name:version`` or an ARM id ``.../models/name/versions/v``."""
    text = str(getattr(model, "id", None) or getattr(model, "name", None) or model or "")
    if "/models/" in text and "/versions/" in text:
        tail = text.split("/models/", 1)[1].split("/")
        return tail[0], tail[2] if len(tail) > 2 else ""
    parts = text.removeprefix("azureml:").split(":")
    return parts[0], parts[1] if len(parts) > 1 else ""


def _timespan(since: float, until: float) -> str:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return f"{datetime.fromtimestamp(since, UTC):{fmt}}/{datetime.fromtimestamp(until, UTC):{fmt}}"


def _dimension(series: Mapping[str, Any], name: str) -> str | None:
    for item in series.get("metadatavalues") or []:
        key = item.get("name", {})
        key = key.get("value") if isinstance(key, dict) else key
        if str(key).lower() == name.lower():
            return str(item.get("value"))
    return None


def _points(series: Mapping[str, Any], field: str) -> list[float]:
    return [float(p[field]) for p in series.get("data") or [] if p.get(field) is not None]


def parse_metrics(
    requests_json: Mapping[str, Any], latency_json: Mapping[str, Any]
) -> dict[str, DeploymentMetrics]:
    """Per-deployment metrics from two Azure Monitor responses.

    Requests: the per-minute totals (``total``, else ``average``) summed over the window; errors
    are the ``5xx`` status class. Latency: the worst per-minute value of each percentile (the
    service publishes per-minute percentiles, which cannot be merged exactly).
    """
    counts: dict[str, dict[str, float]] = {}
    for metric in requests_json.get("value") or []:
        for series in metric.get("timeseries") or []:
            dep = _dimension(series, "deployment") or "?"
            cls = (_dimension(series, "statusCodeClass") or "").lower()
            values = _points(series, "total") or _points(series, "average")
            c = counts.setdefault(dep, {"requests": 0.0, "errors": 0.0, "client": 0.0})
            c["requests"] += sum(values)
            if cls.startswith("5"):
                c["errors"] += sum(values)
            elif cls.startswith("4"):
                c["client"] += sum(values)
    latency: dict[str, dict[str, float]] = {}
    names = {v: k for k, v in LATENCY_METRICS.items()}
    for metric in latency_json.get("value") or []:
        name = metric.get("name", {})
        field = names.get(name.get("value") if isinstance(name, dict) else name)
        if field is None:
            continue
        for series in metric.get("timeseries") or []:
            dep = _dimension(series, "deployment") or "?"
            values = _points(series, "average") or _points(series, "maximum")
            if values:
                latency.setdefault(dep, {})[field] = max(values)
    out = {}
    for dep in sorted(set(counts) | set(latency)):
        c = counts.get(dep, {"requests": 0.0, "errors": 0.0, "client": 0.0})
        lat = latency.get(dep, {})
        out[dep] = DeploymentMetrics(
            deployment=dep,
            requests=round(c["requests"]),
            errors=round(c["errors"]),
            client_errors=round(c["client"]),
            p50_ms=lat.get("p50_ms"),
            p95_ms=lat.get("p95_ms"),
            p99_ms=lat.get("p99_ms"),
        )
    return out


def rest_metrics_query(credential: Any, http: Any = None) -> MetricsQuery:
    """A MetricsQuery on the Azure Monitor REST API (``{resource}/providers/Microsoft.Insights/metrics``).

    ``http`` is an ``httpx.Client`` (a fresh one per query when None)."""
    import httpx

    def query(resource_id: str, params: dict[str, str]) -> Mapping[str, Any]:
        token = credential.get_token("https://management.azure.com/.default").token
        url = f"https://management.azure.com{resource_id}/providers/Microsoft.Insights/metrics"
        request = {
            "params": {**params, "api-version": MONITOR_API_VERSION},
            "headers": {"Authorization": f"Bearer {token}"},
            "timeout": 60,
        }
        resp = http.get(url, **request) if http is not None else httpx.get(url, **request)
        resp.raise_for_status()
        return resp.json()

    return query


class AzureEndpoint(Endpoint):
    """A managed online endpoint; every call goes through an ``azure.ai.ml.MLClient``."""

    def __init__(
        self,
        ml_client: Any,
        policy: RolloutPolicy,
        endpoints_dir: str | Path,
        metrics_query: MetricsQuery | None = None,
        name: str | None = None,
    ) -> None:
        self.ml_client = ml_client
        self.policy = policy
        self.endpoints_dir = Path(endpoints_dir)
        # The stack's endpoint (names are unique per region, so infra derives one per stack);
        # endpoint.yml's name is the fallback.
        self.name = name or endpoint_name(self.endpoints_dir)
        self.metrics_query = metrics_query

    def _get(self) -> Any:
        return self.ml_client.online_endpoints.get(name=self.name)

    def ensure_endpoint(self) -> Any:
        """Create the endpoint from ``endpoint.yml`` unless it exists; return it."""
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self._get()
        except ResourceNotFoundError:
            from azure.ai.ml import load_online_endpoint

            endpoint = load_online_endpoint(str(endpoint_file(self.endpoints_dir)))
            endpoint.name = self.name
            return self.ml_client.online_endpoints.begin_create_or_update(endpoint).result()

    def deployments(self) -> dict[str, DeploymentInfo]:
        out = {}
        for d in self.ml_client.online_deployments.list(endpoint_name=self.name):
            name, version = _model_version(d.model)
            state = getattr(d, "provisioning_state", None)
            state = str(getattr(state, "value", state) or "")  # azure-ai-ml returns an enum
            out[d.name] = DeploymentInfo(
                name=d.name,
                model_name=name,
                model_version=(d.environment_variables or {}).get("CTLOOP_MODEL_VERSION", version),
                healthy=state.lower() == "succeeded",
                detail={
                    "provisioning_state": state or None,
                    "instance_type": d.instance_type,
                },
            )
        return out

    def traffic(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self._get().traffic or {}).items()}

    def mirror(self) -> dict[str, int]:
        return {k: int(v) for k, v in (self._get().mirror_traffic or {}).items() if v}

    def create_or_update_deployment(self, spec: DeploymentSpec) -> DeploymentInfo:
        from azure.ai.ml import load_online_deployment

        self.ensure_endpoint()
        path = deployment_file(self.endpoints_dir, spec.name)
        deployment = load_online_deployment(str(path))
        if deployment.code_configuration is not None:
            deployment.code_configuration.code = str(code_dir(path))
        deployment.endpoint_name = self.name
        deployment.model = f"azureml:{spec.model_name}:{spec.model_version}"
        deployment.environment_variables = {
            **(deployment.environment_variables or {}),
            "CTLOOP_MODEL_VERSION": str(spec.model_version),
            "CTLOOP_DEPLOYMENT": spec.name,
            "CTLOOP_ENDPOINT": self.name,
            "CTLOOP_SERVING_POLICY": json.dumps(self.policy.serving, sort_keys=True),
        }
        if deployment.request_settings is not None:
            deployment.request_settings.request_timeout_ms = int(self.policy.serving["scoring_timeout_ms"])
        self.ml_client.online_deployments.begin_create_or_update(deployment).result()
        return DeploymentInfo(spec.name, spec.model_name, str(spec.model_version), True)

    def set_traffic(self, weights: Mapping[str, int]) -> None:
        endpoint = self._get()
        names = set(self.deployments())
        checked = check_traffic(weights, names)
        endpoint.traffic = {name: checked.get(name, 0) for name in sorted(names)}
        mirror = {
            k: v for k, v in (endpoint.mirror_traffic or {}).items() if v and not endpoint.traffic.get(k)
        }
        endpoint.mirror_traffic = mirror
        self.ml_client.online_endpoints.begin_create_or_update(endpoint).result()

    def set_mirror(self, mirror: Mapping[str, int]) -> None:
        endpoint = self._get()
        checked = check_mirror(mirror, endpoint.traffic or {}, set(self.deployments()))
        endpoint.mirror_traffic = checked
        self.ml_client.online_endpoints.begin_create_or_update(endpoint).result()

    def delete_deployment(self, name: str) -> None:
        if self.traffic().get(name):
            raise EndpointError(
                f"deployment '{name}' takes {self.traffic()[name]}% of traffic: move it first"
            )
        if name in self.deployments():
            self.ml_client.online_deployments.begin_delete(name=name, endpoint_name=self.name).result()

    def scoring_target(self) -> ScoringTarget:
        endpoint = self._get()
        keys = self.ml_client.online_endpoints.get_keys(name=self.name)
        return ScoringTarget(
            url=endpoint.scoring_uri, headers={"Authorization": f"Bearer {keys.primary_key}"}
        )

    def metrics(self, since: float, primary_metric: str | None = None) -> dict[str, DeploymentMetrics]:
        if self.metrics_query is None:
            raise EndpointError("no Azure Monitor query configured for this endpoint")
        resource = self._get().id
        timespan = _timespan(since, datetime.now(UTC).timestamp())
        common = {"timespan": timespan, "interval": "PT1M"}
        requests = self.metrics_query(
            resource,
            {
                **common,
                "metricnames": REQUESTS_METRIC,
                "aggregation": "Total,Average",
                "$filter": "deployment eq '*' and statusCodeClass eq '*'",
            },
        )
        latency = self.metrics_query(
            resource,
            {
                **common,
                "metricnames": ",".join(LATENCY_METRICS.values()),
                "aggregation": "Average",
                "$filter": "deployment eq '*'",
            },
        )
        return parse_metrics(requests, latency)


def configured_endpoint_name(config_dir: str | Path = ".azureml") -> str | None:
    """The stack's endpoint name: ``$AZUREML_ENDPOINT_NAME``, else ``endpoint_name`` in
    ``.azureml/config.json`` (written from the Pulumi stack outputs), else None."""
    from ctloop.azure.workspace import AzureSetupError, read_config

    explicit = os.environ.get("AZUREML_ENDPOINT_NAME", "").strip()
    if explicit:
        return explicit
    path = Path(config_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        return read_config(path).get("endpoint_name") or None
    except AzureSetupError:
        return None


def ml_client_from_environment(root: str | Path | None = None, stack: str | None = None) -> Any:
    """An MLClient for the workspace this runs against: inside an Azure ML job the job's own
    workspace and managed identity (``AZUREML_ARM_*``, ``DEFAULT_IDENTITY_CLIENT_ID``), else the
    stack's ``.azureml/config.json`` with DefaultAzureCredential (see ``ctloop.azure.workspace``)."""
    from ctloop.azure.workspace import ml_client

    return ml_client(Path(root or Path.cwd()), stack or os.environ.get("CTLOOP_STACK", "dev"))


def open_azure_endpoint(policy: RolloutPolicy, endpoints_dir: str | Path) -> AzureEndpoint:
    """The stack's managed online endpoint, through an MLClient from the environment."""
    client = ml_client_from_environment()
    return AzureEndpoint(
        client, policy, endpoints_dir, rest_metrics_query(client._credential), name=configured_endpoint_name()
    )
