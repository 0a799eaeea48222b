"""One violation found in a spec: the engine's :class:`Problem`, printed rule-first by ``ctloop validate``."""

from __future__ import annotations

from typing import Any

from ctloop.engine.spec.problems import Problem

__all__ = ["Problem", "coerce", "format_rule_first", "sort_key"]


def format_rule_first(p: Problem) -> str:
    """``file:line: rule_id: field: reason`` (the ``ctloop validate`` text output)."""
    where = f"{p.file}:{p.line}" if p.line else p.file
    return f"{where}: {p.rule_id}: {p.field}: {p.reason}"


def coerce(obj: Any, default_file: str = "", default_rule: str = "") -> Problem:
    """Turn a problem-like object from another module (same attribute names) into a Problem."""
    if isinstance(obj, Problem):
        return obj
    line = getattr(obj, "line", None)
    return Problem(
        file=str(getattr(obj, "file", None) or default_file),
        line=int(line) if isinstance(line, int) and line > 0 else None,
        rule_id=str(getattr(obj, "rule_id", None) or getattr(obj, "rule", None) or default_rule),
        field=str(getattr(obj, "field", None) or "<spec>"),
        reason=str(getattr(obj, "reason", None) or getattr(obj, "message", None) or obj),
    )


def sort_key(p: Problem) -> tuple[str, int, str, str]:
    """Order findings by file, line, rule, then field."""
    return (p.file, p.line or 0, p.rule_id, p.field)
