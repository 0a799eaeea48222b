"""Read a pipeline YAML's data flow: its jobs, their components and the edges between them.

Works on plain YAML data (a working-tree file or one read from a git ref), so ``ctloop review``
can compare two versions of a pipeline without loading either with the SDK. Edges come from the
binding strings exactly as Azure ML reads them: ``${{parent.jobs.<job>.outputs.<port>}}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

JOB_BINDING = re.compile(r"\$\{\{\s*parent\.jobs\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")

#: A job's role, from its component: tag ``ctloop.role`` when set, else the component name.
ROLE_TAG = "ctloop.role"
GPU_TAG = "ctloop.requires"
GATE_OUTPUT = "decision"
_NAME_ROLES = {
    "train": "train",
    "train_dnn": "train",
    "evaluate": "gate",
    "register": "release",
    "deploy": "release",
}


@dataclass(frozen=True)
class Edge:
    """``src_job.outputs.src_port`` feeds ``dst_job.inputs.dst_port``."""

    src_job: str
    src_port: str
    dst_job: str
    dst_port: str

    def __str__(self) -> str:
        return f"{self.src_job}.{self.src_port} -> {self.dst_job}.{self.dst_port}"


def _binding_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [v for k, v in value.items() if k in ("path", "value") and isinstance(v, str)]
    return []


def jobs_of(data: Any) -> dict[str, dict[str, Any]]:
    jobs = data.get("jobs") if isinstance(data, dict) else None
    return {str(k): v for k, v in jobs.items() if isinstance(v, dict)} if isinstance(jobs, dict) else {}


def edges(data: Any) -> list[Edge]:
    """Every job-to-job edge of a pipeline's YAML data."""
    found: list[Edge] = []
    for job, spec in jobs_of(data).items():
        inputs = spec.get("inputs")
        if not isinstance(inputs, dict):
            continue
        for port, value in inputs.items():
            for text in _binding_values(value):
                for src_job, src_port in JOB_BINDING.findall(text):
                    found.append(Edge(src_job, src_port, job, str(port)))
    return found


def load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def component_of(pipeline_path: Path, job: dict[str, Any], root: Path) -> dict[str, Any] | None:
    """The component YAML data a job runs: a local file, or ``azureml:name:version`` found in components/."""
    comp = job.get("component")
    if isinstance(comp, dict):
        return comp
    if not isinstance(comp, str):
        return None
    if comp.startswith("azureml:"):
        name, _, version = comp.removeprefix("azureml:").partition(":")
        name = name.split("@")[0]
        for path in sorted((root / "components").glob("*.y*ml")):
            data = load_yaml(path)
            if (
                isinstance(data, dict)
                and data.get("name") == name
                and (not version or str(data.get("version")) == version)
            ):
                return data
        return None
    data = load_yaml((pipeline_path.parent / comp).resolve())
    return data if isinstance(data, dict) else None


def role_of(component: dict[str, Any] | None, job_name: str) -> str | None:
    """train, gate, release or None: the tag ``ctloop.role``, else the component (or job) name."""
    if component:
        tags = component.get("tags")
        if isinstance(tags, dict) and isinstance(tags.get(ROLE_TAG), str):
            return tags[ROLE_TAG]
        name = str(component.get("name", ""))
        for prefix in ("ctloop_", "ctloop-"):
            name = name.removeprefix(prefix)
        if name.replace("-", "_") in _NAME_ROLES:
            return _NAME_ROLES[name.replace("-", "_")]
    return _NAME_ROLES.get(job_name)


def requires_gpu(component: dict[str, Any] | None) -> bool:
    """The tag ``ctloop.requires`` decides (``gpu`` or ``cpu``); without it, a distributed PyTorch
    component (``distribution.type: pytorch``) needs a GPU and every other component does not."""
    if not component:
        return False
    tags = component.get("tags")
    declared = str(tags.get(GPU_TAG, "")).lower() if isinstance(tags, dict) else ""
    if declared:
        return declared == "gpu"
    dist = component.get("distribution")
    return isinstance(dist, dict) and str(dist.get("type", "")).lower() == "pytorch"
