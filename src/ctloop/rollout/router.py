"""The local endpoint's traffic router: ``python -m ctloop.rollout.router --state STATE --port P ...``.

An HTTP/1.1 server on 127.0.0.1 in front of the deployments (one azmlinfsrv each). HTTP framing is
h11's on both sides (request line, headers, Content-Length and chunked bodies, keep-alive). Client
connections and the requests to deployments run on one asyncio event loop, so requests are served
in the order they arrive (a thread per connection let the interpreter lock decide, which stretched
the latency tail at 32 concurrent clients); connections to a deployment are kept alive and reused
when it allows. The listen backlog comes from the policy.

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
import asyncio
import hashlib
import json
import math
import os
import random
import signal
import socket
import sys
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
_IDLE_LINKS = 64  # kept-alive links per deployment port waiting for the next request


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
        """Every (100 / percent)-th call answers True: the mirrored share, spread evenly."""
        self.mirror_acc += percent
        if self.mirror_acc >= 100:
            self.mirror_acc -= 100
            return True
        return False


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


class Disconnected(ConnectionError):
    """The deployment closed the connection before it sent a status line."""


#: The connection died before the deployment answered: nothing was scored, so a retry is safe.
_DIED = (ConnectionRefusedError, ConnectionResetError, BrokenPipeError, Disconnected)


class Link:
    """One HTTP/1.1 client connection to a deployment, framed by h11, reusable while kept alive."""

    def __init__(self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.port = port
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, port: int) -> Link:
        reader, writer = await asyncio.open_connection(HOST, port)  # asyncio sets TCP_NODELAY
        return cls(port, reader, writer)

    async def exchange(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request and read the whole response: (status, forwarded headers, body)."""
        conn = self.conn
        head = [("host", f"{HOST}:{self.port}"), *headers.items(), ("content-length", str(len(body)))]
        wire = conn.send(h11.Request(method=method, target=target, headers=head))
        wire += conn.send(h11.Data(data=body)) if body else b""
        wire += conn.send(h11.EndOfMessage())
        self.writer.write(wire)
        await self.writer.drain()
        response: h11.Response | None = None
        parts: list[bytes] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                if response is None:
                    raise Disconnected("closed before the status line") from None
                raise
            if event is h11.NEED_DATA:
                conn.receive_data(await self.reader.read(_READ_CHUNK))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        assert response is not None  # h11 yields EndOfMessage only after a Response
        out: dict[str, str] = {}
        for key, value in response.headers:
            name = key.decode("latin-1")
            if name in _FORWARD_RESPONSE:
                out.setdefault(name, value.decode("latin-1"))
        return response.status_code, out, b"".join(parts)

    def reusable(self) -> bool:
        """Ready for the next request (False when either side asked to close)."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
            return True
        return False

    def close(self) -> None:
        self.writer.close()


class Router:
    """Routing state, backend links, liveness and metrics. Requests are served on one asyncio event
    loop (no thread per connection: requests are handled in the order they arrive, not in the
    order a contended interpreter lock happens to wake threads); the state watcher, the liveness
    prober and the mirror are tasks on the same loop."""

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
        self.mirror_capacity = mirror_queue
        self.mirror_queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] | None = None
        self.mirror_dropped = 0
        self.table = Table()
        self.picker = Picker({})
        self.down: set[str] = set()
        self.state_mtime = 0.0
        self.state_error: str | None = None
        self._idle: dict[int, list[Link]] = {}
        self._pooled_for: Table | None = None
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

    async def watch_state(self) -> None:
        """Background task: reload when the state file changes (a missed control call heals itself)."""
        while True:
            await asyncio.sleep(_STATE_POLL_S)
            try:
                mtime = self.state_path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime != self.state_mtime:
                self.reload()

    async def probe(self, port: int) -> bool:
        """One liveness probe (``GET /``) of a deployment, on a connection of its own."""
        link: Link | None = None
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                link = await Link.open(port)
                status, _, _ = await link.exchange("GET", "/", {}, b"")
            return status == 200
        except (OSError, h11.ProtocolError):  # TimeoutError included
            return False
        finally:
            if link is not None:
                link.close()

    async def watch_backends(self) -> None:
        """Background task: probe every deployment; take failing ones out of rotation, return healed
        ones. It runs on the serving loop, like everything else: no thread competes with requests
        for the interpreter lock."""
        while True:
            for name, port in list(self.table.ports.items()):
                if await self.probe(port):
                    self.down.discard(name)
                else:
                    self.down.add(name)
            await asyncio.sleep(self.probe_interval_s)

    def choose(self, client_id: str | None, exclude: set[str] = frozenset()) -> str | None:
        table = self.table
        return self.picker.pick(client_id, self.down | exclude, list(table.ports))

    def _take_link(self, port: int) -> Link | None:
        """An idle kept-alive link to ``port``; links to ports no longer routed are closed first."""
        table = self.table
        if table is not self._pooled_for:
            live = set(table.ports.values())
            for stale in [p for p in self._idle if p not in live]:
                for link in self._idle.pop(stale):
                    link.close()
            self._pooled_for = table
        idle = self._idle.get(port)
        return idle.pop() if idle else None

    def _give_back(self, link: Link) -> None:
        idle = self._idle.setdefault(link.port, [])
        if len(idle) < _IDLE_LINKS and link.reusable():
            idle.append(link)
        else:
            link.close()

    async def forward(
        self, name: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, bool]:
        """Send one request to a deployment: (status, headers, body, died before answering)."""
        port = self.table.ports.get(name)
        if port is None:
            return 503, {}, _error(f"deployment '{name}' does not exist"), False
        for attempt in (1, 2):
            link = self._take_link(port) if attempt == 1 else None  # a retry opens a fresh one
            try:
                async with asyncio.timeout(self.backend_timeout_s):
                    if link is None:
                        link = await Link.open(port)
                    status, out, data = await link.exchange(method, path, headers, body)
            except TimeoutError:
                if link is not None:
                    link.close()
                return (
                    504,
                    {},
                    _error(f"deployment '{name}' did not answer within {self.backend_timeout_s}s"),
                    False,
                )
            except _DIED as exc:
                if link is not None:
                    link.close()
                if attempt == 1 and not isinstance(exc, ConnectionRefusedError):
                    continue  # a kept-alive connection the server had closed: reconnect once
                self.down.add(name)
                return 502, {}, _error(f"deployment '{name}' is unreachable: {type(exc).__name__}"), True
            except (OSError, h11.ProtocolError) as exc:
                if link is not None:
                    link.close()
                return 502, {}, _error(f"deployment '{name}' is unreachable: {type(exc).__name__}"), False
            self._give_back(link)
            return status, out, data, False
        raise AssertionError("unreachable")

    async def mirror_worker(self) -> None:
        """Background task: send mirrored copies; measure and discard their answers."""
        assert self.mirror_queue is not None
        while True:
            name, body, headers = await self.mirror_queue.get()
            started = time.perf_counter()
            status, _, data, _ = await self.forward(name, "POST", "/score", body, headers)
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
    async def handle(
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
            return await self._proxy(method, target, headers, body)
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

    async def _proxy(
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
        status, out, data, died = await self.forward(name, method, target, body, forward)
        self.metrics.record(name, status, (time.perf_counter() - started) * 1e3)
        if died and not wanted:  # nothing was scored: one more try on a healthy deployment
            other = self.choose(headers.get(CLIENT_HEADER), {name})
            if other is not None:
                name, retried = other, time.perf_counter()
                status, out, data, _ = await self.forward(name, method, target, body, forward)
                self.metrics.record(name, status, (time.perf_counter() - retried) * 1e3)
        out[DEPLOYMENT_HEADER] = name
        if labelled:
            self.record_labelled(name, status, body, data)
        mirror = table.mirror
        if mirror and not wanted and method == "POST" and self.picker.mirror_now(mirror[1]):
            try:
                if self.mirror_queue is None:
                    raise asyncio.QueueFull
                self.mirror_queue.put_nowait((mirror[0], body, forward))
            except asyncio.QueueFull:
                self.mirror_dropped += 1
        return status, out, data


class Connection:
    """One client connection: h11 parses, ``Router.handle`` answers, bodies are bounded; a client
    silent for ``idle_timeout_s`` is disconnected."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        router: Router,
        max_body_bytes: int,
        idle_timeout_s: float,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.idle_timeout_s = idle_timeout_s
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_HEADER_LIMIT)

    async def _next(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                async with asyncio.timeout(self.idle_timeout_s):
                    data = await self.reader.read(_READ_CHUNK)
            except OSError:  # TimeoutError included: a silent client counts as gone
                data = b""
            self.conn.receive_data(data)

    async def _send(self, status: int, headers: dict[str, str], body: bytes, close: bool = False) -> None:
        out = {"content-type": "application/json", **headers, "content-length": str(len(body))}
        if close:
            out["connection"] = "close"
        wire = self.conn.send(h11.Response(status_code=status, headers=list(out.items())))
        wire += self.conn.send(h11.Data(data=body)) if body else b""
        wire += self.conn.send(h11.EndOfMessage())
        self.writer.write(wire)
        async with asyncio.timeout(self.idle_timeout_s):
            await self.writer.drain()

    async def _read_body(self, request: h11.Request) -> bytes | None:
        """The whole body, or None after answering 413 (too large: refused before it is buffered)."""
        limit = self.max_body_bytes
        length = dict(request.headers).get(b"content-length")
        if length is not None and int(length) > limit:
            await self._send(
                413, {}, _error(f"payload of {int(length)} bytes exceeds the limit of {limit}"), close=True
            )
            return None
        if self.conn.they_are_waiting_for_100_continue:
            self.writer.write(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        parts, size = [], 0
        while True:
            event = await self._next()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    await self._send(
                        413, {}, _error(f"payload exceeds the limit of {limit} bytes"), close=True
                    )
                    return None
                parts.append(bytes(event.data))
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def serve(self) -> None:
        try:
            while True:
                try:
                    event = await self._next()
                    if not isinstance(event, h11.Request):
                        return  # ConnectionClosed (or a client that went away mid-request)
                    if not await self._answer(event):
                        return
                except h11.RemoteProtocolError as exc:
                    if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        await self._send(exc.error_status_hint, {}, _error(f"bad request: {exc}"), close=True)
                    return
                except (OSError, h11.LocalProtocolError):
                    raise
                except Exception as exc:  # a router bug answers 500 and is logged, never a dropped connection
                    traceback.print_exc(file=sys.stderr)
                    if self.conn.our_state is h11.SEND_RESPONSE:
                        await self._send(
                            500, {}, _error(f"router error: {type(exc).__name__}: {exc}"), close=True
                        )
                    return
                if self.conn.our_state is h11.MUST_CLOSE or self.conn.their_state is h11.MUST_CLOSE:
                    return
                self.conn.start_next_cycle()
        except (OSError, h11.LocalProtocolError):
            return
        finally:
            self.writer.close()

    async def _answer(self, request: h11.Request) -> bool:
        """Answer one request; False when the connection must close."""
        if request.http_version not in (b"1.0", b"1.1"):
            version = request.http_version.decode("ascii", "replace")
            await self._send(505, {}, _error(f"HTTP/{version} is not supported: use HTTP/1.1"), close=True)
            return False
        names = [k for k, _ in request.headers]
        if b"transfer-encoding" in names and b"content-length" in names:
            await self._send(
                400, {}, _error("both Content-Length and Transfer-Encoding: send one"), close=True
            )
            return False
        method = request.method.decode("ascii", "replace")
        try:
            target = request.target.decode("ascii")
        except UnicodeDecodeError:
            await self._send(400, {}, _error("the request target must be ASCII"), close=True)
            return False
        body = await self._read_body(request)
        if body is None:
            return False
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        status, out, data = await self.router.handle(method, target, headers, body)
        if method == "HEAD":
            data = b""
        await self._send(status, out, data)
        return True


async def _serve(args: argparse.Namespace) -> None:
    router = Router(
        Path(args.state),
        args.backend_timeout_s,
        args.metrics_capacity,
        args.mirror_queue,
        args.probe_interval_s,
        args.probe_timeout_s,
    )
    router.mirror_queue = asyncio.Queue(maxsize=router.mirror_capacity)
    background = [
        asyncio.create_task(work())
        for work in (router.mirror_worker, router.watch_state, router.watch_backends)
    ]

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Connection(reader, writer, router, args.max_body_bytes, args.backend_timeout_s).serve()

    listener = socket.create_server((HOST, args.port), backlog=args.backlog)
    # asyncio listens again on the socket: give it the same backlog
    server = await asyncio.start_server(connected, sock=listener, backlog=args.backlog)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    port = listener.getsockname()[1]
    write_json(args.ready_file, {"pid": os.getpid(), "port": port})
    print(f"router: listening on http://{HOST}:{port}", flush=True)
    try:
        await stopped.wait()
    finally:
        for task in background:
            task.cancel()
        server.close()


def serve(args: argparse.Namespace) -> None:
    asyncio.run(_serve(args))


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
