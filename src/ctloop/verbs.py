"""Running one ``ctloop`` verb: parse the command line and call the chosen handler.

Shared by ``ctloop.cli`` (every area's verbs) and the areas' own ``python -m`` entry points
(``ctloop.engine.commands``), which sit below the CLI and must not import it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence


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
