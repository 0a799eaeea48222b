"""The local endpoint's traffic router: ``python -m ctloop.rollout.router --state STATE --port P ...``.

An HTTP/1.1 server on 127.0.0.1 in front of the deployments (one azmlinfsrv each). HTTP framing is
h11's (request line, headers, Content-Length and chunked bodies, keep-alive), one thread per
client connection, a listen backlog from the policy:

- ``POST /score`` goes to one deployment: by a hash of the ``x-ctloop-client-id`` header when the
  client names itself (each client keeps its variant; clients split by the weights), else drawn at
  random by the weights; or to the deployment named in the ``azureml-model-deployment`` header.
  The response names the deployment in that header.
- A deployment that refuses connections or fails its liveness probe leaves the rotation at once;
  its share goes to the healthy ones (to a healthy deployment at 0% when no weighted one is left).
  A request whose deployment died before answering is sent once more to a healthy one.
- A share of live requests is copied to the mirror deployment by a background worker after the
  client has its answer; mirrored answers are measured and discarded.
- Every answer of a deployment is measured per deployment (status, latency); requests the router
  itself refuses (bad framing, path, method, size) are not. Labelled replays (header
  ``x-ctloop-labelled``) also keep labels and probabilities for the primary metric.
- ``GET /`` answers liveness; ``POST /_ctloop/reload`` re-reads the state file (the router also
  notices a changed file within a second; a file that breaks the schema is refused and the last
  good table kept); ``GET /_ctloop/metrics?since=T&metric=M`` returns metrics;
  ``GET /_ctloop/status`` the routing table and the deployments out of rotation.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import queue
import random
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import h11

from ctloop.rollout.endpoint import CLIENT_HEADER, DEPLOYMENT_HEADER, LABELLED_HEADER
from ctloop.rollout.jsonfile import StateError, read_json, write_json
from ctloop.rollout.router_metrics import MetricsStore
from ctloop.rollout.state import check_state

HOST = "127.0.0.1"
_FORWARD_REQUEST = ("content-type", "x-request-id", "x-ms-client-request-id")
_FORWARD_RESPONSE = (
    "content-type",
    "x-request-id",
    "x-ms-request-id",
    "x-ms-client-request-id",
    "x-ms-run-fn-exec-ms",
    "x-ms-run-function-failed",
)
_STATE_POLL_S = 1.0
_HEADER_LIMIT = 65536
_READ_CHUNK = 65536
# The connection died before the deployment answered: nothing was scored, so a retry is safe.
_DIED = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


@dataclass
class Table:
    """An immutable routing table built from the state file."""

    ports: dict[str, int] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)
    mirror: tuple[str, int] | None = None


def bucket(client_id: str) -> float:
    """A client's fixed point in [0, 100): the same id always lands on the same share."""
    digest = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def assign(weights: dict[str, int], point: float) -> str | None:
    """The deployment whose share of [0, total) holds ``point`` (scaled from [0, 100))."""
    live = sorted((k, v) for k, v in weights.items() if v > 0)
    total = sum(v for _, v in live)
    if not total:
        return None
    at = point / 100 * total
    for name, weight in live:
        if at < weight:
            return name
        at -= weight
    return live[-1][0]


