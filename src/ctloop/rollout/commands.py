"""``ctloop endpoint up|status|invoke|split|down`` and ``ctloop rollout start|status|resume|rollback``.

Exit codes: 0 done; 1 the rollout was rolled back or an operation failed; 2 invalid input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ctloop import paths
from ctloop.rollout import IMPLEMENTATIONS
from ctloop.rollout.specs import DEFAULT_ENDPOINTS_DIR

TARGET_ENV = "CTLOOP_TARGET"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policies", type=Path, default=None, help="policies folder (default: ./policies)")
    parser.add_argument("--endpoints", type=Path, default=DEFAULT_ENDPOINTS_DIR, help="endpoint YAML folder")
    parser.add_argument(
        "--target",
        choices=tuple(IMPLEMENTATIONS),
        default=os.environ.get(TARGET_ENV) or "local",
        help="local router + azmlinfsrv, or an Azure ML managed online endpoint",
    )
    parser.add_argument(
        "--stack", default=None, help="Pulumi stack whose workspace and endpoint to use (azure target)"
    )


def register(subparsers: Any) -> None:
    """Add the ``endpoint`` and ``rollout`` verbs."""
    ep = subparsers.add_parser("endpoint", help="the online endpoint: deployments, traffic, metrics")
    esub = ep.add_subparsers(dest="endpoint_command", metavar="<command>")

    up = esub.add_parser("up", help="start the endpoint (local router); optionally add a deployment at 0%%")
    _common(up)
    up.add_argument(
        "--port", type=int, default=None, help="router port (default: router.port, or the one it had)"
    )
    up.add_argument("--deployment", choices=("blue", "green"), help="slot to create or update")
    up.add_argument("--model-dir", type=Path, help="MLflow model folder to serve")
    up.add_argument("--model-name", help="registered model name (with --version)")
    up.add_argument("--version", help="registered version to serve (fetched from the registry)")
    up.set_defaults(func=_endpoint_up)

    st = esub.add_parser("status", help="deployments, traffic and per-deployment metrics")
    _common(st)
    st.add_argument("--since", type=float, default=None, help="only the last SECONDS of requests")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=_endpoint_status)

    inv = esub.add_parser("invoke", help="send one scoring request through the endpoint")
    _common(inv)
    src = inv.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="JSON request body")
    src.add_argument("--body", help="JSON request body as a string")
    inv.add_argument("--deployment", help="send to this deployment whatever the weights")
    inv.set_defaults(func=_endpoint_invoke)

    sp = esub.add_parser("split", help="set live traffic, e.g. 'blue=90 green=10' (A/B)")
    _common(sp)
    sp.add_argument("weights", nargs="+", metavar="NAME=PERCENT")
    sp.set_defaults(func=_endpoint_split)

    down = esub.add_parser("down", help="stop the endpoint, or delete one deployment (--deployment)")
    _common(down)
    down.add_argument("--deployment", help="delete only this deployment (must take no traffic)")
    down.set_defaults(func=_endpoint_down)

    ro = subparsers.add_parser("rollout", help="blue/green rollout with automatic rollback")
    rsub = ro.add_subparsers(dest="rollout_command", metavar="<command>")
    start = rsub.add_parser("start", help="roll a model version out (smoke, canary, promote or roll back)")
    _common(start)
    start.add_argument("--model-name", help="registered model name (or from --registration)")
    start.add_argument("--version", help="version (default: the champion; or from --registration)")
    start.add_argument("--model-dir", type=Path, help="use this model folder instead of fetching the version")
    start.add_argument("--registration", type=Path, help="registration.json of the register step")
    start.add_argument(
        "--eval", type=Path, required=True, help="labelled data: dataset folder or Parquet file"
    )
    start.add_argument("--result", type=Path, help="write the final rollout state here (JSON)")
    start.add_argument(
        "--no-watchdog",
        action="store_true",
        help="do not start the watchdog that resumes the rollout if this controller dies",
    )
    start.set_defaults(func=_rollout_start)

    wd = rsub.add_parser(
        "watchdog", help="resume the unfinished rollout whenever no controller runs it, until it ends"
    )
    _common(wd)
    wd.add_argument("--once", action="store_true", help="check once (for cron) instead of watching")
    wd.add_argument("--rollout-id", help="watch only this rollout (default: whichever is unfinished)")
    wd.set_defaults(func=_rollout_watchdog)

    rst = rsub.add_parser("status", help="the last rollout's stage, checks and history")
    _common(rst)
    rst.add_argument("--json", action="store_true")
    rst.set_defaults(func=_rollout_status)

    res = rsub.add_parser("resume", help="continue an interrupted rollout (old slot back to 100%% first)")
    _common(res)
    res.add_argument("--result", type=Path, help="write the final rollout state here (JSON)")
    res.set_defaults(func=_rollout_resume)

    rb = rsub.add_parser(
        "rollback", help="abort the rollout: old slot 100%%, new slot deleted, version rejected"
    )
    _common(rb)
    rb.add_argument("--reason", default="manual rollback", help="recorded in the registry")
    rb.add_argument("--result", type=Path, help="write the final rollout state here (JSON)")
    rb.set_defaults(func=_rollout_rollback)

    for parser, name in ((ep, "endpoint"), (ro, "rollout")):
        parser.set_defaults(func=lambda _a, p=parser, n=name: (p.print_help(), 2)[1])


# --- wiring ----------------------------------------------------------------------------------
def _policy(args: argparse.Namespace) -> Any:
    from ctloop.rollout.policy import load_rollout_policy

    return load_rollout_policy(args.policies)


def _endpoint(args: argparse.Namespace, policy: Any) -> Any:
    from ctloop.rollout import open_endpoint

    if getattr(args, "stack", None) and args.target == "azure":  # the stack's workspace, endpoint
        from ctloop.gitops.names import stack_environment

        os.environ.update(stack_environment(Path.cwd(), args.stack))

    return open_endpoint(args.target, policy, args.endpoints)


def _controller(args: argparse.Namespace) -> Any:
    from ctloop.rollout.controller import Controller
    from ctloop.rollout.local import endpoint_home
    from ctloop.rollout.registry_adapter import RolloutRegistry

    policy = _policy(args)
    return Controller(_endpoint(args, policy), policy, RolloutRegistry, endpoint_home(), args.policies)


def _guard(func: Any) -> Any:
    """Turn the expected errors into one line on stderr and the documented exit code."""

    def wrapper(args: argparse.Namespace) -> int:
        from ctloop.policies import PolicyError
        from ctloop.registry.base import RegistryError
        from ctloop.rollout.controller import RolloutError
        from ctloop.rollout.endpoint import EndpointError
        from ctloop.rollout.jsonfile import StateError
        from ctloop.rollout.traffic import TrafficError
        from ctloop.serving.model import ModelError

        try:
            return int(func(args) or 0)
        except (PolicyError, TrafficError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (EndpointError, RolloutError, StateError, RegistryError, ModelError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    wrapper.__name__ = func.__name__
    return wrapper


# --- endpoint --------------------------------------------------------------------------------
@_guard
def _endpoint_up(args: argparse.Namespace) -> int:
    from ctloop.rollout.endpoint import DeploymentSpec, EndpointError

    policy = _policy(args)
    endpoint = _endpoint(args, policy)
    for line in endpoint.bring_up(args.port):
        print(line)
    if not args.deployment:
        if args.model_dir or args.version:
            raise EndpointError("name the slot with --deployment blue|green")
        return 0
    model_dir, name, version = _resolve_model(args, endpoint)
    info = endpoint.create_or_update_deployment(DeploymentSpec(args.deployment, name, version, model_dir))
    if not any(endpoint.traffic().values()):
        endpoint.set_traffic({args.deployment: 100})
    print(f"deployment {info.name}: {name}:{version} ready; traffic {endpoint.traffic()}")
    return 0


def _resolve_model(args: argparse.Namespace, endpoint: Any) -> tuple[Path | None, str, str]:
    from ctloop.rollout.endpoint import EndpointError

    if args.model_dir:
        return args.model_dir, args.model_name or args.model_dir.name, args.version or "local"
    if not (args.model_name and args.version):
        raise EndpointError("give --model-dir, or --model-name and --version")
    return endpoint.fetch_model(args.model_name, args.version), args.model_name, args.version


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


@_guard
def _endpoint_status(args: argparse.Namespace) -> int:
    policy = _policy(args)
    endpoint = _endpoint(args, policy)
    metric = policy.health.get("primary_metric")
    since = time.time() - args.since if args.since else 0.0
    deployments, traffic, mirror = endpoint.deployments(), endpoint.traffic(), endpoint.mirror()
    try:
        metrics = endpoint.metrics(since, metric)
    except Exception as exc:  # a stopped router: show the rest
        metrics, problem = {}, str(exc)
    else:
        problem = None
    if args.json:
        out = {
            "endpoint": endpoint.name,
            "traffic": traffic,
            "mirror": mirror,
            "deployments": {
                k: {**v.__dict__, "metrics": metrics[k].to_dict() if k in metrics else None}
                for k, v in deployments.items()
            },
            "problem": problem,
        }
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"endpoint {endpoint.name} ({args.target})")
    for line in endpoint.describe():
        print(line)
    head = (
        "DEPLOYMENT",
        "MODEL",
        "TRAFFIC",
        "MIRROR",
        "STATE",
        "REQUESTS",
        "ERRORS",
        "ERR%",
        "P50ms",
        "P95ms",
        "P99ms",
        "LABELLED",
        (metric or "METRIC").upper(),
    )
    rows = [head]
    for name in sorted(set(deployments) | set(metrics)):
        d, m = deployments.get(name), metrics.get(name)
        rows.append(
            (
                name,
                f"{d.model_name}:{d.model_version}" if d else "(deleted)",
                f"{traffic.get(name, 0)}%",
                f"{mirror[name]}%" if name in mirror else "-",
                ("running" if d.healthy else "DOWN") if d else "-",
                str(m.requests) if m else "0",
                str(m.errors) if m else "0",
                _fmt(100 * m.error_rate if m else None, ".2f"),
                _fmt(m.p50_ms if m else None),
                _fmt(m.p95_ms if m else None),
                _fmt(m.p99_ms if m else None),
                str(m.labelled_rows) if m else "0",
                _fmt(m.primary_metric if m else None, ".3f"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if problem:
        print(f"metrics unavailable: {problem}")
    return 0


@_guard
def _endpoint_invoke(args: argparse.Namespace) -> int:
    from ctloop.rollout.traffic import ScoringClient

    endpoint = _endpoint(args, _policy(args))
    body = args.file.read_bytes() if args.file else args.body.encode()
    client = ScoringClient(endpoint.scoring_target(), timeout_s=60)
    try:
        answer = client.post(body, deployment=args.deployment, labelled=False)
    finally:
        client.close()
    print(
        json.dumps(
            {
                "status": answer.status,
                "deployment": answer.deployment,
                "latency_ms": round(answer.latency_ms, 2),
                "body": answer.payload,
                "error": answer.error,
            },
            indent=2,
        )
    )
    return 0 if answer.status == 200 else 1


@_guard
def _endpoint_split(args: argparse.Namespace) -> int:
    from ctloop.rollout.endpoint import EndpointError, parse_split

    try:
        weights = parse_split(args.weights)
    except EndpointError as exc:
        raise ValueError(str(exc)) from None
    endpoint = _endpoint(args, _policy(args))
    endpoint.set_traffic(weights)
    print(f"traffic: {endpoint.traffic()}")
    return 0


@_guard
def _endpoint_down(args: argparse.Namespace) -> int:
    endpoint = _endpoint(args, _policy(args))
    if args.deployment:
        endpoint.delete_deployment(args.deployment)
        print(f"deployment {args.deployment} deleted")
        return 0
    stopped = endpoint.down()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


# --- rollout ---------------------------------------------------------------------------------
def _request(args: argparse.Namespace) -> Any:
    from ctloop.rollout.controller import RolloutRequest
    from ctloop.rollout.registry_adapter import RolloutRegistry

    name, version, model_dir = args.model_name, args.version, args.model_dir
    if args.registration:
        reg = read_registration(args.registration)
        name, version = name or reg["model_name"], version or reg["version"]
        model_dir = model_dir or reg.get("model_dir")
    if not name:
        raise ValueError("rollout start: give --model-name or --registration")
    if not version:
        version = RolloutRegistry(name).champion_version()
        if not version:
            raise ValueError(f"rollout start: {name} has no champion; give --version")
    return RolloutRequest(model_name=name, version=str(version), eval_path=args.eval, model_dir=model_dir)


def read_registration(path: Path) -> dict[str, Any]:
    """``model_name`` and ``version`` (required) and a local ``model_dir`` (when ``source`` or
    ``model_uri`` names an existing folder) from the register step's registration.json."""
    file = path / "registration.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{file}: <file>: cannot read: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{file}: <root>: expected a JSON object")
    for key in ("model_name", "version"):
        if not data.get(key):
            raise ValueError(f"{file}: {key}: missing")
    out = {"model_name": str(data["model_name"]), "version": str(data["version"]), "model_dir": None}
    for key in ("model_dir", "model_uri", "source"):
        value = str(data.get(key) or "").removeprefix("file://")
        if value and Path(value).is_dir() and (Path(value) / "MLmodel").is_file():
            out["model_dir"] = Path(value)
            break
    return out


