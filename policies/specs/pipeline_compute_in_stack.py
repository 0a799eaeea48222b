"""Every compute a pipeline names exists in the target stack's config (``--stack``, default dev).

``settings.default_compute`` and each job's ``compute`` must be a cluster that Pulumi creates for
that stack (``Pulumi.<stack>.yaml``: ``ctloop:cpu_cluster.name``, ``ctloop:gpu_cluster.name``);
otherwise the submission fails on Azure, after the review.
"""

from __future__ import annotations

from ctloop.gitops.graph import jobs_of
from ctloop.gitops.problem import Problem
from ctloop.gitops.stack import StackConfigError, clusters
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "pipeline.compute-in-stack"
KINDS = ("pipeline",)


def compute_refs(doc: SpecDoc) -> list[tuple[tuple[str, ...], str]]:
    """(field path, cluster name) for the default compute and every job's compute."""
    refs = []
    default = doc.get("settings", "default_compute")
    if isinstance(default, str):
        refs.append((("settings", "default_compute"), default.removeprefix("azureml:")))
    for name, job in jobs_of(doc.data).items():
        if isinstance(job.get("compute"), str):
            refs.append((("jobs", name, "compute"), job["compute"].removeprefix("azureml:")))
    return refs


def check(doc: SpecDoc) -> list[Problem]:
    refs = compute_refs(doc)
    if not refs:
        return []
    try:
        known = doc.ctx.cached(f"clusters:{doc.ctx.stack}", lambda: clusters(doc.root, doc.ctx.stack))
    except StackConfigError as exc:
        return [doc.problem(RULE_ID, refs[0][0], f"cannot check compute names: {exc}")]
    problems = []
    for path, name in refs:
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            problems.append(
                doc.problem(
                    RULE_ID, path, f"compute {name!r} is not in stack {doc.ctx.stack!r} (it has: {have})"
                )
            )
    return problems
