"""The loaded pipeline as plain data: what the engine runs and what the checks inspect."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ctloop.engine.spec.literals import FILE_TYPES, PATH_TYPES
from ctloop.engine.spec.source import YamlSource

#: ``${{parent.inputs.x}}``, ``${{parent.jobs.j.outputs.p}}``, ``${{parent.outputs.o}}``
PARENT_INPUT = re.compile(r"\$\{\{\s*parent\.inputs\.([\w-]+)\s*\}\}")
JOB_OUTPUT = re.compile(r"\$\{\{\s*parent\.jobs\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}")
PARENT_OUTPUT = re.compile(r"\$\{\{\s*parent\.outputs\.([\w-]+)\s*\}\}")


@dataclass(frozen=True)
class Port:
    """A component input or output."""

    name: str
    type: str
    optional: bool = False
    default: Any = None
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None

    @property
    def is_path(self) -> bool:
        return self.type in PATH_TYPES

    @property
    def is_file(self) -> bool:
        return self.type in FILE_TYPES


@dataclass(frozen=True)
class ComponentSpec:
    """A command component: where it came from, its ports, command and code folder."""

    source: Path  # the component YAML, or the pipeline YAML for an inline component
    field: str  # "" for a file, "jobs.<job>.component" for an inline component
    name: str
    version: str | None
    command: str
    code: Path | None
    inputs: Mapping[str, Port]
    outputs: Mapping[str, Port]
    is_deterministic: bool
    spec_hash: str  # sha256 of the component's YAML data (canonical JSON)
    distribution_type: str | None = None
    process_count: Any = None  # int, or a binding string
    instance_count: Any = 1

    def where(self, *parts: str) -> str:
        return ".".join(p for p in (self.field, *parts) if p)


@dataclass(frozen=True)
class Binding:
    """What feeds one job input: a literal, a pipeline input, a job output or a local path."""

    kind: Literal["literal", "parent", "job", "path", "unset"]
    value: Any = None  # the literal, the raw binding string, or the path as written
    ref: str | None = None  # parent input name, or upstream job name
    port: str | None = None  # upstream output port
    path: Path | None = None  # absolute path for kind "path"
    type: str | None = None  # the data type written beside a path
    mode: str | None = None  # ro_mount | download | rw_mount | direct ... (None: the type's default)


@dataclass(frozen=True)
class JobOutput:
    """A job output port and, when named, the data asset it is registered as."""

    port: str
    asset_name: str | None = None
    asset_version: str | None = None
    mode: str | None = None  # rw_mount | upload | direct (all write to a local folder)
    path: str | None = None  # where Azure ML would write it, e.g. azureml://datastores/<name>/paths/<p>


@dataclass(frozen=True)
class JobSpec:
    """One step of the pipeline."""

    name: str
    component: ComponentSpec
    inputs: Mapping[str, Binding]
    outputs: Mapping[str, JobOutput]
    declared_inputs: tuple[str, ...] = ()  # keys as written under jobs.<name>.inputs
    declared_outputs: tuple[str, ...] = ()
    distribution_type: str | None = None
    process_count: Any = None
    instance_count: Any = 1
    worker_count: int | None = None  # tensorflow distribution
    parameter_server_count: int = 0
    timeout: float | None = None
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    sweep: Mapping[str, Any] | None = None  # a type: sweep job's settings as written (sweep_space.py)

    def upstream(self) -> set[str]:
        return {b.ref for b in self.inputs.values() if b.kind == "job" and b.ref}


@dataclass(frozen=True)
class PipelineInput:
    """A pipeline-level input: a literal, or a local path with its Azure ML type."""

    name: str
    value: Any
    type: str | None = None  # uri_* type for paths, None for literals

    @property
    def is_path(self) -> bool:
        return self.type in PATH_TYPES


@dataclass(frozen=True)
class PipelineSpec:
    """A checked pipeline: inputs, jobs in a valid run order, and its settings."""

    file: Path
    name: str
    experiment_name: str
    inputs: Mapping[str, PipelineInput]
    jobs: Mapping[str, JobSpec]
    order: tuple[str, ...]
    continue_on_step_failure: bool = False
    sources: Mapping[Path, YamlSource] = field(default_factory=dict, compare=False, repr=False)
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def downstream(self, job: str) -> set[str]:
        """Every job that depends on ``job``, directly or not."""
        found: set[str] = set()
        frontier = {job}
        while frontier:
            nxt = {n for n, j in self.jobs.items() if j.upstream() & frontier} - found
            found |= nxt
            frontier = nxt
        return found

    def with_inputs(self, inputs: Mapping[str, PipelineInput], overrides: Mapping[str, Any]) -> PipelineSpec:
        return replace(self, inputs=dict(inputs), overrides=dict(overrides))

    def resolve(self, binding: Binding) -> Any:
        """The value of a literal/parent/path binding (job outputs are resolved by the runner)."""
        if binding.kind == "literal":
            return binding.value
        if binding.kind == "path":
            return binding.path
        if binding.kind == "parent" and binding.ref in self.inputs:
            return self.inputs[binding.ref].value
        return None
