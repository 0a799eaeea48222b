"""CPU cost of importing the heavy dependencies with and without compiled bytecode, side by side.

Usage: ``python benchmarks/imports.py [--repeat 5]``. "Without" points ``PYTHONPYCACHEPREFIX`` at an
empty folder with ``PYTHONDONTWRITEBYTECODE=1``, so every import compiles its sources, as in a venv
installed by uv without ``--compile-bytecode``; "with" uses this venv's compiled ``__pycache__``.
CPU seconds (user + system of the child) are reported: a shared machine's load inflates them far
less than wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

MODULES = ("pandas", "sklearn", "mlflow", "azure.ai.ml", "ctloop.engine.tracking")


def _cpu(module: str, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", f"import {module}"], env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per module and mode; medians")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ctloop-nopyc-") as empty:
        modes = {
            "without": {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": empty},
            "with": {k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"},
        }
        print(f"{'module':24s} {'without s':>10s} {'with s':>8s} {'ratio':>6s}")
        for module in MODULES:
            cpu = {
                mode: statistics.median(_cpu(module, env) for _ in range(args.repeat))
                for mode, env in modes.items()
            }
            ratio = cpu["without"] / cpu["with"]
            print(f"{module:24s} {cpu['without']:10.2f} {cpu['with']:8.2f} {ratio:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
