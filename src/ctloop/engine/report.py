"""Text for the terminal: run summaries, ``runs list`` and ``runs show``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ctloop.engine.sweep_space import sweep_lines

#: Lines of a failed step's log printed on the terminal.
TERMINAL_TAIL = 10


def _duration(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}m{seconds:02d}s"


def _started(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value or "-")


def _number(value: Any) -> str:
    """A metric value: whole numbers as plain integers, others to four significant digits."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


def _columns(rows: list[tuple[str, ...]], right: tuple[int, ...] = ()) -> list[str]:
    """Rows as aligned text columns (the columns in ``right`` right-aligned)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metric dicts flattened to ``a.b`` keys (scalars only)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_metrics(value, f"{name}."))
        elif isinstance(value, int | float | str | bool) or value is None:
            out[name] = value
    return out


def step_metrics(step: Mapping[str, Any]) -> dict[str, Any]:
    """MLflow metrics, then ``<port>.<key>`` from each output's metrics.json."""
    merged = flat_metrics(step.get("metrics") or {})
    merged.update(flat_metrics(step.get("output_metrics") or {}))
    return merged


def _steps_counts(record: Mapping[str, Any]) -> tuple[int, int]:
    steps = record.get("steps") or {}
    ok = sum(1 for s in steps.values() if s.get("status") in ("completed", "cached"))
    return ok, len(steps)


def runs_table(runs: list[Mapping[str, Any]]) -> str:
    if not runs:
        return "no runs yet (ctloop run PIPELINE starts one)"
    rows = [("RUN", "STATUS", "STARTED", "DURATION", "STEPS OK", "CACHED", "PIPELINE")]
    for r in runs:
        ok, total = _steps_counts(r)
        rows.append(
            (
                str(r.get("run_id")),
                str(r.get("status")),
                _started(r.get("started")),
                _duration(r.get("duration_s")),
                f"{ok}/{total}",
                str(r.get("cache_hits", 0)),
                str(r.get("pipeline", "")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _cache(step: Mapping[str, Any]) -> str:
    state = step.get("cache") or "-"
    return f"hit (run {step['reused_from']})" if state == "hit" and step.get("reused_from") else str(state)


def run_details(record: Mapping[str, Any]) -> str:
    ok, total = _steps_counts(record)
    lines = [
        f"run {record.get('run_id')}  {record.get('status')}  {record.get('pipeline')}",
        f"started {_started(record.get('started'))}  duration {_duration(record.get('duration_s'))}  "
        f"steps ok {ok}/{total}  cache hits {record.get('cache_hits', 0)}",
    ]
    if record.get("overrides"):
        lines.append("overrides: " + ", ".join(f"{k}={v}" for k, v in record["overrides"].items()))
    if record.get("reason"):
        lines.append(f"reason: {record['reason']}")
    mlflow = record.get("mlflow") or {}
    if mlflow:
        lines.append(
            f"mlflow: experiment {mlflow.get('experiment_id')}, parent run {mlflow.get('parent_run_id')}"
        )
    steps = record.get("steps") or {}
    rows = [("STEP", "STATUS", "DURATION", "CACHE")]
    rows += [(n, str(s.get("status")), _duration(s.get("duration_s")), _cache(s)) for n, s in steps.items()]
    lines += ["", *_columns(rows)]
    values = [("STEP", "METRIC", "VALUE")]
    values += [(n, k, _number(v)) for n, s in steps.items() for k, v in step_metrics(s).items()]
    if len(values) > 1:
        lines += ["", *_columns(values, right=(2,))]
    for name, step in steps.items():
        if step.get("sweep"):
            lines += ["", *sweep_lines(name, step["sweep"])]
    for name, step in steps.items():
        if step.get("status") in ("failed", "killed", "timeout", "interrupted"):
            lines += ["", *failure_lines(name, step)]
    return "\n".join(lines)


def failure_lines(name: str, step: Mapping[str, Any], tail_lines: int = TERMINAL_TAIL) -> list[str]:
    """Why a step failed: reason, log path and the last lines of its log."""
    out = [f"step {name} {step.get('status')}: {step.get('reason') or 'no reason recorded'}"]
    if step.get("log"):
        out.append(f"  log: {step['log']}")
    tail = list(step.get("log_tail") or [])[-tail_lines:]
    if tail:
        out.append("  last lines of the log:")
        out += [f"    {line}" for line in tail]
    return out


def summary_line(record: Mapping[str, Any]) -> str:
    ok, total = _steps_counts(record)
    return (
        f"run {record.get('run_id')} {record.get('status')} in {_duration(record.get('duration_s'))}: "
        f"{ok}/{total} steps ok, {record.get('cache_hits', 0)} cached"
    )
