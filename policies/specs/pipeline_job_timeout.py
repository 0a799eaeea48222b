"""Every step of a pipeline sets ``limits.timeout`` (seconds).

A hung step on an autoscaling cluster bills until someone notices; Azure ML has no default job
timeout. Nested pipeline jobs are exempt (their own steps carry the limit).
"""

from __future__ import annotations

from ctloop.gitops.graph import jobs_of
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "pipeline.job-timeout"
KINDS = ("pipeline",)


def check(doc: SpecDoc) -> list[Problem]:
    problems = []
    for name, job in jobs_of(doc.data).items():
        if job.get("type") == "pipeline":
            continue
        limits = job.get("limits")
        timeout = limits.get("timeout") if isinstance(limits, dict) else None
        if timeout is None:
            problems.append(doc.problem(RULE_ID, ("jobs", name), "no limits.timeout"))
        elif isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            problems.append(
                doc.problem(
                    RULE_ID,
                    ("jobs", name, "limits", "timeout"),
                    f"{timeout!r} is not a positive number of seconds",
                )
            )
    return problems