class Picker:
    """Chooses a deployment: sticky by client id, else weighted random; skips deployments out of
    rotation and falls back to any healthy one when no weighted one is left."""

    def __init__(self, weights: dict[str, int], rng: random.Random | None = None) -> None:
        self.weights = {k: v for k, v in weights.items() if v > 0}
        self.rng = rng or random.Random()
        self.mirror_acc = 0
        self.lock = threading.Lock()

    def pick(
        self,
        client_id: str | None = None,
        down: set[str] | frozenset[str] = frozenset(),
        known: list[str] = (),
    ) -> str | None:
        weights = {k: v for k, v in self.weights.items() if k not in down}
        if not weights:
            spare = sorted(k for k in known if k not in down)
            weights = dict.fromkeys(spare, 1)
        point = bucket(client_id) if client_id else self.rng.random() * 100
        return assign(weights, point)

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


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class Router:
    """Routing state, backends, liveness and metrics shared by all connection threads."""

    def __init__(
        self,
        state_path: Path,
        backend_timeout_s: float,
        capacity: int,
        mirror_queue: int,
        probe_interval_s: float,
        probe_timeout_s: float,
    ) -> None:
        self.state_path = state_path
        self.backend_timeout_s = backend_timeout_s
        self.probe_interval_s = probe_interval_s
        self.probe_timeout_s = probe_timeout_s
        self.metrics = MetricsStore(capacity)
        self.mirror_queue: queue.Queue[tuple[str, bytes, dict[str, str]]] = queue.Queue(maxsize=mirror_queue)
        self.mirror_dropped = 0
        self.table = Table()
        self.picker = Picker({})
        self.down: set[str] = set()
        self.state_mtime = 0.0
        self.state_error: str | None = None
        self._local = threading.local()
        self.reload()

    def reload(self) -> Table:
        """Re-read the state file and swap in a new routing table (a bad file keeps the last one)."""
        try:
            self.state_mtime = self.state_path.stat().st_mtime
        except FileNotFoundError:
            self.state_mtime = 0.0
        try:
            raw = read_json(self.state_path, None)
            state = check_state(raw, self.state_path) if raw is not None else None
        except StateError as exc:
            self.state_error = str(exc)
            print(f"router: state refused, keeping the last good table: {exc}", file=sys.stderr, flush=True)
            return self.table
        self.state_error = None
        state = state or {"deployments": {}, "traffic": {}}
        ports = {name: int(d["port"]) for name, d in state["deployments"].items()}
        weights = {k: int(v) for k, v in state["traffic"].items() if k in ports}
        mirror = [(k, int(v)) for k, v in (state.get("mirror") or {}).items() if k in ports and v]
        table = Table(ports=ports, weights=weights, mirror=mirror[0] if mirror else None)
        if table.weights != self.table.weights:
            self.picker = Picker(table.weights)
        if table.ports != self.table.ports:  # a new process on a slot starts in rotation
            self.down = {k for k in self.down if self.table.ports.get(k) == ports.get(k)}
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
                self.reload()

    def probe(self, name: str, port: int) -> bool:
        """One liveness probe (``GET /``) of a deployment."""
        conn = http.client.HTTPConnection(HOST, port, timeout=self.probe_timeout_s)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def watch_backends(self) -> None:
        """Background: probe every deployment; take failing ones out of rotation, return healed ones."""
        while True:
            for name, port in list(self.table.ports.items()):
                if self.probe(name, port):
                    self.down.discard(name)
                else:
                    self.down.add(name)
            time.sleep(self.probe_interval_s)

    def choose(self, client_id: str | None, exclude: set[str] = frozenset()) -> str | None:
        table = self.table
        return self.picker.pick(client_id, self.down | exclude, list(table.ports))

    def forward(
        self, name: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, bool]:
        """Send one request to a deployment: (status, headers, body, died before answering)."""
        port = self.table.ports.get(name)
        if port is None:
            return 503, {}, _error(f"deployment '{name}' does not exist"), False
        conns: dict[str, Backend] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(name)
        if conn is None or conn.port != port:
            conn = Backend(HOST, port, timeout=self.backend_timeout_s)
            conns[name] = conn
        for attempt in (1, 2):
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {h: v for h in _FORWARD_RESPONSE if (v := resp.getheader(h)) is not None}
                if resp.will_close:
                    conn.close()
                return resp.status, out, data, False
            except TimeoutError:
                conn.close()
                return (
                    504,
                    {},
                    _error(f"deployment '{name}' did not answer within {self.backend_timeout_s}s"),
                    False,
                )
            except _DIED as exc:
                conn.close()
                if attempt == 1 and not isinstance(exc, ConnectionRefusedError):
                    continue  # a kept-alive connection the server had closed: reconnect once
                self.down.add(name)
                return 502, {}, _error(f"deployment '{name}' is unreachable: {type(exc).__name__}"), True
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                return 502, {}, _error(f"deployment '{name}' is unreachable: {type(exc).__name__}"), False
        raise AssertionError("unreachable")

    def mirror_worker(self) -> None:
        """Background: send mirrored copies; measure and discard their answers."""
        while True:
            name, body, headers = self.mirror_queue.get()
            started = time.perf_counter()
            status, _, data, _ = self.forward(name, "POST", "/score", body, headers)
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

    # --- request handling (framing-free: h11 has parsed the request) ---------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(target)
        if method == "GET" and url.path == "/":
            return 200, {"content-type": "text/plain"}, b"Healthy"
        if method == "GET" and url.path == "/_ctloop/metrics":
            return self._metrics(url.query)
        if method == "GET" and url.path == "/_ctloop/status":
            t = self.table
            status = {
                "pid": os.getpid(),
                "ports": t.ports,
                "traffic": t.weights,
                "mirror": dict([t.mirror]) if t.mirror else {},
                "mirror_dropped": self.mirror_dropped,
                "out_of_rotation": sorted(self.down),
                "state_error": self.state_error,
            }
            return 200, {}, json.dumps(status).encode()
        if method == "POST" and url.path == "/_ctloop/reload":
            table = self.reload()
            return (
                200,
                {},
                json.dumps(
                    {"traffic": table.weights, "ports": table.ports, "error": self.state_error}
                ).encode(),
            )
        if url.path.startswith("/score") and method in ("GET", "POST"):
            return self._proxy(method, target, headers, body)
        if method not in ("GET", "POST"):
            return 405, {"allow": "GET, POST"}, _error(f"{method} is not allowed: POST a JSON body to /score")
        return 404, {}, _error(f"no route {url.path}")

    def _metrics(self, query: str) -> tuple[int, dict[str, str], bytes]:
        try:
            params = parse_qs(query, strict_parsing=bool(query), max_num_fields=10)
            since = float(params.get("since", ["0"])[0])
            if not math.isfinite(since):
                raise ValueError("since must be a finite number")
        except ValueError as exc:
            return 400, {}, _error(f"bad query {query!r}: since must be epoch seconds ({exc})")
        metric = params.get("metric", [None])[0] or None
        if metric not in (None, "roc_auc", "average_precision"):
            return 400, {}, _error(f"bad query: unknown metric {metric!r}")
        summary = self.metrics.summary(since, metric)
        return 200, {}, json.dumps({k: v.to_dict() for k, v in summary.items()}).encode()

    def _proxy(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        started = time.perf_counter()
        forward = {k: v for k in _FORWARD_REQUEST if (v := headers.get(k)) is not None}
        forward.setdefault("x-request-id", uuid.uuid4().hex)
        labelled = LABELLED_HEADER in headers
        if labelled:
            forward[LABELLED_HEADER] = "1"
        wanted = headers.get(DEPLOYMENT_HEADER)
        table = self.table
        if wanted:
            if wanted not in table.ports:
                return 404, {}, _error(f"deployment '{wanted}' does not exist")
            name: str | None = wanted
        else:
            name = self.choose(headers.get(CLIENT_HEADER))
        if name is None:
            return 503, {}, _error("no deployment takes traffic")
        status, out, data, died = self.forward(name, method, target, body, forward)
        self.metrics.record(name, status, (time.perf_counter() - started) * 1e3)
        if died and not wanted:  # nothing was scored: one more try on a healthy deployment
            other = self.choose(headers.get(CLIENT_HEADER), {name})
            if other is not None:
                name, retried = other, time.perf_counter()
                status, out, data, _ = self.forward(name, method, target, body, forward)
                self.metrics.record(name, status, (time.perf_counter() - retried) * 1e3)
        out[DEPLOYMENT_HEADER] = name
        if labelled:
            self.record_labelled(name, status, body, data)
        mirror = table.mirror
        if mirror and not wanted and method == "POST" and self.picker.mirror_now(mirror[1]):
            try:
                self.mirror_queue.put_nowait((mirror[0], body, forward))
            except queue.Full:
                self.mirror_dropped += 1
        return status, out, data


class Connection:
    """One client connection: h11 parses, ``Router.handle`` answers, bodies are bounded; a client
    silent for ``idle_timeout_s`` is disconnected."""

    def __init__(
        self, sock: socket.socket, router: Router, max_body_bytes: int, idle_timeout_s: float
    ) -> None:
        self.sock = sock
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_HEADER_LIMIT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(idle_timeout_s)

    def _next(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.sock.recv(_READ_CHUNK)
            except OSError:
                data = b""
            self.conn.receive_data(data)

    def _send(self, status: int, headers: dict[str, str], body: bytes, close: bool = False) -> None:
        out = {"content-type": "application/json", **headers, "content-length": str(len(body))}
        if close:
            out["connection"] = "close"
        wire = self.conn.send(h11.Response(status_code=status, headers=list(out.items())))
        wire += self.conn.send(h11.Data(data=body)) if body else b""
        wire += self.conn.send(h11.EndOfMessage())
        self.sock.sendall(wire)

    def _read_body(self, request: h11.Request) -> bytes | None:
        """The whole body, or None after answering 413 (too large: refused before it is buffered)."""
        limit = self.max_body_bytes
        length = dict(request.headers).get(b"content-length")
        if length is not None and int(length) > limit:
            self._send(
                413, {}, _error(f"payload of {int(length)} bytes exceeds the limit of {limit}"), close=True
            )
            return None
        if self.conn.they_are_waiting_for_100_continue:
            self.sock.sendall(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        parts, size = [], 0
        while True:
            event = self._next()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    self._send(413, {}, _error(f"payload exceeds the limit of {limit} bytes"), close=True)
                    return None
                parts.append(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    def serve(self) -> None:
        try:
            while True:
                try:
                    event = self._next()
                    if not isinstance(event, h11.Request):
                        return  # ConnectionClosed (or a client that went away mid-request)
                    if not self._answer(event):
                        return
                except h11.RemoteProtocolError as exc:
                    if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        self._send(exc.error_status_hint, {}, _error(f"bad request: {exc}"), close=True)
                    return
                except (OSError, h11.LocalProtocolError):
                    raise
                except Exception as exc:  # a router bug answers 500 and is logged, never a dropped connection
                    traceback.print_exc(file=sys.stderr)
                    if self.conn.our_state is h11.SEND_RESPONSE:
                        self._send(500, {}, _error(f"router error: {type(exc).__name__}: {exc}"), close=True)
                    return
                if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
                    return
                self.conn.start_next_cycle()
        except (OSError, h11.LocalProtocolError):
            return
        finally:
            self.sock.close()

    def _answer(self, request: h11.Request) -> bool:
        """Answer one request; False when the connection must close."""
        if request.http_version not in (b"1.0", b"1.1"):
            version = request.http_version.decode("ascii", "replace")
            self._send(505, {}, _error(f"HTTP/{version} is not supported: use HTTP/1.1"), close=True)
            return False
        names = [k for k, _ in request.headers]
        if b"transfer-encoding" in names and b"content-length" in names:
            self._send(400, {}, _error("both Content-Length and Transfer-Encoding: send one"), close=True)
            return False
        method = request.method.decode("ascii", "replace")
        try:
            target = request.target.decode("ascii")
        except UnicodeDecodeError:
            self._send(400, {}, _error("the request target must be ASCII"), close=True)
            return False
        body = self._read_body(request)
        if body is None:
            return False
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        status, out, data = self.router.handle(method, target, headers, body)
        if method == "HEAD":
            data = b""
        self._send(status, out, data)
        return True


def serve(args: argparse.Namespace) -> None:
    router = Router(
        Path(args.state),
        args.backend_timeout_s,
        args.metrics_capacity,
        args.mirror_queue,
        args.probe_interval_s,
        args.probe_timeout_s,
    )
    listener = socket.create_server((HOST, args.port), backlog=args.backlog)
    for target in (router.watch_state, router.mirror_worker, router.watch_backends):
        threading.Thread(target=target, daemon=True).start()

    def stop(*_: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    port = listener.getsockname()[1]
    write_json(args.ready_file, {"pid": os.getpid(), "port": port})
    print(f"router: listening on http://{HOST}:{port}", flush=True)
    try:
        while True:
            sock, _ = listener.accept()
            worker = Connection(sock, router, args.max_body_bytes, args.backend_timeout_s)
            threading.Thread(target=worker.serve, daemon=True).start()
    finally:
        listener.close()


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
    parser.add_argument("--probe-interval-s", type=float, required=True)
    parser.add_argument("--probe-timeout-s", type=float, required=True)
    parser.add_argument("--backlog", type=int, required=True)
    serve(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
