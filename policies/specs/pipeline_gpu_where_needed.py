"""GPU compute runs only the steps that need it, and those steps get GPU compute.

A component declares what it needs with the tag ``ctloop.requires: gpu`` (or ``cpu``); without
the tag, a distributed PyTorch component (``distribution.type: pytorch``, the DNN trainer) needs
a GPU and every other component does not. A job's compute is its own ``compute`` or the
pipeline's default; whether a cluster has GPUs comes from the target stack's config (its
``gpu_cluster`` entry or an N-series VM size). A CPU step on a GPU cluster wastes the most
expensive nodes in the workspace; a GPU step on a CPU cluster fails or crawls.
"""

from __future__ import annotations

from ctloop.gitops.graph import component_of, jobs_of, requires_gpu
from ctloop.gitops.problem import Problem
from ctloop.gitops.stack import StackConfigError, clusters
from ctloop.gitops.yamldoc import SpecDoc

RULE_ID = "pipeline.gpu-where-needed"
KINDS = ("pipeline",)


def check(doc: SpecDoc) -> list[Problem]:
    try:
        known = doc.ctx.cached(f"clusters:{doc.ctx.stack}", lambda: clusters(doc.root, doc.ctx.stack))
    except StackConfigError:
        return []  # pipeline.compute-in-stack reports a missing stack config
    default = doc.get("settings", "default_compute")
    problems = []
    for name, job in jobs_of(doc.data).items():
        compute = job.get("compute", default)
        if not isinstance(compute, str):
            continue
        cluster = known.get(compute.removeprefix("azureml:"))
        if cluster is None:
            continue  # unknown names are pipeline.compute-in-stack's finding
        needs = requires_gpu(component_of(doc.path, job, doc.root))
        where = ("jobs", name, "compute") if "compute" in job else ("jobs", name)
        if cluster.gpu and not needs:
            problems.append(
                doc.problem(
                    RULE_ID,
                    where,
                    f"runs on GPU cluster {cluster.name!r} but its component needs none "
                    "(tag it ctloop.requires: gpu if it does)",
                )
            )
        elif needs and not cluster.gpu:
            problems.append(
                doc.problem(
                    RULE_ID,
                    where,
                    "its component needs a GPU (tag or distributed PyTorch) but runs on CPU cluster "
                    f"{cluster.name!r}",
                )
            )
    return problems
