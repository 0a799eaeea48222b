"""The local endpoint's traffic router: ``python -m ctloop.rollout.router --state STATE --port 0 ...``.

A threaded HTTP/1.1 server on 127.0.0.1 in front of the deployments (one azmlinfsrv each):

- ``POST /score`` goes to one deployment, chosen by smooth weighted round-robin over the live
  weights (exact shares, no randomness), or to the deployment named in the
  ``azureml-model-deployment`` request header; the response names the deployment in that header.
- A share of live requests is copied to the mirror deployment by a background worker after the
  client has its answer; mirrored answers are measured and discarded.
- Every answer is measured per deployment (status, latency); labelled replays (header
  ``x-ctloop-labelled``) also keep labels and probabilities for the primary metric.
- ``GET /`` answers liveness; ``POST /_ctloop/reload`` re-reads the state file (the router also
  notices a changed file within a second); ``GET /_ctloop/metrics?since=T&metric=M`` returns metrics.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ctloop.rollout.endpoint import DEPLOYMENT_HEADER, LABELLED_HEADER
from ctloop.rollout.jsonfile import read_json, write_json
from ctloop.rollout.router_metrics import MetricsStore

HOST = "127.0.0.1"
_FORWARD_REQUEST = ("content-type", "x-request-id", "x-ms-client-request-id")
_FORWARD_RESPONSE = (
    "Content-Type",
    "x-request-id",
    "x-ms-request-id",
    "x-ms-client-request-id",
    "x-ms-run-fn-exec-ms",
    "x-ms-run-function-failed",
)
_STATE_POLL_S = 1.0


@dataclass
class Table:
    """An immutable routing table built from the state file."""

    ports: dict[str, int] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    mirror: tuple[str, int] | None = None


class Picker:
    """Smooth weighted round-robin (as nginx): exact shares over any window of sum(weights) picks."""

    def __init__(self, weights: dict[str, int]) -> None:
        self.weights = {k: v for k, v in weights.items() if v > 0}
        self.current = dict.fromkeys(self.weights, 0)
        self.total = sum(self.weights.values())
        self.mirror_acc = 0
        self.lock = threading.Lock()

    def pick(self) -> str | None:
        if not self.weights:
            return None
        with self.lock:
            for k, w in self.weights.items():
                self.current[k] += w
            best = max(self.current, key=self.current.__getitem__)
            self.current[best] -= self.total
            return best

    def mirror_now(self, percent: int) -> bool:
        with self.lock:
            self.mirror_acc += percent
            if self.mirror_acc >= 100:
                self.mirror_acc -= 100
                return True
            return False


class Backend(http.client.HTTPConnection):
    """A loopback connection with Nagle's algorithm off (no 40 ms delayed-ACK stalls)."""

    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Router:
    """Routing state, backends and metrics shared by all handler threads."""

    def __init__(self, state_path: Path, backend_timeout_s: float, capacity: int, mirror_queue: int) -> None:
        self.state_path = state_path
        self.backend_timeout_s = backend_timeout_s
        self.metrics = MetricsStore(capacity)
        self.mirror_queue: queue.Queue[tuple[str, bytes, dict[str, str]]] = queue.Queue(maxsize=mirror_queue)
        self.mirror_dropped = 0
        self.table = Table()
        self.picker = Picker({})
        self.state_mtime = 0.0
        self._local = threading.local()
        self.reload()

    def reload(self) -> Table:
        """Re-read the state file and swap in a new routing table."""
        try:
            self.state_mtime = self.state_path.stat().st_mtime
        except FileNotFoundError:
            self.state_mtime = 0.0
        state = read_json(self.state_path, {}) or {}
        ports = {
            name: int(d["port"]) for name, d in (state.get("deployments") or {}).items() if d.get("port")
        }
        weights = {k: int(v) for k, v in (state.get("traffic") or {}).items() if k in ports}
        mirror = [(k, int(v)) for k, v in (state.get("mirror") or {}).items() if k in ports and v]
        table = Table(ports=ports, weights=weights, mirror=mirror[0] if mirror else None)
        if table.weights != self.table.weights:
            self.picker = Picker(table.weights)
        self.table = table
        return table

    def watch_state(self) -> None:
        """Background: reload when the state file changes (a missed control call heals itself)."""
        while True:
            time.sleep(_STATE_POLL_S)
            try:
                mtime = self.state_path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime != self.state_mtime:
                try:
                    self.reload()
                except Exception as exc:  # keep routing on the last good table
                    print(f"router: reload failed: {exc}", file=sys.stderr, flush=True)

    def forward(self, name: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> Any:
        """Send one request to a deployment; returns (status, headers, body)."""
        port = self.table.ports.get(name)
        if port is None:
            return 503, {}, _error(f"deployment '{name}' does not exist")
        conns: dict[str, Backend] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(name)
        if conn is None or conn.port != port:
            conn = Backend(HOST, port, timeout=self.backend_timeout_s)
            conns[name] = conn
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out_headers = {h: resp.getheader(h) for h in _FORWARD_RESPONSE if resp.getheader(h) is not None}
            if resp.will_close:
                conn.close()
            return resp.status, out_headers, data
        except TimeoutError:
            conn.close()
            return 504, {}, _error(f"deployment '{name}' did not answer within {self.backend_timeout_s}s")
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            return 502, {}, _error(f"deployment '{name}' is unreachable: {type(exc).__name__}")

    def mirror_worker(self) -> None:
        """Background: send mirrored copies; measure and discard their answers."""
        while True:
            name, body, headers = self.mirror_queue.get()
            started = time.perf_counter()
            status, _, data = self.forward(name, "POST", "/score", body, headers)
            self.metrics.record(name, status, (time.perf_counter() - started) * 1e3, mirrored=True)
            if LABELLED_HEADER in headers:
                self.record_labelled(name, status, body, data)

    def record_labelled(self, name: str, status: int, body: bytes, data: bytes) -> None:
        if status != 200:
            return
        try:
            labels = json.loads(body).get("labels")
            scores = json.loads(data).get("probabilities")
        except (ValueError, AttributeError):
            return
        if isinstance(labels, list) and isinstance(scores, list):
            self.metrics.record_labelled(name, labels, scores)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ctloop-router"
    router: Router
    max_body_bytes: int

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: metrics record every request
        return

    def _send(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(body))
        if close:
            headers["Connection"] = "close"
            self.close_connection = True
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self._send(411, _error("send a Content-Length (chunked bodies are not accepted)"), close=True)
                return None
            return b""
        try:
            size = int(length)
        except ValueError:
            self._send(400, _error("invalid Content-Length"), close=True)
            return None
        if size < 0 or size > self.max_body_bytes:
            self._send(413, _error(f"payload of {size} bytes exceeds the limit"), close=True)
            return None
        return self.rfile.read(size)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/":
            self._send(200, b"Healthy", {"Content-Type": "text/plain"})
        elif url.path == "/_ctloop/metrics":
            query = parse_qs(url.query)
            since = float(query.get("since", ["0"])[0])
            metric = query.get("metric", [None])[0] or None
            summary = self.router.metrics.summary(since, metric)
            self._send(200, json.dumps({k: v.to_dict() for k, v in summary.items()}).encode())
        elif url.path == "/_ctloop/status":
            t = self.router.table
            status = {
                "pid": os.getpid(),
                "ports": t.ports,
                "traffic": t.weights,
                "mirror": dict([t.mirror]) if t.mirror else {},
                "mirror_dropped": self.router.mirror_dropped,
            }
            self._send(200, json.dumps(status).encode())
        elif url.path.startswith("/score"):
            self._proxy(b"")
        else:
            self._send(404, _error(f"no route {url.path}"))

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        if path == "/_ctloop/reload":
            table = self.router.reload()
            self._send(200, json.dumps({"traffic": table.weights, "ports": table.ports}).encode())
        elif path.startswith("/score"):
            self._proxy(body)
        else:
            self._send(404, _error(f"no route {path}"))

    def _not_allowed(self) -> None:
        if self._read_body() is not None:  # None: already answered (bad length)
            self._send(405, _error(f"{self.command} is not allowed: POST a JSON body to /score"))

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def do_HEAD(self) -> None:
        self._send(405, b"")  # no body for HEAD

    def _proxy(self, body: bytes) -> None:
        router = self.router
        started = time.perf_counter()
        headers = {k: v for k in _FORWARD_REQUEST if (v := self.headers.get(k)) is not None}
        headers.setdefault("x-request-id", uuid.uuid4().hex)
        labelled = self.headers.get(LABELLED_HEADER) is not None
        if labelled:
            headers[LABELLED_HEADER] = "1"
        target = self.headers.get(DEPLOYMENT_HEADER)
        table = router.table
        if target:
            if target not in table.ports:
                self._send(404, _error(f"deployment '{target}' does not exist"))
                return
            name = target
        else:
            picked = router.picker.pick()
            if picked is None:
                self._send(503, _error("no deployment takes traffic"))
                return
            name = picked
        status, out_headers, data = router.forward(name, self.command, self.path, body, headers)
        out_headers[DEPLOYMENT_HEADER] = name
        self._send(status, data, out_headers)
        router.metrics.record(name, status, (time.perf_counter() - started) * 1e3)
        if labelled:
            router.record_labelled(name, status, body, data)
        mirror = table.mirror
        if mirror and not target and self.command == "POST" and router.picker.mirror_now(mirror[1]):
            try:
                router.mirror_queue.put_nowait((mirror[0], body, headers))
            except queue.Full:
                router.mirror_dropped += 1


def serve(args: argparse.Namespace) -> None:
    router = Router(Path(args.state), args.backend_timeout_s, args.metrics_capacity, args.mirror_queue)
    handler = type("BoundHandler", (Handler,), {"router": router, "max_body_bytes": args.max_body_bytes})
    server = ThreadingHTTPServer((HOST, args.port), handler)
    server.daemon_threads = True
    for target in (router.watch_state, router.mirror_worker):
        threading.Thread(target=target, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    port = server.server_address[1]
    write_json(args.ready_file, {"pid": os.getpid(), "port": port})
    print(f"router: listening on http://{HOST}:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ctloop.rollout.router", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--state", required=True, help="endpoint state.json")
    parser.add_argument("--ready-file", required=True, help="written with {pid, port} once listening")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--backend-timeout-s", type=float, required=True)
    parser.add_argument("--metrics-capacity", type=int, required=True)
    parser.add_argument("--mirror-queue", type=int, required=True)
    parser.add_argument("--max-body-bytes", type=int, required=True)
    serve(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
