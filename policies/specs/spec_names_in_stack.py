"""Every name a spec uses exists in the target stack or is produced by a pipeline (``--stack``).

Clusters and the online endpoint come from infra (``Pulumi.<stack>.yaml`` read through
``infra.config``, the derived names of ``infra/naming.py``); environments from ``environments/``;
data assets from what a pipeline registers (a job output with ``name:``) or a deployment's data
collector collection (``<endpoint>-<deployment>-<collection>``); models from the pipelines that
register them. The endpoint name has one home, infra naming: YAML says the logical name of
``pipelines/endpoints/endpoint.yml`` and the tooling fills in the stack's, so the endpoint, the
deployments, the monitor and the pipelines' ``endpoint_name`` input must all say that name; a
stack that pins ``endpoint.name`` must not share it with another stack in the same region
(endpoint names are unique per region). Otherwise Azure refuses the job, schedule or rollout
after the review, or the monitor watches an endpoint nothing creates.
"""

from __future__ import annotations

from ctloop.gitops import names
from ctloop.gitops.problem import Problem
from ctloop.gitops.stack import StackConfigError
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "spec.names-in-stack"
KINDS = ("pipeline", "schedule", "endpoint", "deployment")


def check(doc: SpecDoc) -> list[Problem]:
    if not isinstance(doc.data, dict):
        return []
    refs = names.references(doc.kind, doc.data)
    if not refs:
        return []
    stack = doc.ctx.stack
    try:
        inv = doc.ctx.cached(f"names:{stack}", lambda: names.inventory(doc.root, stack))
    except (StackConfigError, names.NamesError) as exc:
        return [doc.problem(RULE_ID, refs[0].path, f"cannot check names against stack {stack!r}: {exc}")]
    found = [doc.problem(RULE_ID, path, reason) for path, reason in names.problems(refs, inv)]
    if doc.kind == "endpoint":
        clashes = doc.ctx.cached(
            f"endpoint-clashes:{stack}", lambda: names.endpoint_collisions(doc.root, stack)
        )
        if clashes:
            found.append(
                doc.problem(
                    RULE_ID,
                    "name",
                    f"stack {stack!r} pins endpoint name {inv.endpoint!r}, as do {', '.join(clashes)} in the "
                    "same region: endpoint names are unique per region; drop endpoint.name to use the "
                    "derived, suffixed name",
                )
            )
    return found
