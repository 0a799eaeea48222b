"""``ctloop run`` and ``ctloop runs list|show``: the local engine's command line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
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
        "--environments",
        choices=("current", "build"),
        default="current",
        help="current: steps run in this Python environment (default); build: a step whose environment "
        "has a conda_file runs in a virtual environment built with uv from its pip section (cached)",
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
    "azure": "ctloop.azure.submitter:AzureSubmitter",
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
        from ctloop.engine.tracking import Warmup

        warmup = Warmup()  # MLflow's worker imports while azure-ai-ml validates a new spec
        try:
            return self._submit(args, overrides, warmup)
        finally:
            warmup.close()

    def _submit(self, args: argparse.Namespace, overrides: dict[str, str], warmup: Any) -> int:
        from ctloop.engine import outcome, report
        from ctloop.engine.runner import RunOptions, run_pipeline
        from ctloop.engine.spec import load_pipeline

        on_validate = None if args.no_mlflow else warmup.start
        from ctloop import paths

        if on_validate is not None and (args.force or not paths.runs_dir().exists()):
            on_validate()  # steps will run (a first run here, or --force): MLflow imports meanwhile
        spec = load_pipeline(args.pipeline, overrides, use_memo=not args.force, on_validate=on_validate)
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
            environments=args.environments,
            tracking_worker=warmup.worker,
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
    from ctloop.verbs import run_parser

    return run_parser(_engine_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
