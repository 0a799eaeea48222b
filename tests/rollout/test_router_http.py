"""The router process over real sockets: framing, methods, query parsing, body limits, failover,
a refused state file, a stable port, process identity across a clock step, and ``down``.

Deployments here are plain HTTP servers in the test process (the router only forwards bytes);
the router is the real ``python -m ctloop.rollout.router`` started by ``LocalEndpoint``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from psutil import _pslinux

from ctloop import cli
from ctloop.rollout import procs
from ctloop.rollout.endpoint import CLIENT_HEADER, DEPLOYMENT_HEADER
from ctloop.rollout.jsonfile import write_json
from ctloop.rollout.local import LocalEndpoint
from ctloop.rollout.policy import load_rollout_policy


class _Deployment(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(200, b"Healthy")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.peers.add(self.client_address)  # type: ignore[attr-defined]
        self._reply(200, json.dumps({"echo": len(body), "name": self.server.name}).encode())  # type: ignore[attr-defined]
        if (self.headers.get("x-request-id") or "").startswith("drop-"):
            self.close_connection = True  # closed without announcing it: the router's link goes stale


def _serve(name: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deployment)
    server.name = name  # type: ignore[attr-defined]
    server.peers = set()  # type: ignore[attr-defined]
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Routed:
    endpoint: LocalEndpoint
    port: int
    live: ThreadingHTTPServer
    state: dict[str, Any]

    def write_state(self, state: Any) -> None:
        write_json(self.endpoint.state_path, state)

    def reload(self) -> dict[str, Any]:
        return httpx.post(f"http://127.0.0.1:{self.port}/_ctloop/reload", timeout=10).json()

    def raw(self, data: bytes, read_timeout: float = 10.0) -> bytes:
        """Send raw bytes, half-close, read until the router closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
            return out


def _state(name: str, live_port: int, dead_port: int) -> dict[str, Any]:
    # a valid process record that is nobody's (this pid never started at that tick): never signalled
    me = {**procs.self_ref().to_dict(), "start_ticks": procs.self_ref().start_ticks - 1}
    return {
        "endpoint": name,
        "deployments": {
            "blue": {**me, "port": dead_port, "model_dir": "/nonexistent/blue"},
            "green": {**me, "port": live_port, "model_dir": "/nonexistent/green"},
        },
        "traffic": {"blue": 50, "green": 50},
        "mirror": {},
    }


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Routed]:
    repo = Path(request.config.rootpath)
    root = tmp_path_factory.mktemp("router")
    policy = load_rollout_policy(repo / "policies")
    endpoint = LocalEndpoint(policy, repo / "pipelines" / "endpoints", home=root / "endpoint")
    live = _serve("green")
    state = _state(endpoint.name, live.server_address[1], procs.free_port())  # blue: nothing listens
    write_json(endpoint.state_path, state)
    try:
        port = endpoint.ensure_router()
        yield Routed(endpoint, port, live, endpoint.state())
    finally:
        endpoint.down()
        live.shutdown()


def test_a_dead_deployment_leaves_the_rotation_and_its_share_goes_to_the_live_one(routed: Routed) -> None:
    with httpx.Client(timeout=10) as client:
        answers = [client.post(f"http://127.0.0.1:{routed.port}/score", content=b"{}") for _ in range(60)]
        status = client.get(f"http://127.0.0.1:{routed.port}/_ctloop/status").json()
        metrics = client.get(f"http://127.0.0.1:{routed.port}/_ctloop/metrics?since=0").json()
    assert [a.status_code for a in answers] == [200] * 60  # no client saw the dead slot
    assert {a.headers[DEPLOYMENT_HEADER] for a in answers} == {"green"}
    assert status["out_of_rotation"] == ["blue"]
    assert metrics["green"]["requests"] >= 60
    # the dead slot's failures are its own: counted against it, each one retried on green
    assert metrics.get("blue", {"errors": 0})["errors"] == metrics.get("blue", {"requests": 0})["requests"]


def test_sticky_clients_keep_their_variant(routed: Routed) -> None:
    with httpx.Client(timeout=10) as client:
        seen = {
            client.post(
                f"http://127.0.0.1:{routed.port}/score", content=b"{}", headers={CLIENT_HEADER: "user-7"}
            ).headers[DEPLOYMENT_HEADER]
            for _ in range(10)
        }
    assert seen == {"green"}  # blue is down; otherwise user-7 would stay wherever its hash falls


