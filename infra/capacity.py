"""Can the stack's clusters exist and grow in its region? VM size availability and vCPU quota from the
Azure ML REST API (``locations/{region}/vmSizes`` and ``locations/{region}/usages``), and the scale
settings of clusters that already run.

Scale changes of a running cluster: Azure ML may ignore new ``maxNodeCount`` / idle-time settings
until the cluster has scaled to zero (Azure/bicep issue 17617). ctloop warns and does not recreate:
recreating a cluster deletes its system identity (and with it the identity's role assignments) and
kills the jobs running on it; the new settings take effect by themselves once the cluster is idle.

Uses azure-core with the caller's credential; the transport is injectable, so tests replay recorded
answers shaped like the REST API's published examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.pipeline import policies
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest

from .config import ClusterConfig, StackConfig

ARM = "https://management.azure.com"
API_VERSION = "2024-04-01"
SCOPE = f"{ARM}/.default"
TOTALS = {
    "Dedicated": "Total Cluster Dedicated Regional vCPUs",
    "LowPriority": "Total Cluster LowPriority Regional vCPUs",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str
    warning: bool = False


class ArmClient:
    """GET JSON from Azure Resource Manager with a bearer token (retries and logging from azure-core)."""

    def __init__(self, credential: TokenCredential, transport: HttpTransport | None = None) -> None:
        pipeline_policies = [
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker="ctloop-preflight"),
            policies.RetryPolicy(),
            policies.BearerTokenCredentialPolicy(credential, SCOPE),
            policies.NetworkTraceLoggingPolicy(),
        ]
        self._client = PipelineClient(ARM, policies=pipeline_policies, transport=transport)

    def get(self, path: str) -> tuple[int, Any]:
        response = self._client.send_request(
            HttpRequest("GET", f"{ARM}{path}", params={"api-version": API_VERSION})
        )
        body = response.json() if response.content else None
        return response.status_code, body


def usage_name(family: str, priority: str) -> str:
    """The usage that limits a VM family: ``standardNCASv3_T4Family`` ->
    ``Standard NCASv3_T4 Family Cluster Dedicated vCPUs``."""
    core = re.sub(r"^standard", "", family, flags=re.IGNORECASE)
    core = re.sub(r"family$", "", core, flags=re.IGNORECASE)
    return f"Standard {core} Family Cluster {priority} vCPUs"


def _remaining(usages: Iterable[Mapping[str, Any]], name: str) -> int | None:
    """Free vCPUs under the subscription-level usage ``name`` (None: unknown; -1 limit: unlimited)."""
    for u in usages:
        if u.get("name", {}).get("value", "").lower() == name.lower() and "/workspace" not in u.get(
            "type", ""
        ):
            limit = int(u.get("limit", 0))
            return 1 << 30 if limit < 0 else limit - int(u.get("currentValue", 0))
    return None


def check_sizes_and_quota(
    cfg: StackConfig, sizes: Iterable[Mapping[str, Any]], usages: Iterable[Mapping[str, Any]]
) -> list[Check]:
    """Each cluster's VM size is offered for AmlCompute in the region, and its max nodes fit the quota."""
    by_name = {s["name"].lower(): s for s in sizes}
    usages = list(usages)
    checks: list[Check] = []
    needed: dict[str, int] = {}  # usage name -> vCPUs the stack's clusters may use at max scale
    for cluster in cfg.clusters:
        what = f"{cluster.kind} cluster {cluster.name}"
        size = by_name.get(cluster.vm_size.lower())
        if size is None or "AmlCompute" not in size.get("supportedComputeTypes", ["AmlCompute"]):
            checks.append(
                Check(False, what, f"{cluster.vm_size} is not offered for AmlCompute in {cfg.location}")
            )
            continue
        if cluster.priority == "LowPriority" and not size.get("lowPriorityCapable", True):
            checks.append(
                Check(False, what, f"{cluster.vm_size} has no low-priority capacity in {cfg.location}")
            )
            continue
        vcpus = int(size["vCPUs"]) * cluster.max_nodes
        for name in (usage_name(size["family"], cluster.priority), TOTALS[cluster.priority]):
            needed[name] = needed.get(name, 0) + vcpus
        checks.append(
            Check(
                True, what, f"{cluster.vm_size} available; up to {vcpus} vCPUs at {cluster.max_nodes} nodes"
            )
        )
    for name, vcpus in needed.items():
        free = _remaining(usages, name)
        if free is None:
            checks.append(
                Check(
                    False, f"quota {name}", f"no such usage in {cfg.location}: the size family has no quota"
                )
            )
        elif free < vcpus:
            checks.append(
                Check(
                    False,
                    f"quota {name}",
                    f"the clusters may use {vcpus} vCPUs but {free} are free in {cfg.location}: request more "
                    "(Azure ML studio > Quota, or a support request) or lower max_nodes",
                )
            )
        else:
            checks.append(Check(True, f"quota {name}", f"{vcpus} vCPUs needed, {min(free, 1 << 30)} free"))
    return checks


def check_running_scale(cluster: ClusterConfig, compute: Mapping[str, Any] | None) -> Check:
    """Warn when a running cluster's scale settings are about to change (applied only after scale-to-zero)."""
    what = f"scale of {cluster.name}"
    if compute is None:
        return Check(True, what, "cluster not created yet")
    inner = compute.get("properties", {}).get("properties", {}) or {}
    current = inner.get("scaleSettings", {}) or {}
    running = int(inner.get("currentNodeCount") or 0)
    wanted = {"maxNodeCount": cluster.max_nodes, "nodeIdleTimeBeforeScaleDown": cluster.idle_time}
    changes = [f"{k} {current.get(k)} -> {v}" for k, v in wanted.items() if str(current.get(k)) != str(v)]
    if changes and running > 0:
        return Check(
            True,
            what,
            f"{', '.join(changes)} while {running} node(s) run: Azure ML applies the new settings once the "
            "cluster has scaled to zero (not recreated: that would drop its identity's roles and kill jobs)",
            warning=True,
        )
    return Check(True, what, ", ".join(changes) if changes else "unchanged")


def run_checks(
    cfg: StackConfig,
    subscription_id: str,
    client: ArmClient,
    workspace: str | None = None,
) -> list[Check]:
    """All capacity checks for one stack (``workspace``: look at existing clusters there too)."""
    provider = "providers/Microsoft.MachineLearningServices"
    base = f"/subscriptions/{subscription_id}/{provider}/locations/{cfg.location}"
    checks: list[Check] = []
    answers = {}
    for key in ("vmSizes", "usages"):
        status, body = client.get(f"{base}/{key}")
        if status != 200:
            error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            return [Check(False, f"Azure ML {key}", f"HTTP {status}: {error.get('message', 'no answer')}")]
        answers[key] = body.get("value", [])
    checks += check_sizes_and_quota(cfg, answers["vmSizes"], answers["usages"])
    if workspace:
        ws = (
            f"/subscriptions/{subscription_id}/resourceGroups/{cfg.resource_group_name}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{workspace}"
        )
        for cluster in cfg.clusters:
            status, body = client.get(f"{ws}/computes/{cluster.name}")
            checks.append(check_running_scale(cluster, body if status == 200 else None))
    return checks