def _finish(args: argparse.Namespace, state: dict[str, Any], success: str) -> int:
    if getattr(args, "result", None):
        from ctloop.rollout.jsonfile import write_json

        write_json(args.result, state)
    print(
        f"rollout {state['id']}: {state['stage']}" + (f": {state['reason']}" if state.get("reason") else "")
    )
    return 0 if state["stage"] == success else 1


@_guard
def _rollout_start(args: argparse.Namespace) -> int:
    request = _request(args)
    controller = _controller(args)
    if not args.no_watchdog:
        controller.on_claimed = lambda state: _start_watchdog(args, controller.home, state["id"])
    return _finish(args, controller.start(request), "promoted")


def _start_watchdog(args: argparse.Namespace, home: Path, rollout_id: str) -> None:
    """A detached ``ctloop rollout watchdog`` for this rollout: it outlives a killed controller
    and resumes the rollout from its persisted state (``endpoint down`` stops it)."""
    from ctloop.rollout import procs
    from ctloop.rollout.local import pythonpath

    cmd = [sys.executable, "-m", "ctloop.cli", "rollout", "watchdog", "--rollout-id", rollout_id]
    cmd += ["--target", args.target, "--endpoints", str(Path(args.endpoints).absolute())]
    if args.policies:
        cmd += ["--policies", str(Path(args.policies).absolute())]
    # it outlives the caller's working directory and code snapshot: run from the endpoint's own
    env = {**os.environ, "PYTHONPATH": pythonpath(home), paths.HOME_ENV: str(paths.state_dir())}
    procs.start_detached(cmd, env, home, home / "watchdog.log", owner=str(home.resolve()))


