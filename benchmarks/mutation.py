"""Survivors per module of the last ``mutmut run`` (read from ``mutants/``), as a Markdown table.

Usage: ``python benchmarks/mutation.py [--list]`` after ``make mutation``; ``--list`` also names
every surviving mutant (``mutmut show <name>`` prints its diff), with the reason when it is a
reviewed equivalent mutant (:data:`EQUIVALENT`). Exit 1 when a module's share of surviving or
untested mutants is above ``--target`` (default 10%); equivalent mutants count as survivors there.
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

#: Reviewed survivors that no test can kill: the mutant behaves exactly as the code does. Names are
#: mutmut's for the code at the commit of the last recorded run; a name that no longer survives is
#: ignored, so a stale entry never hides a new survivor.
EQUIVALENT: dict[str, str] = {
    **{
        f"ctloop.drift.x__merged_cdf_gap__mutmut_{n}": "any sort order within tied values gives the same "
        "KS statistic (read after the last tie) and Wasserstein integral (ties have zero width); "
        "'stable' is the speed of merging two sorted runs"
        for n in (6, 8, 10)
    },
    "ctloop.drift.x_chi_squared_from_counts__mutmut_2": "astype(None) is numpy's default float64",
    "ctloop.drift.x_flags__mutmut_4": "pandas reads to_dict's orient case-insensitively",
    "ctloop.drift.x_overall_score__mutmut_14": "metric columns are numbers already; float() of max/mean "
    "gives the same value",
    "ctloop.drift.x_sorted_values__mutmut_4": "na_value None or NaN both become NaN in a float array",
    **{
        f"ctloop.contracts.x_check_non_finite__mutmut_{n}": "pandas 3 converts numeric (also nullable) "
        "columns with gaps to float64 with NaN with or without dtype/na_value; np.isinf and abs agree on ints"
        for n in (15, 16, 17, 18)
    },
}


def summarise(mutants: Path) -> dict[str, Counter[str]]:
    """Module name -> counts of killed, survived, no tests, timeout, not checked, other."""
    out: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts: Counter[str] = Counter(total=len(codes))
        for name, code in codes.items():
            if code is None:
                counts["not checked"] += 1
            elif code in KILLED:
                counts["killed"] += 1
            elif code in SURVIVED:
                counts["survived"] += 1
                counts["equivalent"] += name in EQUIVALENT
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
    print(
        "| module | mutants | killed | survived | of which equivalent | no tests | timeout | not checked "
        "| survivors | not equivalent |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    over = []
    for module, c in table.items():
        share = (c["survived"] + c["no tests"]) / c["total"] if c["total"] else 0.0
        unexplained = share - c["equivalent"] / c["total"] if c["total"] else 0.0
        if share > args.target:
            over.append(module)
        print(
            f"| {module} | {c['total']} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
            f"{c['no tests']} | {c['timeout']} | {c['not checked']} | {share:.1%} | {unexplained:.1%} |"
        )
    if args.list:
        for module, names in survivors(args.mutants).items():
            for name in names:
                reason = EQUIVALENT.get(name)
                print(f"{module}: {name}" + (f"  (equivalent: {reason})" if reason else ""))
    if over:
        print(f"\nabove the {args.target:.0%} target: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
