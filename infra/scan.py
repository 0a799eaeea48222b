"""Scan every stack with the real Checkov: run the Pulumi program under mocks, render what it registers
as an ARM template (``infra/arm.py``) with the reviewed skips of ``policies/infra/checkov-skips.yml``,
and run Checkov's ARM framework on the templates. Prints pass/fail/skip counts per stack.

Exit 0 when no stack has a failed check and every skip matched a resource, 1 otherwise.

    python -m infra.scan --stack dev --stack prod [--checkov .venv-checkov/bin/checkov] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctloop.policies import PolicyError, load_policy

from . import arm

ROOT = Path(__file__).resolve().parent.parent
SKIPS_NAME = "checkov-skips"
POLICY_DIR = ROOT / "policies" / "infra"
DEFAULT_CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
TIMEOUT_S = 600


@dataclass(frozen=True)
class Skip:
    id: str
    resource: str
    stacks: tuple[str, ...]
    reason: str
    reviewer: str

    def matches(self, stack: str, arm_type: str, arm_name: str) -> bool:
        vendor, kind, *name_part = self.resource.split(".", 2)  # "Microsoft.<Type>[.<name>]"
        kind, name = f"{vendor}.{kind}", "".join(name_part)
        return stack in self.stacks and kind == arm_type and (not name or name == arm_name)


@dataclass
class StackResult:
    """Checkov's verdict on one stack."""

    stack: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "CHECK_ID resource"
    skipped: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.stack}: {len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"
        )


def load_skips(policy_dir: Path = POLICY_DIR) -> list[Skip]:
    """The reviewed skips, validated against their schema (raises PolicyError)."""
    data = load_policy(SKIPS_NAME, policy_dir)
    return [
        Skip(s["id"], s["resource"], tuple(s["stacks"]), " ".join(s["reason"].split()), s["reviewer"])
        for s in data["skips"]
    ]


def is_graph_check(check_id: str) -> bool:
    """Checkov's ARM graph checks (CKV2_*) ignore inline suppressions: they are skipped by id per stack."""
    return check_id.startswith("CKV2_")


def template_for(
    stack: str, resources: Iterable[tuple[str, str, Mapping[str, Any]]], skips: Sequence[Skip]
) -> tuple[dict[str, Any], set[int], list[str]]:
    """The stack's ARM template with skips inlined as Checkov metadata, the indexes of skips used, and
    the graph-check skips (``"ID resource"``) that must be passed to Checkov as ``--skip-check``."""
    template = arm.render_template(resources)
    used: set[int] = set()
    graph: list[str] = []
    for resource in template["resources"]:
        lines = []
        for i, s in enumerate(skips):
            if s.matches(stack, resource["type"], resource["name"]):
                used.add(i)
                if is_graph_check(s.id):
                    graph.append(f"{s.id} {resource['type']}.{resource['name']}")
                else:
                    lines.append(f"{s.id}: {s.reason} (reviewed by {s.reviewer})")
        if lines:
            resource["metadata"] = {"checkov": lines}
    return template, used, graph


def start_checkov(checkov: Path, directory: Path, skip_checks: Iterable[str] = ()) -> subprocess.Popen[str]:
    """Start Checkov's ARM scan of the templates in ``directory`` (offline: no platform download)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_COLOR": "1", "LOG_LEVEL": "ERROR"}
    argv = [str(checkov), "--directory", str(directory), "--framework", "arm", "--output", "json",
            "--skip-download", "--compact"]  # fmt: skip
    ids = sorted(set(skip_checks))
    if ids:
        argv += ["--skip-check", ",".join(ids)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def report_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for a started scan and parse its JSON report."""
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"checkov ran past {TIMEOUT_S} s") from None
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        raise RuntimeError(
            f"checkov gave no JSON report (exit {process.returncode}): {stderr[-2000:]}"
        ) from None
    if isinstance(report, list):  # one report per framework
        report = next((r for r in report if r.get("check_type") == "arm"), {})
    return report


def result(stack: str, report: Mapping[str, Any], graph_skips: Iterable[str] = ()) -> StackResult:
    """One stack's counts from Checkov's report (its file is ``<stack>.json``); graph checks skipped
    by id count as skipped."""
    out = StackResult(stack, skipped=[f"{g} (--skip-check)" for g in graph_skips])
    checks = report.get("results", {})
    for kind, attr in (
        ("passed_checks", "passed"),
        ("failed_checks", "failed"),
        ("skipped_checks", "skipped"),
    ):
        for check in checks.get(kind, []):
            if Path(check["file_path"]).stem == stack:
                getattr(out, attr).append(f"{check['check_id']} {check['resource']}")
    return out


def scan(
    runs: Mapping[str, Iterable[tuple[str, str, Mapping[str, Any]]]],
    *,
    checkov: Path = DEFAULT_CHECKOV,
    skips: Sequence[Skip] | None = None,
    out: Path | None = None,
) -> tuple[dict[str, StackResult], list[Skip]]:
    """Scan each stack's recorded resources: results per stack, and the skips that matched nothing."""
    skips = load_skips() if skips is None else skips
    used: set[int] = set()
    by_stack: dict[str, StackResult] = {}
    with tempfile.TemporaryDirectory(prefix="ctloop-checkov-") as tmp:
        directory = out or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        # stacks that skip the same graph checks share one Checkov run (their resource names differ)
        groups: dict[frozenset[str], list[str]] = {}
        graphs: dict[str, list[str]] = {}
        for stack, resources in runs.items():
            template, matched, graphs[stack] = template_for(stack, resources, skips)
            used |= matched
            ids = frozenset(g.split()[0] for g in graphs[stack])
            groups.setdefault(ids, []).append(stack)
            folder = directory / f"group-{list(groups).index(ids)}"
            folder.mkdir(exist_ok=True)
            (folder / f"{stack}.json").write_text(json.dumps(template, indent=1, sort_keys=True))
        started = [
            (stacks, start_checkov(checkov, directory / f"group-{i}", ids))
            for i, (ids, stacks) in enumerate(groups.items())
        ]
        for stacks, process in started:
            report = report_of(process)
            for stack in stacks:
                by_stack[stack] = result(stack, report, graphs[stack])
    stale = [s for i, s in enumerate(skips) if i not in used and set(s.stacks) & set(runs)]
    return by_stack, stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.scan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", help="stack to scan (repeatable; default: all three)")
    parser.add_argument("--checkov", type=Path, default=Path(os.environ.get("CHECKOV", DEFAULT_CHECKOV)))
    parser.add_argument("--out", type=Path, help="keep the rendered templates here")
    args = parser.parse_args(argv)
    stacks = args.stack or ["dev", "staging", "prod"]
    if not args.checkov.is_file():
        print(f"infra.scan: no Checkov at {args.checkov}: run `make checkov-setup`", file=sys.stderr)
        return 1
    from .mockrun import run_stack

    try:
        runs = {s: [(r.type, r.name, r.inputs) for r in run_stack(s, ROOT).resources] for s in stacks}
        by_stack, stale = scan(runs, checkov=args.checkov, out=args.out)
    except PolicyError as exc:
        print(f"infra.scan: {exc}", file=sys.stderr)
        return 1
    ok = not stale
    for result in by_stack.values():
        print(f"checkov {result.line()}")
        for failure in result.failed:
            print(f"  FAILED {failure}")
        ok = ok and not result.failed
    for s in stale:
        where = POLICY_DIR / f"{SKIPS_NAME}.yml"
        print(f"{where}: skip {s.id} on {s.resource}: matches no resource in {s.stacks}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
