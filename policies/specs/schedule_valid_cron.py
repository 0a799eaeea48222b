"""A schedule's trigger is valid: a five-field cron expression in range, or a sane recurrence.

Azure ML reads cron in NCronTab form (minute hour day-of-month month day-of-week) and accepts a
bad expression at load time, failing only when the schedule is created in the workspace.
"""

from __future__ import annotations

import re

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "schedule.valid-cron"
KINDS = ("schedule",)

FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
NAMES = {
    3: {m: i + 1 for i, m in enumerate(MONTHS)},
    4: {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])},
}
FREQUENCIES = ("minute", "hour", "day", "week", "month")


def _value(text: str, index: int) -> int | None:
    if text.isdigit():
        return int(text)
    return NAMES.get(index, {}).get(text.upper())


def field_problem(text: str, index: int) -> str | None:
    """Why one cron field is invalid, or None."""
    label, low, high = FIELDS[index]
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            return f"{label}: bad step {part!r}"
        if base == "*":
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(bounds):
            return f"{label}: cannot read {part!r}"
        values = [_value(b, index) for b in bounds]
        if any(v is None for v in values):
            return f"{label}: cannot read {part!r}"
        if any(not low <= v <= high for v in values):  # type: ignore[operator]
            return f"{label}: {part!r} is outside {low}-{high}"
        if len(values) == 2 and values[0] > values[1]:  # type: ignore[operator]
            return f"{label}: range {part!r} runs backwards"
    return None


def cron_problem(expression: object) -> str | None:
    if not isinstance(expression, str) or not expression.strip():
        return "cron trigger has no expression"
    fields = expression.split()
    if len(fields) != 5:
        return f"{expression!r} has {len(fields)} fields; Azure ML cron has 5 (minute hour day month weekday)"
    for i, text in enumerate(fields):
        if not re.fullmatch(r"[\w*,/-]+", text):
            return f"{expression!r}: cannot read {text!r}"
        reason = field_problem(text, i)
        if reason:
            return f"{expression!r}: {reason}"
    return None


def check(doc: SpecDoc) -> list[Problem]:
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict):
        return [doc.problem(RULE_ID, "trigger", "missing trigger")]
    kind = str(trigger.get("type", "")).lower()
    if kind == "cron":
        reason = cron_problem(trigger.get("expression"))
        return [doc.problem(RULE_ID, "trigger.expression", reason)] if reason else []
    if kind == "recurrence":
        freq, interval = trigger.get("frequency"), trigger.get("interval")
        if str(freq).lower() not in FREQUENCIES:
            return [
                doc.problem(RULE_ID, "trigger.frequency", f"{freq!r} is not one of {', '.join(FREQUENCIES)}")
            ]
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            return [doc.problem(RULE_ID, "trigger.interval", f"{interval!r} is not a positive integer")]
        return []
    return [doc.problem(RULE_ID, "trigger.type", f"{trigger.get('type')!r} is neither cron nor recurrence")]
