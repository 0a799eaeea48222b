"""``ctloop run`` and ``ctloop runs list|show``: the local engine's command line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

DEFAULT_PIPELINE = "pipelines/training.yml"
DEFAULT_MAX_PARALLEL = 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def register(subparsers: Any) -> None:
    """Add ``run`` and ``runs`` to the ``ctloop`` command line."""
    run = subparsers.add_parser(
        "run",
        help="run a pipeline job YAML (locally by default)",
        description="Run an Azure ML pipeline job YAML of command components.",
    )
    run.add_argument(
        "pipeline", nargs="?", default=DEFAULT_PIPELINE, help=f"pipeline YAML (default {DEFAULT_PIPELINE})"
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a pipeline input (a path for uri_* inputs); repeatable",
    )
    run.add_argument(
        "--force", action="store_true", help="rerun every step and re-validate the specs, ignoring the caches"
    )
    run.add_argument(
        "--max-parallel",
        type=_positive,
        default=DEFAULT_MAX_PARALLEL,
        metavar="N",
        help=f"steps run at once (default {DEFAULT_MAX_PARALLEL})",
    )
    run.add_argument(
        "--no-mlflow", action="store_true", help="do not create MLflow runs for the pipeline and steps"
    )
    run.add_argument(
        "--target", choices=tuple(SUBMITTERS), default="local", help="where to run (default local)"
    )
    run.add_argument("--stack", default=None, help="Pulumi stack of the workspace (azure target)")
    run.set_defaults(func=cmd_run)

    runs = subparsers.add_parser("runs", help="list local pipeline runs or show one")
    runs_sub = runs.add_subparsers(dest="runs_verb", metavar="<list|show>")
    listing = runs_sub.add_parser("list", help="every local run, newest first")
    listing.add_argument("--limit", type=_positive, default=None, metavar="N", help="show the newest N runs")
    listing.set_defaults(func=cmd_runs_list)
    show = runs_sub.add_parser("show", help="one run: steps, durations, cache hits, metrics, failures")
    show.add_argument("run_id", help="a run id (or a unique prefix), or 'latest'")
    show.add_argument("--json", action="store_true", help="print the run record as JSON")
    show.set_defaults(func=cmd_runs_show)
    runs.set_defaults(func=lambda _args: (runs.print_help(), 2)[1])


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C so the run stops its steps and records ``interrupted``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Submitter(Protocol):
    """Where ``ctloop run`` sends a pipeline: one implementation per target (:data:`SUBMITTERS`)."""

    def submit(self, args: argparse.Namespace, overrides: dict[str, str]) -> int:
        """Run or submit ``args.pipeline`` with ``overrides``; return the exit code."""
        ...


#: target -> "module:Class" implementing Submitter; imported only when chosen.
SUBMITTERS: dict[str, str] = {
    "local": "ctloop.engine.commands:LocalSubmitter",
    "azure": "ctloop.engine.commands:AzureSubmitter",
}


def submitter_for(target: str) -> Submitter:
    """The Submitter of ``target`` (ValueError naming the known targets for another)."""
    if target not in SUBMITTERS:
        raise ValueError(f"--target: unknown target {target!r}; known: {', '.join(SUBMITTERS)}")
    module_name, _, class_name = SUBMITTERS[target].partition(":")
    submitter: Submitter = getattr(importlib.import_module(module_name), class_name)()
    return submitter


def cmd_run(args: argparse.Namespace) -> int:
    from ctloop.engine.spec import SpecError, parse_assignments

    try:
        overrides = parse_assignments(args.overrides)
        return submitter_for(args.target).submit(args, overrides)
    except SpecError as exc:
        print(exc.format(), file=sys.stderr)
        count = len(exc.problems)
        print(
            f"ctloop run: {count} problem{'s' if count != 1 else ''} in the spec; nothing was run",
            file=sys.stderr,
        )
        return 2


class LocalSubmitter:
    """The local engine: every step a subprocess on this machine, recorded under .ctloop/runs."""

    def submit(self, args: argparse.Namespace, overrides: dict[str, str]) -> int:
        from ctloop.engine import outcome, report
        from ctloop.engine.runner import RunOptions, run_pipeline
        from ctloop.engine.spec import load_pipeline

        spec = load_pipeline(args.pipeline, overrides, use_memo=not args.force)
        from ctloop.preflight import check_pipeline_inputs

        policy_problems = check_pipeline_inputs({k: v.value for k, v in spec.inputs.items() if v.is_path})
        if policy_problems:
            for problem in policy_problems:
                print(str(problem), file=sys.stderr)
            print(f"ctloop run: {len(policy_problems)} policy problem(s); nothing was run", file=sys.stderr)
            return 2
        options = RunOptions(
            force=args.force,
            max_parallel=args.max_parallel,
            tracking=not args.no_mlflow,
            echo=lambda line: print(line, flush=True),
        )
        with _sigterm_interrupts():
            summary = run_pipeline(spec, options)
        from ctloop.quarantine import quarantine_run

        for moved in quarantine_run(summary.run_dir, summary.run_id):
            print(moved.line(), file=sys.stderr)
        record = summary.record
        if summary.status != "completed":
            for name, step in record["steps"].items():
                if step.get("status") in ("failed", "killed", "timeout"):
                    print("\n".join(report.failure_lines(name, step)), file=sys.stderr)
        stream = sys.stdout if summary.status == "completed" else sys.stderr
        for line in outcome.lines(record):
            print(line, file=stream)
        print(report.summary_line(record), file=stream)
        print(f"record: {summary.run_dir / 'run.json'}", file=stream)
        return summary.exit_code


#: Pipeline inputs a target fills when the pipeline declares them and ``--set`` does not.
DEPLOY_TARGET_INPUT = "deploy_target"
ENDPOINT_INPUT = "endpoint_name"


def target_overrides(
    pipeline: str | Path, target: str, endpoint: str | None, overrides: dict[str, str]
) -> dict[str, str]:
    """``overrides`` plus the target's own inputs (where the deploy step rolls out, and to which
    endpoint: the stack's, from infra naming) for the inputs the pipeline declares."""
    from ctloop.gitops.graph import load_yaml

    data = load_yaml(Path(pipeline))
    declared = (data.get("inputs") or {}) if isinstance(data, dict) else {}
    filled = dict(overrides)
    if DEPLOY_TARGET_INPUT in declared:
        filled.setdefault(DEPLOY_TARGET_INPUT, target)
    if endpoint and ENDPOINT_INPUT in declared:
        filled.setdefault(ENDPOINT_INPUT, endpoint)
    return filled