def test_a_get_whose_body_is_a_second_request_gets_one_response(routed: Routed) -> None:
    hidden = b"GET /_ctloop/status HTTP/1.1\r\nHost: x\r\n\r\n"
    data = (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
        + str(len(hidden)).encode()
        + b"\r\n\r\n"
        + hidden
    )
    out = routed.raw(data)
    assert out.count(b"HTTP/1.1 ") == 1 and out.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        (b"BREW /score HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"505"),
        (b"GET /score\x00x HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /_ctloop/metrics?since=abc HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /_ctloop/metrics?since=nan HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (
            b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"400",
        ),
        (b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", b"400"),
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # no Host
        (b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", b"413"),
    ],
)
def test_bad_requests_get_a_status_line_and_are_not_counted(
    routed: Routed, request_bytes: bytes, status: bytes
) -> None:
    before = httpx.get(f"http://127.0.0.1:{routed.port}/_ctloop/metrics?since=0", timeout=10).json()
    out = routed.raw(request_bytes)
    assert out.startswith(b"HTTP/1.1 " + status), out[:200]
    assert b'"error"' in out
    after = httpx.get(f"http://127.0.0.1:{routed.port}/_ctloop/metrics?since=0", timeout=10).json()
    assert after == before  # refused by the router: no deployment is blamed


def test_a_large_chunked_body_is_refused_before_it_is_sent(routed: Routed) -> None:
    limit = int(routed.endpoint.policy.serving["max_payload_bytes"]) * 16
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", routed.port), timeout=10) as sock:
        # a chunk announced as 1 GiB: the answer comes after limit + 1 bytes, the rest never sent
        sock.sendall(head + f"{2**30:x}\r\n".encode() + b"x" * (limit + 1))
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_small_chunked_body_is_forwarded(routed: Routed) -> None:
    body = b'{"data": []}'
    data = (
        b"POST /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
    )
    out = routed.raw(data)
    assert out.startswith(b"HTTP/1.1 200") and b'"echo": 12' in out


def test_the_listen_backlog_is_at_least_1024(routed: Routed) -> None:
    out = subprocess.run(
        ["ss", "-ltnH", f"sport = :{routed.port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert int(out[2]) == min(int(routed.endpoint.policy.router["backlog"]), somaxconn) >= 1024


@pytest.mark.parametrize(
    "bad", [{}, [], {"deployments": []}, {"endpoint": "x", "deployments": {}, "traffic": {"blue": 100}}]
)
def test_a_bad_state_file_is_refused_and_the_last_good_table_serves(routed: Routed, bad: Any) -> None:
    routed.write_state(bad)
    try:
        answer = routed.reload()
        assert "state.json" in answer["error"]
        scored = httpx.post(f"http://127.0.0.1:{routed.port}/score", content=b"{}", timeout=10)
        assert scored.status_code == 200 and scored.headers[DEPLOYMENT_HEADER] == "green"
    finally:
        routed.write_state(routed.state)
        assert routed.reload()["error"] is None


def test_endpoint_status_on_a_bad_state_file_is_one_line(
    routed: Routed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], repo_root: Path
) -> None:
    monkeypatch.setenv("CTLOOP_HOME", str(routed.endpoint.home.parent))
    routed.write_state({"deployments": []})
    try:
        code = cli.main(["endpoint", "status", "--policies", str(repo_root / "policies")])
    finally:
        routed.write_state(routed.state)
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: ") and "state.json: <root>" in err
    assert "Traceback" not in err


def test_the_router_keeps_its_port_and_identity(routed: Routed, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = routed.endpoint
    first = endpoint.state()["router"]
    # a clock step: the boot time moves by 22 s; the running router is still recognised
    stepped = _pslinux.boot_time() + 22.0
    monkeypatch.setattr(_pslinux, "boot_time", lambda: stepped)
    assert endpoint.ensure_router() == routed.port
    assert [r.pid for r in procs.owned_by(endpoint.owner)] == [first["pid"]]  # no duplicate
    # the router dies: the next start comes back on the same port
    assert procs.stop(procs.ProcessRef.from_dict(first), 5)
    assert endpoint.router_port() is None
    assert endpoint.ensure_router() == routed.port
    assert endpoint.state()["router"]["pid"] != first["pid"]
    routed.state = endpoint.state()


def test_down_stops_processes_it_lost_track_of(routed: Routed, tmp_path: Path) -> None:
    endpoint = routed.endpoint
    sleeper = ["python3", "-c", "import time; time.sleep(120)"]
    orphan = procs.start_detached(
        sleeper, {"PATH": "/usr/bin:/bin"}, tmp_path, tmp_path / "o.log", owner=endpoint.owner
    )
    try:
        stopped = endpoint.down()
        assert "router" in stopped and any("unrecorded" in s for s in stopped)
        assert not procs.is_running(orphan) and procs.owned_by(endpoint.owner) == []
        assert endpoint.state()["router_port"] == routed.port  # remembered for the next start
    finally:
        procs.stop(orphan, 5)
        routed.write_state({k: v for k, v in routed.state.items() if k != "router"})
        assert routed.endpoint.ensure_router() == routed.port


def test_concurrent_clients_are_all_answered_over_reused_deployment_connections(routed: Routed) -> None:
    routed.live.peers.clear()  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{routed.port}/score"

    def client(_: int) -> list[int]:
        with httpx.Client(timeout=10) as session:
            return [session.post(url, content=b"{}").status_code for _ in range(5)]

    with ThreadPoolExecutor(16) as pool:
        codes = [code for codes in pool.map(client, range(16)) for code in codes]
    assert codes == [200] * 80
    # kept-alive links are reused: at most one per concurrent request, far fewer than 80
    assert 1 <= len(routed.live.peers) <= 16  # type: ignore[attr-defined]


def test_a_link_the_deployment_closed_unannounced_is_reopened(routed: Routed) -> None:
    with httpx.Client(timeout=10) as client:
        answers = [
            client.post(
                f"http://127.0.0.1:{routed.port}/score", content=b"{}", headers={"x-request-id": f"drop-{i}"}
            )
            for i in range(6)
        ]
        status = client.get(f"http://127.0.0.1:{routed.port}/_ctloop/status").json()
    assert [a.status_code for a in answers] == [200] * 6
    assert "green" not in status["out_of_rotation"]  # a stale link is not a dead deployment
