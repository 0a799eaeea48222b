"""``ctloop monitor | check-triggers | loop | replay | report``: monitoring and the continuous loop.

These verbs span the monitor, loop, replay and report packages, so their registration sits above
all four, beside ``ctloop.cli`` (inside ``ctloop.monitor`` it made a package cycle).

``check-triggers`` prints every trigger and guard with its reason and ends with
``retrain=true|false``. Its exit code is 0 whether or not a retrain is needed; with
``--exit-code`` it is 10 when a retrain is needed (0 when not), for a CI ``if``. Any command
exits 2 on an invalid policy, labels file or argument, and 1 when the work itself failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

RETRAIN_EXIT_CODE = 10
DEFAULT_PIPELINE = "pipelines/training.yml"
DEFAULT_MODEL_NAME = "rainfall-classifier"


def _default_model_name(pipeline: str) -> str:
    """The pipeline's ``model_name`` input (a plain YAML read; no Azure ML loader needed)."""
    import yaml

    try:
        data = yaml.safe_load(Path(pipeline).read_text())
        value = (data.get("inputs") or {}).get("model_name")
        return str(value) if isinstance(value, str) and value else DEFAULT_MODEL_NAME
    except (OSError, yaml.YAMLError, AttributeError):
        return DEFAULT_MODEL_NAME


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policies", default=None, help="policies folder (default ./policies or $CTLOOP_POLICIES)"
    )
    parser.add_argument(
        "--history", default=None, help="metrics history file (default .ctloop/monitor/history.sqlite)"
    )
    parser.add_argument("--scope", default="endpoint", help="history scope (default endpoint)")
    parser.add_argument(
        "--model-name", default=None, help="registered model (default: the pipeline's model_name)"
    )
    parser.add_argument("--as-of", default=None, help="the clock, ISO-8601 (default now, UTC)")
    parser.add_argument(
        "--target",
        choices=("local", "azure"),
        default=None,
        help="registry and training target (default $CTLOOP_TARGET, else local)",
    )
    parser.add_argument("--stack", default=None, help="Pulumi stack of the workspace (azure target)")


def _apply_target(args: argparse.Namespace) -> str:
    """Export ``--target``/``--stack`` as ``$CTLOOP_TARGET``/``$CTLOOP_STACK`` (the registry and
    the Azure client read them); return the target in force."""
    import os

    if getattr(args, "target", None):
        os.environ["CTLOOP_TARGET"] = args.target
    if getattr(args, "stack", None):
        os.environ["CTLOOP_STACK"] = args.stack
    return os.environ.get("CTLOOP_TARGET") or "local"


def _azure_setup_problem(args: argparse.Namespace) -> str | None:
    """On the azure target, why the stack's workspace cannot be reached (no job environment and
    no ``.azureml`` config for ``--stack``), before anything local is read or written."""
    if _apply_target(args) != "azure":
        return None
    from ctloop.azure.workspace import AzureSetupError, config_path, job_workspace

    if job_workspace() is not None:
        return None
    try:
        config_path(Path.cwd(), getattr(args, "stack", None) or "dev")
    except AzureSetupError as exc:
        return str(exc)
    return None


def _monitor_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--logs",
        action="append",
        default=None,
        metavar="DIR",
        help="collector log folder; repeatable (default: every .ctloop/endpoint/*/logs)",
    )
    parser.add_argument("--deployment", default=None, help="only this deployment's logs")
    parser.add_argument(
        "--labels",
        default=None,
        help="labels file or folder: request_id,[row,]label,time (default .ctloop/monitor/labels)",
    )