#: Job states after which nothing changes any more.
TERMINAL_STATES = ("Completed", "Failed", "Canceled", "NotResponding")


def _auth_expired(exc: BaseException) -> bool:
    """An expired or refused login: azure-identity's error, or the service's 401."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        return True
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) == 401


class ReauthenticatingClient:
    """An MLClient whose job waits outlive a login (CI OIDC tokens cannot refresh after ~1 h).

    ``make_client`` builds a client with a freshly acquired credential; every other attribute is
    the current client's. ``jobs.stream`` and ``jobs.get`` that fail on authentication acquire the
    credential again and carry on: a broken stream becomes polling ``jobs.get`` every ``poll_s``
    until the job ends (``sleep`` and ``clock`` are injected for tests), at most ``renewals``
    times in a row.
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        *,
        poll_s: float = 30.0,
        renewals: int = 5,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import time

        self._make = make_client
        self._client = make_client()
        self.poll_s = poll_s
        self.renewals = renewals
        self._sleep = sleep or time.sleep
        self.jobs = _ReauthenticatingJobs(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def renew(self, reason: BaseException) -> None:
        """Acquire the credential again (a new client), saying why on stderr."""
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
        print(f"submit: login expired ({first}); acquiring the credential again", file=sys.stderr)
        self._client = self._make()


class _ReauthenticatingJobs:
    def __init__(self, owner: ReauthenticatingClient) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.jobs, name)

    def _retry(self, call: Callable[[Any], Any]) -> Any:
        for attempt in range(self._owner.renewals + 1):
            try:
                return call(self._owner._client.jobs)
            except Exception as exc:
                if not _auth_expired(exc) or attempt == self._owner.renewals:
                    raise
                self._owner.renew(exc)
        raise AssertionError("unreachable")

    def get(self, name: str) -> Any:
        return self._retry(lambda jobs: jobs.get(name))

    def stream(self, name: str) -> None:
        """Stream the logs; after an expired login, wait for the end by polling instead."""
        try:
            self._owner._client.jobs.stream(name)
            return
        except Exception as exc:
            if not _auth_expired(exc):
                raise
            self._owner.renew(exc)
        while str(getattr(self.get(name), "status", "")) not in TERMINAL_STATES:
            self._owner._sleep(self._owner.poll_s)


