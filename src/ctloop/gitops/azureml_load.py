"""Load a spec with azure-ai-ml (the parser Azure ML itself uses), offline, as Problems not tracebacks.

The SDK reports schema failures as a marshmallow ValidationError whose message embeds a JSON
block (``errors: [{message, path, location: "...#line N"}]``); each entry becomes one Problem.
A schedule is also serialised the way ``MLClient.schedules.begin_create_or_update`` does before
its network call (``_to_rest_object``): what the SDK refuses there (a monitor compute runtime it
does not support, a job type a schedule cannot create) is reported here, offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ctloop.engine.spec.sdk import quiet_sdk
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

_LINE_RE = re.compile(r"#line (\d+)")


def _loader(kind: str) -> Callable[..., Any] | None:
    import azure.ai.ml as aml
    from azure.ai.ml.entities._load_functions import load_schedule

    return {
        "environment": aml.load_environment,
        "schedule": load_schedule,
        "endpoint": aml.load_online_endpoint,
        "deployment": aml.load_online_deployment,
        "batch-endpoint": aml.load_batch_endpoint,
    }.get(kind)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def rule_for(doc: SpecDoc) -> str:
    """``<kind>.schema``: the same naming as the engine's ``pipeline.schema``/``component.schema``."""
    return f"{doc.kind}.schema"


def _schema_errors(doc: SpecDoc, message: str) -> list[Problem]:
    start = message.find("{")
    end = message.rfind("}")
    if start < 0 or end < start:
        return []
    try:
        report = json.loads(message[start : end + 1])
    except ValueError:
        return []
    if not isinstance(report, dict):
        return []
    if "errors" not in report:  # the plain marshmallow form: {field: [messages]}
        return [
            doc.problem(
                rule_for(doc),
                str(key),
                _one_line(" ".join(map(str, msgs)) if isinstance(msgs, list) else msgs),
            )
            for key, msgs in report.items()
        ]
    problems = []
    for err in report.get("errors", []):
        path = str(err.get("path") or "<spec>")
        match = _LINE_RE.search(str(err.get("location", "")))
        here = str(err.get("location", "")).split("#")[0]
        line = int(match.group(1)) if match and here.endswith(doc.path.name) else None
        line = line or doc.line(tuple(path.split(".")))
        reason = _one_line(err.get("message", "invalid"))
        if here and not here.endswith(doc.path.name):
            reason += f" (in {here})"
        problems.append(Problem(doc.rel, line, rule_for(doc), path, reason))
    return problems


def load_entity(doc: SpecDoc) -> tuple[Any, list[Problem]]:
    """Load ``doc`` with azure-ai-ml (pipelines and components go through the engine instead)."""
    with quiet_sdk():
        loader = _loader(doc.kind)
    if loader is None:
        return None, []
    try:
        with quiet_sdk():
            entity = loader(str(doc.path))
    except Exception as exc:  # the SDK raises many unrelated types for bad input
        message = str(exc)
        found = _schema_errors(doc, message)
        if found:
            return None, found
        reason = _one_line(message.split("\n\n")[0] or type(exc).__name__)
        return None, [doc.problem(rule_for(doc), "<spec>", f"azure-ai-ml cannot load it: {reason}")]
    if doc.kind == "schedule":
        return entity, _schedule_problems(doc, entity)
    return entity, []


def _first_reason(exc: Exception) -> str:
    """The SDK's own reason: the ``(x) ...`` detail line of an MlException, else its first line."""
    text = str(exc)
    detail = re.search(r"\(x\)\s*(.+)", text)
    return _one_line(detail.group(1) if detail else text.strip().split("\n")[0] or type(exc).__name__)


def _schedule_problems(doc: SpecDoc, schedule: Any) -> list[Problem]:
    """What ``schedules.begin_create_or_update`` refuses before calling the service."""
    from azure.ai.ml.entities import JobSchedule

    field = "create_monitor" if doc.get("create_monitor") is not None else "create_job"
    try:
        with quiet_sdk():
            if isinstance(schedule, JobSchedule):  # MonitorSchedule._validate is not implemented
                result = schedule._validate()
                if not result.passed:
                    return [doc.problem(rule_for(doc), field, _one_line(result.error_messages))]
            schedule._to_rest_object()
    except Exception as exc:  # ValidationException, MlException: the SDK's client-side refusal
        return [doc.problem(rule_for(doc), field, f"the Azure ML client refuses it: {_first_reason(exc)}")]
    return []
