"""Survivors per module of the last ``mutmut run`` (read from ``mutants/``), as a Markdown table.

Usage: ``python benchmarks/mutation.py [--list]`` after ``make mutation``; ``--list`` also names
every surviving mutant (``mutmut show <name>`` prints its diff). Exit 1 when a module's share of
surviving or untested mutants is above ``--target`` (default 10%).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: mutmut's exit codes per mutant (mutmut/stats.py), grouped as the table shows them.
KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {24, -24, 36, 152, 255}


def summarise(mutants: Path) -> dict[str, Counter[str]]:
    """Module name -> counts of killed, survived, no tests, timeout, not checked, other."""
    out: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter(total=len(codes))
        for code in codes.values():
            if code is None:
                counts["not checked"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
            elif code in NO_TESTS:
                counts["no tests"] += 1
            elif code in TIMEOUT:
                counts["timeout"] += 1
            else:
                counts["other"] += 1
        out[meta.name.removesuffix(".py.meta")] = counts
    return out


def survivors(mutants: Path) -> dict[str, list[str]]:
    """Module name -> the names of its surviving and untested mutants."""
    out: dict[str, list[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        out[meta.name.removesuffix(".py.meta")] = sorted(
            n for n, c in codes.items() if c in SURVIVED or c in NO_TESTS
        )
    return out


def commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--target", type=float, default=0.10, help="largest allowed share of survivors")
    parser.add_argument("--list", action="store_true", help="name every surviving or untested mutant")
    args = parser.parse_args(argv)
    if not args.mutants.is_dir():
        print(f"{args.mutants}: no mutmut results (run `make mutation` first)", file=sys.stderr)
        return 2
    table = summarise(args.mutants)
    print(f"commit {commit()}\n")
    print("| module | mutants | killed | survived | no tests | timeout | not checked | survivors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    over = []
    for module, c in table.items():
        share = (c["survived"] + c["no tests"]) / c["total"] if c["total"] else 0.0
        if share > args.target:
            over.append(module)
        print(
            f"| {module} | {c['total']} | {c['killed']} | {c['survived']} | {c['no tests']} | "
            f"{c['timeout']} | {c['not checked']} | {share:.1%} |"
        )
    if args.list:
        for module, names in survivors(args.mutants).items():
            for name in names:
                print(f"{module}: {name}")
    if over:
        print(f"\nabove the {args.target:.0%} target: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
