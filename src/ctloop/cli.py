"""``ctloop <verb>``: the command line the Makefile calls.

Each area contributes its verbs through a ``register(subparsers)`` function in its own
``commands`` module; handlers import heavy libraries lazily so ``ctloop --help`` stays fast.
Exit codes: 0 success, 1 a run or check failed, 2 invalid spec or usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

# One module per area; each defines ``register(subparsers) -> None`` and sets ``func`` on its parsers.
COMMAND_MODULES: tuple[str, ...] = (
    "ctloop.engine.commands",
    "ctloop.registry.commands",
    "ctloop.data_commands",
    "ctloop.gitops.commands",
    "ctloop.rollout.commands",
    "ctloop.monitor.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctloop", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_parser(build_parser, argv)


def run_parser(make_parser: Callable[[], argparse.ArgumentParser], argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` with ``make_parser()`` and run the chosen verb's handler; return its exit code."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
