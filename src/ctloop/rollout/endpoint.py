"""The Endpoint interface the rollout controller drives, with its value types and traffic rules.

Two implementations: ``ctloop.rollout.local.LocalEndpoint`` (azmlinfsrv processes behind a local
router) and ``ctloop.rollout.azure_endpoint.AzureEndpoint`` (an Azure ML managed online endpoint).
Deployment names are slots (``blue``/``green``); traffic weights are integer percentages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Request header that sends a request to one deployment whatever the weights (Azure ML's name;
#: the local router honours it too). Responses carry it to say which deployment answered.
DEPLOYMENT_HEADER = "azureml-model-deployment"
#: Request header naming the client (a user id): the local router assigns a client to a deployment
#: by a hash of it, so each client keeps its variant; without it each request is drawn at random.
CLIENT_HEADER = "x-ctloop-client-id"
#: Request header marking a replayed request whose body carries ``labels`` (router metrics).
LABELLED_HEADER = "x-ctloop-labelled"
SLOTS = ("blue", "green")
#: Azure ML's limit on mirrored traffic.
MAX_MIRROR_PERCENT = 50


class EndpointError(RuntimeError):
    """An endpoint operation that failed or was refused; the message says which and why."""


@dataclass(frozen=True)
class DeploymentSpec:
    """What to serve in one slot: a model folder (local) and its registry identity."""

    name: str
    model_name: str
    model_version: str
    model_dir: Path | None = None


@dataclass(frozen=True)
class DeploymentInfo:
    name: str
    model_name: str
    model_version: str
    healthy: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploymentMetrics:
    """Server-side measurements of one deployment over a window (mirrored requests included)."""

    deployment: str
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    mirrored: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    labelled_rows: int = 0
    primary_metric: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["error_rate"] = self.error_rate
        return out


@dataclass(frozen=True)
class DeploymentResources:
    """A deployment's processes as sampled now: alive, resident memory (MiB), worker restarts."""

    deployment: str
    alive: bool
    rss_mb: float | None = None
    restarts: int = 0


@dataclass(frozen=True)
class ScoringTarget:
    """Where and how to send scoring requests (URL and auth headers)."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


def check_traffic(weights: Mapping[str, int], deployments: set[str]) -> dict[str, int]:
    """Validate live traffic: known deployments, integer 0..100, summing to 100 (or all zero)."""
    out: dict[str, int] = {}
    for name, weight in weights.items():
        if name not in deployments:
            raise EndpointError(
                f"traffic: unknown deployment '{name}' (have: {sorted(deployments) or 'none'})"
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise EndpointError(f"traffic: {name}={weight!r}: weight must be an integer from 0 to 100")
        out[name] = weight
    total = sum(out.values())
    if total not in (0, 100):
        raise EndpointError(f"traffic: weights must sum to 100, got {total} ({out})")
    return out


def check_mirror(
    mirror: Mapping[str, int], traffic: Mapping[str, int], deployments: set[str]
) -> dict[str, int]:
    """Validate mirrored traffic: one known deployment with no live traffic, 1..50 percent."""
    out = {k: v for k, v in mirror.items() if v}
    if len(out) > 1:
        raise EndpointError(f"mirror: at most one deployment can receive mirrored traffic, got {out}")
    for name, pct in out.items():
        if name not in deployments:
            raise EndpointError(f"mirror: unknown deployment '{name}'")
        if isinstance(pct, bool) or not isinstance(pct, int) or not 1 <= pct <= MAX_MIRROR_PERCENT:
            raise EndpointError(f"mirror: {name}={pct!r}: must be an integer from 1 to {MAX_MIRROR_PERCENT}")
        if traffic.get(name, 0):
            raise EndpointError(f"mirror: '{name}' takes live traffic; mirror only to a deployment at 0%")
    return out


def parse_split(args: list[str]) -> dict[str, int]:
    """``["blue=90", "green=10"]`` -> ``{"blue": 90, "green": 10}`` (EndpointError on bad input)."""
    out: dict[str, int] = {}
    for arg in args:
        name, sep, value = arg.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise EndpointError(f"split: '{arg}': expected NAME=PERCENT, e.g. blue=90")
        out[name.strip()] = int(value)
    return out


class Endpoint(ABC):
    """One online endpoint with named deployments, live and mirrored traffic, and metrics."""

    name: str

    @abstractmethod
    def deployments(self) -> dict[str, DeploymentInfo]:
        """The deployments that exist now."""

    @abstractmethod
    def traffic(self) -> dict[str, int]:
        """Live traffic weights (percent)."""

    @abstractmethod
    def mirror(self) -> dict[str, int]:
        """Mirrored traffic (percent), at most one deployment."""

    @abstractmethod
    def create_or_update_deployment(self, spec: DeploymentSpec) -> DeploymentInfo:
        """Create the deployment (0% traffic) or replace its model; return when it is ready."""

    @abstractmethod
    def set_traffic(self, weights: Mapping[str, int]) -> None:
        """Set live traffic; deployments not named get 0."""

    @abstractmethod
    def set_mirror(self, mirror: Mapping[str, int]) -> None:
        """Set mirrored traffic ({} clears it)."""

    @abstractmethod
    def metrics(self, since: float, primary_metric: str | None = None) -> dict[str, DeploymentMetrics]:
        """Per-deployment measurements since ``since`` (epoch seconds)."""

    @abstractmethod
    def delete_deployment(self, name: str) -> None:
        """Delete a deployment that takes no live traffic."""

    @abstractmethod
    def scoring_target(self) -> ScoringTarget:
        """URL and headers for scoring requests."""

    def resources(self) -> dict[str, DeploymentResources]:
        """Process-level samples per deployment; {} where the platform keeps them (Azure)."""
        return {}

    def bring_up(self, port: int | None = None) -> list[str]:
        """Make the endpoint ready to serve (start what should run); lines to show the user."""
        return []

    def describe(self) -> list[str]:
        """Extra status lines (where the endpoint listens)."""
        return []

    def down(self) -> list[str]:
        """Stop everything the endpoint runs; what was stopped."""
        raise EndpointError(
            f"endpoint {self.name}: 'endpoint down' stops only a local endpoint; "
            "delete deployments with --deployment"
        )

    def fetch_model(self, model_name: str, version: str) -> Path | None:
        """A local folder of the registered version when this endpoint serves from folders, else
        None (the deployment references the registered model)."""
        return None

    def live_deployment(self) -> str | None:
        """The deployment holding the most live traffic (None when nothing serves)."""
        weights = {k: v for k, v in self.traffic().items() if v > 0}
        return max(weights, key=lambda k: (weights[k], k)) if weights else None