class AzureSubmitter:
    """Azure ML: ``ctloop.azure.submit`` checks, registers, submits and follows the pipeline job in
    the stack's workspace. The deploy step is pointed at the stack's managed endpoint, and the wait
    survives an expired login (:class:`ReauthenticatingClient`)."""

    def submit(self, args: argparse.Namespace, overrides: dict[str, str]) -> int:
        try:
            from ctloop.azure.submit import submit_pipeline  # type: ignore[import-not-found]
        except ImportError as exc:
            missing = getattr(exc, "name", None) or ""
            if missing and "ctloop.azure.submit".startswith(missing):
                print(
                    "ctloop run: the azure target is not installed in this build (no ctloop.azure.submit)",
                    file=sys.stderr,
                )
            else:
                print(f"ctloop run: the azure target cannot be loaded: {exc}", file=sys.stderr)
            return 2
        from ctloop.gitops.names import NamesError, stack_endpoint

        stack = args.stack or "dev"
        root = Path.cwd()
        try:
            endpoint = stack_endpoint(root, stack)
        except NamesError as exc:
            print(f"ctloop run: {exc}", file=sys.stderr)
            return 2
        filled = target_overrides(args.pipeline, "azure", endpoint, overrides)
        client = _reauthenticating_client(root, stack)
        kwargs = {"client": client} if client is not None else {}
        result = submit_pipeline(args.pipeline, filled, args.stack, **kwargs)
        return result if isinstance(result, int) else 0


def _reauthenticating_client(root: Path, stack: str) -> Any:
    """A ReauthenticatingClient for the stack's workspace, or None to let the submitter say why
    there is none (no config, no login: its own clear message)."""
    try:
        from ctloop.azure.workspace import AzureSetupError, ml_client
    except ImportError:
        return None
    try:
        return ReauthenticatingClient(lambda: ml_client(root, stack))
    except AzureSetupError:
        return None


def cmd_runs_list(args: argparse.Namespace) -> int:
    from ctloop import paths
    from ctloop.engine import records, report

    runs = records.list_runs(paths.runs_dir())
    print(report.runs_table(runs[: args.limit] if args.limit else runs))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    import json

    from ctloop import paths
    from ctloop.engine import records, report

    record = records.find_run(paths.runs_dir(), args.run_id)
    if record is None:
        print(f"ctloop runs show: no run {args.run_id!r} under {paths.runs_dir()}", file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2) if args.json else report.run_details(record))
    return 0


def _engine_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctloop")
    register(parser.add_subparsers(dest="verb", metavar="<verb>"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The engine's verbs alone (``python -m ctloop.engine.commands``), without the other areas."""
    from ctloop.cli import run_parser

    return run_parser(_engine_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
