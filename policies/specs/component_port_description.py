"""Every component input and output has a non-empty ``description``.

The ports are the component's contract with the pipeline and with Azure ML studio's UI; a port
without a description is a contract nobody can review.
"""

from __future__ import annotations

from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "component.port-description"
KINDS = ("component",)


def check(doc: SpecDoc) -> list[Problem]:
    problems = []
    for side in ("inputs", "outputs"):
        ports = doc.get(side)
        if not isinstance(ports, dict):
            continue
        for name, spec in ports.items():
            desc = spec.get("description") if isinstance(spec, dict) else None
            if not isinstance(desc, str) or not desc.strip():
                problems.append(doc.problem(RULE_ID, (side, name), "port has no description"))
    return problems