@_guard
def _rollout_watchdog(args: argparse.Namespace) -> int:
    import threading

    from ctloop.rollout.controller import supervise

    controller = _controller(args)

    def say(message: str) -> None:  # a log file: every line at once
        print(message, flush=True)

    controller.say = say
    interval = float(controller.policy.deployment["watchdog_interval_s"])
    stop = threading.Event()
    wait = (lambda _s: True) if args.once else stop.wait
    if not args.once:
        stop.wait(interval)  # the controller that started this watchdog is still running it
    state = supervise(controller.home, controller.resume, wait, interval, args.rollout_id, say)
    if state is None:
        print("no rollout to watch")
        return 0
    return _finish(args, state, state["stage"])


@_guard
def _rollout_resume(args: argparse.Namespace) -> int:
    return _finish(args, _controller(args).resume(), "promoted")


@_guard
def _rollout_rollback(args: argparse.Namespace) -> int:
    return _finish(args, _controller(args).rollback(args.reason), "rolled_back")


@_guard
def _rollout_status(args: argparse.Namespace) -> int:
    from ctloop.rollout.controller import rollout_status
    from ctloop.rollout.local import endpoint_home

    _policy(args)  # a broken policy is reported even here
    state = rollout_status(endpoint_home())
    if state is None:
        print("no rollout yet")
        return 0
    if args.json:
        print(json.dumps(state, indent=2, default=str))
        return 0
    alive = "controller running" if state.get("controller_alive") else "no controller running"
    print(f"rollout {state['id']}: {state['stage']} (step {state.get('step', 0)}; {alive})")
    print(f"  version {state['version']} -> slot {state['new']}; old slot {state.get('old') or '-'}")
    if state.get("reason"):
        print(f"  reason: {state['reason']}")
    for h in state.get("history", []):
        print(f"  {h['time']}  {h['stage']:<13} {h.get('detail', '')}")
    if state.get("stage") not in ("promoted", "rolled_back") and not state.get("controller_alive"):
        print("  interrupted: run 'ctloop rollout resume' or 'ctloop rollout rollback'")
    return 0
