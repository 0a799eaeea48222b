"""The local endpoint: each deployment an ``azmlinfsrv`` process on its own port, behind the router.

State lives in ``<state dir>/endpoint/state.json`` (written atomically under ``state.lock``, checked
against ``ctloop.rollout.state.STATE_SCHEMA`` on every read)::

    {"endpoint": name, "router": {"pid", "start_ticks", "token", "port"}, "router_port": port,
     "deployments": {slot: {"model_name", "model_version", "model_dir", "port", "pid", "start_ticks",
                            "token", "started", "log_dir", "server_log", "workers"}},
     "traffic": {slot: percent}, "mirror": {slot: percent},
     "starting": {slot: {"pid", "start_ticks", "token", "model_dir"}}}  # booting, not yet serving

It survives the CLI: processes are found again by pid, start ticks and token (``procs``), and every
process carries this endpoint's folder as its owner, so ``down`` stops all of them, recorded or
not. The router keeps its port across restarts (``router.port``, or the one it had). Deployment
logs (model data collector JSON lines) go to ``<state dir>/endpoint/<slot>/logs/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import psutil

from ctloop import paths
from ctloop.rollout import procs
from ctloop.rollout.endpoint import (
    DeploymentInfo,
    DeploymentMetrics,
    DeploymentResources,
    DeploymentSpec,
    Endpoint,
    EndpointError,
    ScoringTarget,
    check_mirror,
    check_traffic,
)
from ctloop.rollout.jsonfile import StateError, locked, read_json, write_json
from ctloop.rollout.policy import RolloutPolicy
from ctloop.rollout.specs import endpoint_name, local_settings
from ctloop.rollout.state import read_state
from ctloop.serving.launch import BIND_HOST_ENV

HOST = "127.0.0.1"
#: Overrides ``router.port`` (0: a free port, then kept); the test suite sets 0.
ROUTER_PORT_ENV = "CTLOOP_ROUTER_PORT"
# Bodies up to this many times serving.max_payload_bytes reach the deployment (which answers 413).
_BODY_FACTOR = 16


def endpoint_home() -> Path:
    return paths.state_dir() / "endpoint"


def _http(port: int, method: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _server_command() -> list[str]:
    """azmlinfsrv, started through ``ctloop.serving.launch`` (which binds the configured address)."""
    return [sys.executable, "-m", "ctloop.serving.launch"]


class LocalEndpoint(Endpoint):
    """Deployments as local processes; traffic through a local router on 127.0.0.1."""

    def __init__(
        self, policy: RolloutPolicy, endpoints_dir: str | Path, home: str | Path | None = None
    ) -> None:
        self.policy = policy
        self.endpoints_dir = Path(endpoints_dir)
        self.name = endpoint_name(self.endpoints_dir)
        self.home = Path(home) if home else endpoint_home()
        self.state_path = self.home / "state.json"
        self.lock_path = self.home / "state.lock"
        self.owner = str(self.home.resolve())
        self._workers: dict[tuple[str, int], set[int]] = {}

    # --- state -------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The checked state (StateError for a file that breaks the schema; defaults when absent)."""
        state = read_state(self.state_path) or {}
        state.setdefault("endpoint", self.name)
        for key in ("deployments", "traffic", "mirror", "starting"):
            state.setdefault(key, {})
        return state

    @contextlib.contextmanager
    def _editing(self) -> Iterator[dict[str, Any]]:
        """Read-modify-write the state under the lock, then tell the router."""
        with locked(self.lock_path):
            state = self.state()
            yield state
            state["updated"] = time.time()
            write_json(self.state_path, state)
        self._notify_router(state)

    def _notify_router(self, state: Mapping[str, Any]) -> None:
        ref = procs.ProcessRef.from_dict(state.get("router"))
        if ref is None or not procs.is_running(ref):
            return
        with contextlib.suppress(OSError):
            _http(int(state["router"]["port"]), "POST", "/_ctloop/reload")

    # --- router ------------------------------------------------------------------------------
    def router_port(self) -> int | None:
        router = self.state().get("router") or {}
        ref = procs.ProcessRef.from_dict(router)
        return int(router["port"]) if ref and procs.is_running(ref) else None

    def ensure_router(self, port: int | None = None) -> int:
        """Start the router unless it runs; return its port (``port``, else ``$CTLOOP_ROUTER_PORT``,
        else a non-zero ``router.port``, else the port it had before, else a free one)."""
        with locked(self.home / "router.lock"):
            return self._ensure_router(port)

    def _wanted_port(self, port: int | None, state: Mapping[str, Any]) -> int:
        if port is not None:
            return port
        env = os.environ.get(ROUTER_PORT_ENV, "").strip()
        if env:
            if not env.isdigit() or int(env) > 65535:
                raise EndpointError(f"${ROUTER_PORT_ENV}={env!r}: expected a port number 0-65535")
            configured = int(env)
        else:
            configured = int(self.policy.router["port"])
        return configured or int(state.get("router_port") or 0)

    def _ensure_router(self, port: int | None) -> int:
        running = self.router_port()
        if running:
            return running
        port = self._wanted_port(port, self.state())
        ready = self.home / "router.json"
        ready.unlink(missing_ok=True)
        router = self.policy.router
        cmd = [
            sys.executable,
            "-m",
            "ctloop.rollout.router",
            "--state",
            str(self.state_path),
            "--ready-file",
            str(ready),
            "--port",
            str(port),
            "--backend-timeout-s",
            str(router["backend_timeout_s"]),
            "--metrics-capacity",
            str(router["metrics_capacity"]),
            "--mirror-queue",
            str(router["mirror_queue"]),
            "--max-body-bytes",
            str(int(self.policy.serving["max_payload_bytes"]) * _BODY_FACTOR),
            "--probe-interval-s",
            str(self.policy.router["probe_interval_s"]),
            "--probe-timeout-s",
            str(self.policy.router["probe_timeout_s"]),
            "--backlog",
            str(self.policy.router["backlog"]),
        ]
        env = {**os.environ, "PYTHONPATH": pythonpath(self.home)}
        ref = procs.start_detached(cmd, env, self.home, self.home / "router.log", owner=self.owner)
        timeout = float(self.policy.deployment["ready_timeout_s"])

        def listening() -> bool:
            info = read_json(ready, None)
            return bool(info and info.get("pid") == ref.pid) or not procs.is_running(ref)

        if not procs.wait_until(listening, timeout) or not procs.is_running(ref):
            procs.stop(ref, float(self.policy.deployment["stop_timeout_s"]))
            tail = procs.log_tail(self.home / "router.log")
            raise EndpointError(f"router did not start within {timeout:.0f}s:\n{tail}")
        actual = int(read_json(ready)["port"])
        with self._editing() as state:
            state["router"] = {**ref.to_dict(), "port": actual}
            state["router_port"] = actual
        return actual

    # --- Endpoint ----------------------------------------------------------------------------
    def deployments(self) -> dict[str, DeploymentInfo]:
        out = {}
        for name, d in self.state()["deployments"].items():
            ref = procs.ProcessRef.from_dict(d)
            out[name] = DeploymentInfo(
                name=name,
                model_name=d.get("model_name", ""),
                model_version=str(d.get("model_version", "")),
                healthy=procs.is_running(ref),
                detail={
                    k: d.get(k) for k in ("port", "pid", "model_dir", "log_dir", "server_log", "started")
                },
            )
        return out

    def traffic(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.state()["traffic"].items()}

    def mirror(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.state()["mirror"].items() if v}

    def create_or_update_deployment(self, spec: DeploymentSpec) -> DeploymentInfo:
        if spec.model_dir is None or not (Path(spec.model_dir) / "MLmodel").is_file():
            raise EndpointError(
                f"deployment '{spec.name}': model folder {spec.model_dir} has no MLmodel file"
            )
        settings = local_settings(self.endpoints_dir, spec.name)
        self.ensure_router()
        slot_dir = self.home / spec.name
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{os.urandom(3).hex()}"
        model_copy = slot_dir / f"model-{spec.model_version}-{stamp}"
        shutil.copytree(spec.model_dir, model_copy)
        log_dir = slot_dir / "logs"
        server_log = slot_dir / f"server-{stamp}.log"
        port = procs.free_port()
        code_dir = pinned_code(self.home, settings.code_dir)
        scoring_script = code_dir / settings.scoring_script.relative_to(settings.code_dir)
        env = {
            **os.environ,
            **settings.environment,
            "PYTHONPATH": pythonpath(self.home, code_dir),
            "AZUREML_MODEL_DIR": str(model_copy),
            "AML_APP_ROOT": str(code_dir),
            "CTLOOP_MODEL_VERSION": str(spec.model_version),
            "CTLOOP_DEPLOYMENT": spec.name,
            "CTLOOP_ENDPOINT": self.name,
            "CTLOOP_SERVING_LOG_DIR": str(log_dir),
            "CTLOOP_SERVING_POLICY": json.dumps(self.policy.serving, sort_keys=True),
            "SCORING_TIMEOUT_MS": str(self.policy.serving["scoring_timeout_ms"]),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            BIND_HOST_ENV: str(self.policy.deployment["bind_host"]),
        }
        cmd = [
            *_server_command(),
            "--entry_script",
            str(scoring_script),
            "--model_dir",
            str(model_copy),
            "--port",
            str(port),
            "--worker_count",
            str(settings.workers),
        ]
        self._clear_starting(spec.name)
        ref = procs.start_detached(cmd, env, code_dir, server_log, owner=self.owner)
        # recorded at once, so a caller killed while it boots leaves no untracked process
        with self._editing() as state:
            state.setdefault("starting", {})[spec.name] = {**ref.to_dict(), "model_dir": str(model_copy)}
        try:
            self._wait_ready(spec.name, ref, port, server_log, model_copy)
        finally:
            with self._editing() as state:
                state.setdefault("starting", {}).pop(spec.name, None)
        entry = {
            **ref.to_dict(),
            "model_name": spec.model_name,
            "model_version": str(spec.model_version),
            "model_dir": str(model_copy),
            "port": port,
            "started": time.time(),
            "log_dir": str(log_dir),
            "server_log": str(server_log),
            "workers": settings.workers,
        }
        with self._editing() as state:
            previous = state["deployments"].get(spec.name)
            state["deployments"][spec.name] = entry
            state["traffic"].setdefault(spec.name, 0)
        if previous:
            self._retire(previous)
        return self.deployments()[spec.name]

    def _clear_starting(self, name: str | None = None) -> None:
        """Stop processes a killed caller left booting (all of them when ``name`` is None)."""
        with self._editing() as state:
            starting = state.setdefault("starting", {})
            stale = {k: starting.pop(k) for k in list(starting) if name is None or k == name}
        for entry in stale.values():
            self._retire(entry)

    def _wait_ready(self, name: str, ref: procs.ProcessRef, port: int, log: Path, model_copy: Path) -> None:
        timeout = float(self.policy.deployment["ready_timeout_s"])

        def ready() -> bool:
            if not procs.is_running(ref):
                return True
            try:
                return _http(port, "GET", "/", timeout=2.0)[0] == 200
            except OSError:
                return False

        if procs.wait_until(ready, timeout, 0.2) and procs.is_running(ref):
            return
        procs.stop(ref, float(self.policy.deployment["stop_timeout_s"]))
        shutil.rmtree(model_copy, ignore_errors=True)
        raise EndpointError(
            f"deployment '{name}' did not become ready within {timeout:.0f}s "
            f"(log {log}):\n{procs.log_tail(log)}"
        )

    def _retire(self, entry: Mapping[str, Any]) -> None:
        """Stop the entry's process; delete its model copy unless a live process still serves it."""
        procs.stop(procs.ProcessRef.from_dict(entry), float(self.policy.deployment["stop_timeout_s"]))
        self._remove_model_copy(entry.get("model_dir"))

    def _remove_model_copy(self, model_dir: str | None) -> None:
        if model_dir and not procs.uses_path(self.owner, model_dir):
            shutil.rmtree(model_dir, ignore_errors=True)

    def set_traffic(self, weights: Mapping[str, int]) -> None:
        with self._editing() as state:
            names = set(state["deployments"])
            checked = check_traffic(weights, names)
            state["traffic"] = {name: checked.get(name, 0) for name in names}
            state["mirror"] = {k: v for k, v in state["mirror"].items() if not state["traffic"].get(k)}

    def set_mirror(self, mirror: Mapping[str, int]) -> None:
        with self._editing() as state:
            state["mirror"] = check_mirror(mirror, state["traffic"], set(state["deployments"]))

    def metrics(self, since: float, primary_metric: str | None = None) -> dict[str, DeploymentMetrics]:
        port = self.router_port()
        if port is None:
            raise EndpointError("the local router is not running (ctloop endpoint up)")
        query = f"/_ctloop/metrics?since={since!r}" + (f"&metric={primary_metric}" if primary_metric else "")
        status, body = _http(port, "GET", query, timeout=30.0)
        if status != 200:
            raise EndpointError(f"router metrics answered {status}: {body[:200]!r}")
        return {
            k: DeploymentMetrics(**{f: v[f] for f in v if f != "error_rate"})
            for k, v in json.loads(body).items()
        }

    def resources(self) -> dict[str, DeploymentResources]:
        """Resident memory (all processes of each deployment) and worker restarts so far."""
        out = {}
        for name, entry in self.state()["deployments"].items():
            ref = procs.ProcessRef.from_dict(entry)
            if ref is None or not procs.is_running(ref):
                out[name] = DeploymentResources(name, alive=False)
                continue
            try:
                leader = psutil.Process(ref.pid)
                members = [leader, *leader.children(recursive=True)]
                rss = 0
                for p in members:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        rss += p.memory_info().rss
                workers = {p.pid for p in leader.children(recursive=False)}
            except psutil.NoSuchProcess:
                out[name] = DeploymentResources(name, alive=False)
                continue
            seen = self._workers.setdefault((name, ref.pid), set())
            seen |= workers
            expected = int(entry.get("workers") or 1)
            out[name] = DeploymentResources(
                name, alive=True, rss_mb=rss / 2**20, restarts=max(0, len(seen) - expected)
            )
        return out

    def delete_deployment(self, name: str) -> None:
        with self._editing() as state:
            if name not in state["deployments"]:
                return
            if state["traffic"].get(name):
                raise EndpointError(
                    f"deployment '{name}' takes {state['traffic'][name]}% of traffic: move it first"
                )
            entry = state["deployments"].pop(name)
            state["traffic"].pop(name, None)
            state["mirror"].pop(name, None)
        self._retire(entry)

    def scoring_target(self) -> ScoringTarget:
        return ScoringTarget(url=f"http://{HOST}:{self.ensure_router()}/score")

    # --- whole endpoint ------------------------------------------------------------------------
    def revive(self) -> list[str]:
        """Restart every recorded deployment whose process is gone (after a reboot, a crash), from
        its own model copy, keeping its traffic share; stop any left booting. Returns the restarted."""
        self._clear_starting()
        revived = []
        for name, entry in self.state()["deployments"].items():
            if procs.is_running(procs.ProcessRef.from_dict(entry)):
                continue
            spec = DeploymentSpec(
                name,
                entry.get("model_name", ""),
                str(entry.get("model_version", "")),
                Path(entry["model_dir"]),
            )
            self.create_or_update_deployment(spec)
            revived.append(name)
        return revived

    def down(self) -> list[str]:
        """Stop every deployment and the router, and any other process this endpoint ever started
        (earlier runs, lost records); keep the logs. Returns what was stopped."""
        stopped = []
        timeout = float(self.policy.deployment["stop_timeout_s"])
        with locked(self.lock_path):
            try:
                state = self.state()
            except StateError:  # a broken file must not keep processes alive
                state = {"deployments": {}, "starting": {}}
            for name, entry in state["deployments"].items():
                if procs.stop(procs.ProcessRef.from_dict(entry), timeout):
                    stopped.append(name)
            for entry in (state.get("starting") or {}).values():
                procs.stop(procs.ProcessRef.from_dict(entry), timeout)
            if procs.stop(procs.ProcessRef.from_dict(state.get("router")), timeout):
                stopped.append("router")
            others = procs.stop_owned(self.owner, timeout)
            if others:
                stopped.append(f"{len(others)} unrecorded process(es)")
            for entry in [*state["deployments"].values(), *(state.get("starting") or {}).values()]:
                if entry.get("model_dir"):
                    shutil.rmtree(entry["model_dir"], ignore_errors=True)
            fresh: dict[str, Any] = {"endpoint": self.name, "deployments": {}, "traffic": {}, "mirror": {}}
            if state.get("router_port"):
                fresh["router_port"] = int(state["router_port"])
            write_json(self.state_path, fresh)
        return stopped

    # --- the Endpoint interface's lifecycle ----------------------------------------------------
    def bring_up(self, port: int | None = None) -> list[str]:
        router = self.ensure_router(port)
        lines = [f"endpoint {self.name}: router on http://{HOST}:{router}/score"]
        lines += [f"deployment {name}: was not running; restarted" for name in self.revive()]
        return lines

    def describe(self) -> list[str]:
        port = self.router_port()
        return [f"router: http://{HOST}:{port}/score" if port else "router: not running (ctloop endpoint up)"]

    def fetch_model(self, model_name: str, version: str) -> Path | None:
        from ctloop.rollout.registry_adapter import RolloutRegistry

        dest = self.home / "models" / f"{model_name}-{version}"
        return RolloutRegistry(model_name).fetch(version, dest)


