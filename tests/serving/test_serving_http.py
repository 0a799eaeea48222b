"""The production scoring script under azmlinfsrv, over real HTTP: directly and through the router."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml
from serving_helpers import REPO, malformed_bodies, row_payload

from ctloop import cli
from ctloop.rollout import procs
from ctloop.rollout.endpoint import DEPLOYMENT_HEADER, DeploymentSpec
from ctloop.rollout.local import LocalEndpoint
from ctloop.rollout.policy import load_rollout_policy
from ctloop.serving.collector import read_events


@dataclass
class Served:
    endpoint: LocalEndpoint
    direct: str
    router: str
    pid: int
    log_dir: Path
    rows: Any


@pytest.fixture(scope="module")
def served(no_leaks: Path, built: dict[str, Any]) -> Iterator[Served]:
    """The repository's endpoint specs and policy, one deployment (blue, 100%) of a real model."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CTLOOP_HOME", str(no_leaks / "home"))
    policy = load_rollout_policy(REPO / "policies")
    endpoint = LocalEndpoint(policy, REPO / "pipelines" / "endpoints")
    try:
        info = endpoint.create_or_update_deployment(
            DeploymentSpec("blue", "rainfall", "1", built["models"]["v1"])
        )
        endpoint.set_traffic({"blue": 100})
        yield Served(
            endpoint,
            f"http://127.0.0.1:{info.detail['port']}/score",
            endpoint.scoring_target().url,
            int(info.detail["pid"]),
            Path(info.detail["log_dir"]),
            built["rows"],
        )
    finally:
        endpoint.down()
        mp.undo()


def _good(served: Served, client: httpx.Client, url: str, **headers: str) -> httpx.Response:
    resp = client.post(url, json=row_payload(served.rows, 2), headers=headers)
    assert resp.status_code == 200, resp.text
    return resp


def test_a_good_request_is_scored_directly_and_through_the_router(served: Served) -> None:
    with httpx.Client(timeout=30) as client:
        direct = _good(served, client, served.direct, **{"x-request-id": "abc-1"})
        routed = _good(served, client, served.router, **{"x-ms-client-request-id": "client-7"})
    assert direct.json()["request_id"] == "abc-1" and direct.headers["x-request-id"] == "abc-1"
    assert direct.json()["model_version"] == "1" and direct.json()["deployment"] == "blue"
    assert routed.headers[DEPLOYMENT_HEADER] == "blue" and routed.json()["request_id"] == "client-7"
    assert routed.json()["probabilities"] == direct.json()["probabilities"]
    with httpx.Client(timeout=30) as client:
        anonymous = _good(served, client, served.direct)
    assert anonymous.json()["request_id"] == anonymous.headers["x-request-id"]  # the server's own id
    events = read_events(served.log_dir, "model_inputs")
    assert {"abc-1", "client-7"} <= {e["correlationid"] for e in events}


@pytest.mark.parametrize("path", ["direct", "router"])
def test_a_thousand_malformed_requests_get_4xx_and_the_server_stays_up(served: Served, path: str) -> None:
    url = getattr(served, path)
    policy = served.endpoint.policy.serving
    bodies = malformed_bodies(served.rows, 1000, policy["max_payload_bytes"], policy["max_rows"])
    statuses: Counter[int] = Counter()
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            statuses[
                client.post(url, content=body, headers={"content-type": "application/json"}).status_code
            ] += 1
        statuses[client.get(url).status_code] += 1  # GET is not scoring
        statuses[client.put(url, content=b"{}").status_code] += 1
        statuses[client.head(url).status_code] += 1
        assert sum(statuses.values()) == 1003
        assert all(400 <= code < 500 for code in statuses), statuses
        assert statuses[413] >= 5  # oversized bodies and too many rows
        _good(served, client, url)  # still serving
    assert psutil.pid_exists(served.pid) and served.endpoint.deployments()["blue"].healthy


def test_router_metrics_count_client_errors_not_errors(served: Served) -> None:
    metrics = served.endpoint.metrics(0.0, "roc_auc")["blue"]
    assert metrics.errors == 0
    assert metrics.client_errors >= 1000
    assert metrics.p50_ms is not None and metrics.p99_ms >= metrics.p50_ms


def test_rejected_requests_are_logged_with_their_reason(served: Served) -> None:
    rejected = [e for e in read_events(served.log_dir, "model_inputs") if e["statuscode"] != 200]
    assert len(rejected) >= 2000
    assert all(e["reason"] and e["data"] == [] for e in rejected)
    reasons = " | ".join(e["reason"] for e in rejected)
    for fragment in (
        "invalid JSON",
        "missing feature",
        "unknown feature",
        "expected number",
        "empty body",
        "exceed",
    ):
        assert fragment in reasons


def test_a_deployment_listens_on_loopback_with_the_workers_its_yaml_asks_for(served: Served) -> None:
    port = int(served.direct.split(":")[2].split("/")[0])
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert listening[3] == f"127.0.0.1:{port}"  # deployment.bind_host, not 0.0.0.0
    spec = yaml.safe_load((REPO / "pipelines" / "endpoints" / "blue.yml").read_text())
    workers = int(spec["instance_count"]) * int(spec["environment_variables"]["WORKER_COUNT"])
    assert len(psutil.Process(served.pid).children()) == workers


def test_a_huge_chunked_body_sent_straight_to_a_deployment_is_refused_unread(served: Served) -> None:
    limit = int(served.endpoint.policy.serving["max_payload_bytes"])
    port = int(served.direct.split(":")[2].split("/")[0])
    head = (
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # announced as 1 GiB and sent in a steady stream (as an abusive client would); the answer
        # comes after about the limit, long before the rest, and the sender is cut off
        sock.sendall(head + f"{2**30:x}\r\n".encode())

        sent = [0]

        def send() -> None:
            with contextlib.suppress(OSError):
                for _ in range(2**30 // 65536):
                    sock.sendall(b" " * 65536)
                    sent[0] += 65536

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = sock.recv(65536)
        sent_when_answered = sent[0]
        with contextlib.suppress(OSError):  # the deployment may have reset the connection already
            sock.shutdown(socket.SHUT_RDWR)
    sender.join(timeout=60)
    assert not sender.is_alive()
    assert sent_when_answered < 64 * limit  # a few MiB in flight at most, nowhere near 1 GiB
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    with httpx.Client(timeout=30) as client:
        _good(served, client, served.direct)  # the worker is fine


def test_a_dead_deployment_blocks_rollouts_and_endpoint_up_revives_it(
    served: Served, built: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--policies", str(REPO / "policies"), "--endpoints", str(REPO / "pipelines" / "endpoints")]
    os.killpg(served.pid, signal.SIGKILL)
    assert procs.wait_until(lambda: not served.endpoint.deployments()["blue"].healthy, 30)
    assert cli.main(["endpoint", "status", *common]) == 0
    assert "DOWN" in capsys.readouterr().out
    start = [
        "rollout",
        "start",
        "--model-name",
        "rainfall",
        "--version",
        "2",
        "--model-dir",
        str(built["models"]["v2"]),
    ]
    assert cli.main([*start, "--eval", str(built["eval"]), *common]) == 1
    assert "the live deployment blue is not running" in capsys.readouterr().err
    assert cli.main(["endpoint", "up", *common]) == 0  # a fresh CLI finds the state and restarts blue
    assert "deployment blue: was not running; restarted" in capsys.readouterr().out
    assert served.endpoint.traffic() == {"blue": 100} and served.endpoint.deployments()["blue"].healthy
    with httpx.Client(timeout=30) as client:
        _good(served, client, served.router)
