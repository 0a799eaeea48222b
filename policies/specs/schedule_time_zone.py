"""A schedule names its time zone explicitly, and Azure ML knows the name.

Without ``trigger.time_zone`` Azure ML assumes UTC, which a reader of ``cron: "0 6 * * *"`` cannot
tell from the file; a misspelt zone is accepted at load time and rejected by the service.
Names are Azure ML's (Windows) zone names, e.g. ``UTC``, ``W. Europe Standard Time``.
"""

from __future__ import annotations

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "schedule.time-zone"
KINDS = ("schedule",)


def known_zones() -> set[str]:
    from azure.ai.ml.constants import TimeZone

    return {z.value.lower() for z in TimeZone}


def check(doc: SpecDoc) -> list[Problem]:
    trigger = doc.get("trigger")
    if not isinstance(trigger, dict):
        return []  # schedule.valid-cron reports it
    zone = trigger.get("time_zone")
    if not isinstance(zone, str) or not zone.strip():
        return [doc.problem(RULE_ID, "trigger", "no trigger.time_zone: set it (e.g. UTC)")]
    if zone.lower() not in doc.ctx.cached("time-zones", known_zones):
        return [doc.problem(RULE_ID, "trigger.time_zone", f"{zone!r} is not an Azure ML time zone name")]
    return []