def register(subparsers: Any) -> None:
    """Add the monitoring verbs to ``ctloop``."""
    mon = subparsers.add_parser(
        "monitor",
        help="record closed windows of endpoint logs and labels in the history",
        description=__doc__.splitlines()[0],
    )
    _common(mon)
    _monitor_args(mon)
    mon.add_argument("--json", action="store_true", help="print the recorded rows as JSON")
    mon.set_defaults(func=cmd_monitor)

    chk = subparsers.add_parser("check-triggers", help="say whether the champion must be retrained, and why")
    _common(chk)
    chk.add_argument(
        "--exit-code", action="store_true", help=f"exit {RETRAIN_EXIT_CODE} when a retrain is needed"
    )
    chk.add_argument(
        "--output", default=None, help="append retrain=true|false and fired=... to this file (CI outputs)"
    )
    chk.add_argument("--json", action="store_true", help="print the inputs and decision as JSON")
    chk.add_argument(
        "--no-record", action="store_true", help="do not append the check to the history's events"
    )
    chk.set_defaults(func=cmd_check)

    loop = subparsers.add_parser(
        "loop", help="monitor -> check triggers -> run the training pipeline when they fire"
    )
    _common(loop)
    _monitor_args(loop)
    loop.add_argument(
        "--pipeline", default=DEFAULT_PIPELINE, help=f"training pipeline (default {DEFAULT_PIPELINE})"
    )
    loop.add_argument(
        "--landing", default=None, help="landing folder passed to the pipeline (default: its own)"
    )
    loop.add_argument(
        "--in-process",
        action="store_true",
        help="run the pipeline's steps in this process instead of through the engine",
    )
    loop.add_argument(
        "--every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="keep turning, one turn every SECONDS (default: one turn)",
    )
    loop.add_argument("--turns", type=int, default=None, help="stop after this many turns (with --every)")
    loop.set_defaults(func=cmd_loop)

    rep = subparsers.add_parser("replay", help="stream a dataset through the loop and compare with baselines")
    rep.add_argument("--dataset", default="rainfall", help="bundled dataset name or a CSV/Parquet file")
    rep.add_argument("--compare", action="store_true", help="also run never / every-batch / fixed-schedule")
    rep.add_argument(
        "--batch-days", type=int, default=None, help="days per batch (default: retraining.yml replay)"
    )
    rep.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
    rep.add_argument("--policies", default="policies", help="policies folder (default ./policies)")
    rep.add_argument(
        "--pipeline", default=DEFAULT_PIPELINE, help=f"training pipeline (default {DEFAULT_PIPELINE})"
    )
    rep.add_argument("--out", default=None, help="output folder (default .ctloop/replay)")
    rep.add_argument("--workers", type=int, default=2, help="processes (default 2: trigger | baselines)")
    rep.add_argument("--json", action="store_true", help="print the summary table as JSON")
    rep.set_defaults(func=cmd_replay)

    rpt = subparsers.add_parser(
        "report", help="write the static HTML dashboard of the local history (runs, models, deployments)"
    )
    rpt.add_argument(
        "--history", default=None, help="metrics history (default .ctloop/monitor/history.sqlite)"
    )
    rpt.add_argument("--scope", default=None, help="monitor windows of this scope only (default: all)")
    rpt.add_argument(
        "--replay",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="show a replay's results instead (replay.json or its folder; default .ctloop/replay)",
    )
    rpt.add_argument("--policies", default=None, help="policies folder (drift trigger threshold)")
    rpt.add_argument("--out", default=None, help="output folder (default .ctloop/report)")
    rpt.set_defaults(func=cmd_report)


def _error(verb: str, exc: Exception) -> int:
    print(f"ctloop {verb}: {exc}", file=sys.stderr)
    return 2


def _as_of(args: argparse.Namespace) -> Any:
    import pandas as pd

    from ctloop.monitor.service import utc

    return utc(args.as_of) if args.as_of else pd.Timestamp.now(tz="UTC")


def _build_monitor(args: argparse.Namespace, settings: Any) -> Any:
    from ctloop import paths
    from ctloop.monitor.history import History
    from ctloop.monitor.labels import LabelReader
    from ctloop.monitor.logs import LogReader
    from ctloop.monitor.reference import ChampionReference
    from ctloop.monitor.service import Monitor, endpoint_log_folders

    state = paths.state_dir()
    folders = [Path(p) for p in args.logs] if args.logs else endpoint_log_folders(state, args.deployment)
    labels = Path(args.labels) if args.labels else state / "monitor" / "labels"
    model_name = args.model_name or _default_model_name(getattr(args, "pipeline", DEFAULT_PIPELINE))
    reference = ChampionReference(model_name, state / "monitor" / "reference")
    return Monitor(
        settings.monitor,
        History(args.history),
        LogReader(folders),
        LabelReader(labels),
        reference,
        scope=args.scope,
    )


def _summary(row: Any) -> str:
    m = row.metrics

    def f(key: str) -> str:
        v = m.get(key)
        return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

    return (
        f"{row.window_start} .. {row.window_end}  requests {f('requests')}  errors {f('error_rate')}  "
        f"p95 {f('latency_p95_ms')} ms  labels {f('labels_matched')}  roc_auc {f('roc_auc')}  "
        f"recent {f('recent_primary')}  drift {f('drift_score')}"
    )


