"""The training outcome at the end of ``ctloop run``: gate decision, registration, deployment.

Steps of ctloop's pipelines leave ``decision.json`` (evaluate), ``registration.json`` (register)
and ``deployment.json`` (deploy) in their output folders. Whatever of those a run produced (or
reused from the cache) is summarised here; a pipeline without them prints nothing extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FILES = ("decision.json", "registration.json", "deployment.json")


def _outputs(record: Mapping[str, Any]) -> Iterator[Path]:
    for step in record.get("steps", {}).values():
        for folder in (step.get("outputs") or {}).values():
            yield Path(folder)


def collect(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"decision.json": {...}, ...}`` for each file found in the run's output folders."""
    found: dict[str, dict[str, Any]] = {}
    for folder in _outputs(record):
        for name in FILES:
            path = folder / name
            if name not in found and path.is_file():
                try:
                    found[name] = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError):
                    continue
    return found


def _num(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _decision_lines(decision: Mapping[str, Any]) -> list[str]:
    gate = decision.get("gate") or {}
    metric = gate.get("metric", "metric")
    lines = [
        f"  challenger {metric}: {_num(gate.get('challenger'))}"
        f"   champion {metric}: {_num(gate.get('champion'))}"
        + (
            f" (version {gate['champion_version']})" if gate.get("champion_version") else " (no champion yet)"
        ),
    ]
    boot = gate.get("bootstrap") or {}
    if gate.get("difference") is not None:
        ci = f"[{_num(boot.get('ci_low'))}, {_num(boot.get('ci_high'))}]" if boot else "-"
        level = boot.get("confidence")
        lines.append(
            f"  difference: {_num(gate.get('difference'))}   "
            f"{int(level * 100) if isinstance(level, float) else ''}% bootstrap CI {ci}"
        )
    verdict = "PROMOTE" if decision.get("promote") else "KEEP CHAMPION"
    lines.append(
        f"  gate: {verdict} (floor {_num(gate.get('floor'))}, "
        f"min improvement {_num(gate.get('min_improvement'))}): {decision.get('reason', '')}"
    )
    for check in gate.get("checks", []):
        mark = "ok " if check.get("passed") else "NO "
        lines.append(f"    {mark} {check.get('name')}: {check.get('reason')}")
    return lines


def lines(record: Mapping[str, Any]) -> list[str]:
    """Human lines for the end of a run; empty for pipelines without ctloop's outcome files."""
    found = collect(record)
    if not found:
        return []
    out = [f"outcome of run {record.get('run_id')}:"]
    if "decision.json" in found:
        out += _decision_lines(found["decision.json"])
    reg = found.get("registration.json")
    if reg:
        out.append(
            f"  registered: {reg.get('model_name')} version {reg.get('version')} ({reg.get('outcome')})"
            f"   champion: version {reg.get('champion_after') or '-'}"
        )
    dep = found.get("deployment.json")
    if dep:
        detail = dep.get("reason") or dep.get("message") or ""
        out.append(f"  deployment: {dep.get('status', '-')}" + (f": {detail}" if detail else ""))
    return out
