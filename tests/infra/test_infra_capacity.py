"""Preflight capacity checks through azure-core's real pipeline (bearer auth, retries, requests
transport); only the wire is replaced: a requests adapter answers with recorded ARM responses."""

from __future__ import annotations

import io
import json
from pathlib import Path
from unittest.mock import create_autospec
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import urllib3
from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.pipeline.transport import RequestsTransport
from azure.identity import DefaultAzureCredential
from infra_mocks import SUBSCRIPTION_ID

from infra import capacity
from infra.config import load_stack_config

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "arm"


class RecordedArm(requests.adapters.BaseAdapter):
    """Answers GETs by the last path segment from the recorded files; records every request."""

    def __init__(self, answers: dict[str, tuple[int, dict]]) -> None:
        super().__init__()
        self.answers = answers
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):  # type: ignore[override]
        self.requests.append(request)
        status, body = self.answers.get(urlparse(request.url).path.rsplit("/", 1)[-1], (404, {"error": {}}))
        data = json.dumps(body).encode()
        response = requests.Response()
        response.status_code = status
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers={"Content-Type": "application/json"},
            status=status,
            preload_content=False,
        )
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        return


def _recorded(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def client_with(answers: dict[str, tuple[int, dict]]) -> tuple[capacity.ArmClient, RecordedArm]:
    adapter = RecordedArm(answers)
    session = requests.Session()
    session.mount("https://", adapter)
    credential = create_autospec(DefaultAzureCredential, instance=True)
    credential.get_token.return_value = AccessToken("token-1", 4102444800)
    credential.get_token_info.return_value = AccessTokenInfo("token-1", 4102444800)
    return capacity.ArmClient(credential, transport=RequestsTransport(session=session)), adapter


RECORDED = {"vmSizes": (200, _recorded("vmSizes.json")), "usages": (200, _recorded("usages.json"))}


def test_prod_sizes_exist_and_fit_the_quota_and_requests_are_authenticated():
    cfg = load_stack_config("prod", ROOT)
    client, wire = client_with(RECORDED)
    checks = capacity.run_checks(cfg, SUBSCRIPTION_ID, client)
    assert all(c.ok for c in checks), checks
    assert {c.what for c in checks} >= {
        "gpu cluster gpu-cluster",
        "quota Standard NCASv3_T4 Family Cluster Dedicated vCPUs",
        "quota Total Cluster Dedicated Regional vCPUs",
    }
    gpu_quota = next(c for c in checks if c.what == "quota Standard NCASv3_T4 Family Cluster Dedicated vCPUs")
    assert gpu_quota.detail == "128 vCPUs needed, 144 free"  # the workspace-level usage is not the limit
    first = wire.requests[0]
    assert first.headers["Authorization"] == "Bearer token-1"
    url = urlparse(first.url)
    assert url.path == (
        f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.MachineLearningServices/locations/westeurope/vmSizes"
    )
    assert parse_qs(url.query)["api-version"] == [capacity.API_VERSION]


def test_quota_shortfall_names_the_family_and_what_to_do():
    cfg = load_stack_config("prod", ROOT)
    usages = _recorded("usages.json")
    for u in usages["value"]:
        if u["name"]["value"] == "Standard NCASv3_T4 Family Cluster Dedicated vCPUs":
            u["limit"] = 64
    client, _ = client_with({**RECORDED, "usages": (200, usages)})
    failed = [c for c in capacity.run_checks(cfg, SUBSCRIPTION_ID, client) if not c.ok]
    assert [c.what for c in failed] == ["quota Standard NCASv3_T4 Family Cluster Dedicated vCPUs"]
    assert "may use 128 vCPUs but 48 are free in westeurope: request more" in failed[0].detail


def test_a_size_the_region_does_not_offer_fails_that_cluster_only():
    cfg = load_stack_config("dev", ROOT)
    sizes = {"value": [s for s in _recorded("vmSizes.json")["value"] if s["name"] != "Standard_NC4as_T4_v3"]}
    client, _ = client_with({**RECORDED, "vmSizes": (200, sizes)})
    failed = [c for c in capacity.run_checks(cfg, SUBSCRIPTION_ID, client) if not c.ok]
    assert [(c.what, c.detail) for c in failed] == [
        ("gpu cluster gpu-cluster", "Standard_NC4as_T4_v3 is not offered for AmlCompute in swedencentral")
    ]


def test_low_priority_quota_is_checked_against_the_low_priority_totals():
    cfg = load_stack_config("dev", ROOT)  # both clusters LowPriority
    client, _ = client_with(RECORDED)
    checks = {c.what: c for c in capacity.run_checks(cfg, SUBSCRIPTION_ID, client)}
    total = checks["quota Total Cluster LowPriority Regional vCPUs"]
    assert total.ok and total.detail == "16 vCPUs needed, 82 free"  # (4 + 4) vCPUs x 2 nodes each


def test_an_error_answer_is_one_finding_with_the_service_message():
    cfg = load_stack_config("dev", ROOT)
    denied = (403, {"error": {"code": "AuthorizationFailed", "message": "no read access to usages"}})
    client, _ = client_with({**RECORDED, "vmSizes": denied})
    assert capacity.run_checks(cfg, SUBSCRIPTION_ID, client) == [
        capacity.Check(False, "Azure ML vmSizes", "HTTP 403: no read access to usages")
    ]


def test_a_running_clusters_scale_change_is_a_warning_not_a_recreate():
    cfg = load_stack_config("prod", ROOT)  # gpu max 8, idle 900 s; the running cluster has max 4
    client, _ = client_with({**RECORDED, "gpu-cluster": (200, _recorded("compute-gpu-running.json"))})
    checks = {
        c.what: c for c in capacity.run_checks(cfg, SUBSCRIPTION_ID, client, workspace="mlw-ctloop-prod")
    }
    gpu = checks["scale of gpu-cluster"]
    assert gpu.ok and gpu.warning
    assert gpu.detail.startswith("maxNodeCount 4 -> 8 while 2 node(s) run: Azure ML applies the new settings")
    assert checks["scale of cpu-cluster"] == capacity.Check(
        True, "scale of cpu-cluster", "cluster not created yet"
    )


@pytest.mark.parametrize(
    ("family", "priority", "usage"),
    [
        ("standardNCASv3_T4Family", "Dedicated", "Standard NCASv3_T4 Family Cluster Dedicated vCPUs"),
        ("standardDSv2Family", "LowPriority", "Standard DSv2 Family Cluster LowPriority vCPUs"),
    ],
)
def test_usage_names_follow_the_api(family, priority, usage):
    assert capacity.usage_name(family, priority) == usage