def cmd_monitor(args: argparse.Namespace) -> int:
    problem = _azure_setup_problem(args)
    if problem:
        return _error("monitor", RuntimeError(problem))
    from ctloop.monitor.labels import LabelError
    from ctloop.monitor.logs import LogError
    from ctloop.monitor.settings import load_settings
    from ctloop.policies import PolicyError

    try:
        settings = load_settings(args.policies)
        monitor = _build_monitor(args, settings)
        rows = monitor.run(_as_of(args))
    except (PolicyError, LabelError, LogError, ValueError) as exc:
        return _error("monitor", exc)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2, default=str))
    else:
        for row in rows:
            print(_summary(row))
        print(f"monitor: {len(rows)} window(s) recorded in {monitor.history.path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    problem = _azure_setup_problem(args)
    if problem:
        return _error("check-triggers", RuntimeError(problem))
    from ctloop.monitor import check
    from ctloop.monitor.history import History
    from ctloop.monitor.settings import load_settings
    from ctloop.policies import PolicyError
    from ctloop.registry import RegistryError

    try:
        settings = load_settings(args.policies)
        history = History(args.history)
        when = _as_of(args)
        champion = check.champion_info(args.model_name or _default_model_name(DEFAULT_PIPELINE))
    except (PolicyError, ValueError) as exc:
        return _error("check-triggers", exc)
    except RegistryError as exc:
        print(f"ctloop check-triggers: registry: {exc}", file=sys.stderr)
        return 1
    inputs, decision = check.check(history, args.scope, champion, when, settings.triggers)
    if not args.no_record:
        check.record_check(history, args.scope, when, inputs, decision)
    if args.json:
        print(json.dumps({"inputs": inputs.__dict__, "decision": decision.to_dict()}, indent=2, default=str))
    else:
        print("\n".join(check.format_decision(decision)))
    if args.output:
        with open(args.output, "a", encoding="utf-8") as handle:
            handle.write(
                f"retrain={'true' if decision.retrain else 'false'}\nfired={','.join(decision.fired)}\n"
            )
    return RETRAIN_EXIT_CODE if (args.exit_code and decision.retrain) else 0


def cmd_loop(args: argparse.Namespace) -> int:
    problem = _azure_setup_problem(args)
    if problem:
        return _error("loop", RuntimeError(problem))
    from ctloop import paths
    from ctloop.loop.cycle import Loop, turn
    from ctloop.loop.pipeline import AzureRetrainer, EngineRetrainer, InProcessRetrainer, triggers_input
    from ctloop.monitor.labels import LabelError
    from ctloop.monitor.logs import LogError
    from ctloop.monitor.settings import load_settings
    from ctloop.policies import PolicyError

    try:
        settings = load_settings(args.policies)
        monitor = _build_monitor(args, settings)
        retrainer: Any = (
            AzureRetrainer(
                args.pipeline,
                args.stack or "dev",
                args.model_name or _default_model_name(args.pipeline),
                echo=lambda line: print(line, flush=True),
            )
            if _apply_target(args) == "azure"
            else InProcessRetrainer(args.pipeline)
            if args.in_process
            else EngineRetrainer(args.pipeline, echo=lambda line: print(line, flush=True))
        )
    except (PolicyError, ValueError) as exc:
        return _error("loop", exc)
    model_name = args.model_name or _default_model_name(args.pipeline)
    inputs: dict[str, Any] = {"model_name": model_name}
    if args.landing:
        inputs["landing"] = Path(args.landing).absolute()
    if args.policies:
        inputs["policies"] = Path(args.policies).absolute()
    loop = Loop(
        monitor,
        settings.triggers,
        model_name,
        retrainer,
        inputs,
        paths.state_dir() / "loop",
        triggers_input=triggers_input(args.pipeline),
    )
    done = 0
    while True:
        try:
            t = turn(loop, _as_of(args))
        except (LabelError, LogError, ValueError) as exc:
            return _error("loop", exc)
        print(
            f"loop: {len(t.windows)} window(s) recorded; triggers: {', '.join(t.decision.fired) or 'none'}; "
            f"retrain={'true' if t.decision.retrain else 'false'} ({t.decision.reason})"
        )
        if t.result is not None:
            r = t.result
            print(
                f"loop: pipeline {r.status}: version {r.version or '-'}, promoted={r.promoted}, "
                f"champion {r.champion_before or 'none'} -> {r.champion_after or 'none'} {r.reason}"
            )
            if r.status != "completed":
                return 1
        done += 1
        if args.every is None or (args.turns is not None and done >= args.turns):
            return 0
        time.sleep(args.every)


def cmd_replay(args: argparse.Namespace) -> int:
    from ctloop.policies import PolicyError
    from ctloop.replay.compare import ReplayError, format_table, replay
    from ctloop.replay.stream import StreamError

    try:
        report = replay(
            args.dataset,
            args.policies,
            args.pipeline,
            args.out,
            compare=args.compare,
            batch_days=args.batch_days,
            max_batches=args.max_batches,
            workers=args.workers,
        )
    except (PolicyError, StreamError, ReplayError) as exc:
        return _error("replay", exc)
    print(json.dumps(report["table"], indent=2) if args.json else format_table(report))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ctloop.policies import PolicyError
    from ctloop.report.page import ReportError, write_report

    try:
        index = write_report(
            history=args.history, replay=args.replay, out=args.out, scope=args.scope, policies=args.policies
        )
    except (ReportError, PolicyError) as exc:
        return _error("report", exc)
    print(f"report: {index}")
    return 0
