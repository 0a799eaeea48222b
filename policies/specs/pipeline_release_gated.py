"""Register and deploy steps are reachable from training only through the evaluate gate's decision.

Graph check on the pipeline's bindings: walking the data flow from every train job, each path
that reaches a release job (register or deploy) must pass through a job that consumes the gate's
``decision`` output (the release job itself may be that job). Roles come from the component's
tag ``ctloop.role`` (train, gate, release), else from its name: train/train_dnn, evaluate,
register/deploy. Without this, a challenger could be registered or deployed without ever being
compared to the champion.
"""

from __future__ import annotations

from ctloop.gitops.graph import GATE_OUTPUT, component_of, edges, jobs_of, role_of
from ctloop.gitops.problem import Problem
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "pipeline.release-gated"
KINDS = ("pipeline",)


def check(doc: SpecDoc) -> list[Problem]:
    jobs = jobs_of(doc.data)
    roles = {name: role_of(component_of(doc.path, job, doc.root), name) for name, job in jobs.items()}
    release = [n for n, r in roles.items() if r == "release"]
    if not release:
        return []
    gates = {n for n, r in roles.items() if r == "gate"}
    flow = edges(doc.data)
    gated = {e.dst_job for e in flow if e.src_job in gates and e.src_port == GATE_OUTPUT}
    problems = []
    if not gates:
        return [
            doc.problem(RULE_ID, ("jobs", n), "release step in a pipeline without an evaluate gate")
            for n in release
        ]
    succ: dict[str, set[str]] = {}
    for e in flow:
        succ.setdefault(e.src_job, set()).add(e.dst_job)
    for start in (n for n, r in roles.items() if r == "train"):
        # Walk forward without entering jobs that consume the decision: anything reached that is
        # a release job got there around the gate.
        seen, todo, parent = {start}, [start], {start: ""}
        while todo:
            cur = todo.pop()
            for nxt in sorted(succ.get(cur, ())):
                if nxt in seen or nxt in gated:
                    continue
                seen.add(nxt)
                parent[nxt] = cur
                todo.append(nxt)
        for job in release:
            if job in seen and job != start:
                path, cur = [job], job
                while parent.get(cur):
                    cur = parent[cur]
                    path.append(cur)
                problems.append(
                    doc.problem(
                        RULE_ID,
                        ("jobs", job),
                        f"reachable from {start!r} around the gate ({' -> '.join(reversed(path))}): "
                        f"bind an input to ${{{{parent.jobs.<evaluate>.outputs.{GATE_OUTPUT}}}}}",
                    )
                )
    return problems