_CODE_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")


def _code_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).parts
        if (
            path.is_file()
            and path.suffix != ".pyc"
            and not any(p.startswith(".") or p == "__pycache__" or p.endswith(".egg-info") for p in rel)
        ):
            yield path


def pinned_code(home: Path, folder: Path) -> Path:
    """A copy of ``folder`` under the endpoint's ``home``, named by its content, that outlives the caller.

    A pipeline step runs from a code snapshot the engine deletes when the step ends, while the
    router, the deployments and the watchdog it starts keep running and import lazily: they run
    from the endpoint's own copy, as Azure ML keeps a deployment's uploaded code. Identical code
    shares one copy; it is written beside its final name and renamed into place.
    """
    folder = folder.resolve()
    if folder.is_relative_to(home.resolve()):
        return folder
    digest = hashlib.sha256()
    for path in _code_files(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    target = home / "code" / digest.hexdigest()[:16]
    if not target.is_dir():
        staging = target.with_name(f".{target.name}-{os.getpid()}-{os.urandom(3).hex()}")
        shutil.copytree(folder, staging, ignore=_CODE_SKIP)
        try:
            staging.rename(target)
        except OSError:  # another process pinned the same code first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def pythonpath(home: Path, *first: Path) -> str:
    """PYTHONPATH for a process the endpoint starts: the deployment's code, then this ``ctloop``,
    both from the endpoint's pinned copies (see :func:`pinned_code`)."""
    package_root = pinned_code(home, Path(__file__).resolve().parents[2])
    return os.pathsep.join(dict.fromkeys([str(p) for p in first] + [str(package_root)]))


def open_local_endpoint(policy: RolloutPolicy, endpoints_dir: str | Path) -> LocalEndpoint:
    """The local endpoint under the state folder."""
    return LocalEndpoint(policy, endpoints_dir)
