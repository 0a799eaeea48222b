"""Turn the azure-ai-ml objects of a loaded pipeline into the engine's plain ``PipelineSpec``."""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ctloop.engine import datastores, stores
from ctloop.engine.spec import nesting
from ctloop.engine.spec.literals import PATH_TYPES
from ctloop.engine.spec.model import (
    JOB_OUTPUT,
    PARENT_INPUT,
    PARENT_OUTPUT,
    Binding,
    ComponentSpec,
    JobOutput,
    JobSpec,
    PipelineInput,
    PipelineSpec,
    Port,
)
from ctloop.engine.spec.pipeline_checks import ComponentRef
from ctloop.engine.spec.source import YamlSource
from ctloop.engine.sweep_space import SWEEP_KEYS, parse_sweep


def data_hash(data: Any) -> str:
    """sha256 of ``data`` as canonical JSON."""
    blob = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _port(name: str, obj: Any) -> Port:
    enum = _attr(obj, "enum")
    return Port(
        name=name,
        type=str(_attr(obj, "type")),
        optional=bool(_attr(obj, "optional", False)),
        default=_attr(obj, "default"),
        enum=tuple(enum) if enum else None,
        min=_attr(obj, "min"),
        max=_attr(obj, "max"),
    )


def _component(ref: ComponentRef, component: Any, job: str, node: Any = None) -> ComponentSpec:
    raw = ref.data
    code = raw.get("code")
    dist = getattr(component, "distribution", None)
    if _attr(node, "task") is not None or _attr(component, "task") is not None:  # a parallel job
        command, task = _parallel_command(node, component)
        code = _attr(task, "code")
        spec = _plain_component(ref, component, job, command, code, None)
        return replace(spec, instance_count=1)
    return _plain_component(ref, component, job, str(component.command), code, dist)


def _plain_component(
    ref: ComponentRef, component: Any, job: str, command: str, code: Any, dist: Any
) -> ComponentSpec:
    raw = ref.data
    return ComponentSpec(
        source=ref.src.path,
        field=".".join(ref.prefix),
        name=str(raw.get("name") or job),
        version=str(raw["version"]) if raw.get("version") is not None else None,
        command=command,
        code=(ref.src.path.parent / code).resolve() if isinstance(code, str) else None,
        inputs={k: _port(k, v) for k, v in (component.inputs or {}).items()},
        outputs={k: _port(k, v) for k, v in (component.outputs or {}).items()},
        is_deterministic=component.is_deterministic is not False,
        spec_hash=data_hash(raw),
        distribution_type=_attr(dist, "type"),
        process_count=_attr(dist, "process_count_per_instance"),
        instance_count=_attr(getattr(component, "resources", None), "instance_count", 1) or 1,
    )


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) or str(value).isdigit() else 1


def _parallel_command(node: Any, component: Any) -> tuple[str, Any]:
    """The command that runs a parallel job's mini-batches (ctloop.engine.parallel_run), and its task."""
    task = _attr(node, "task") or _attr(component, "task")

    def setting(name: str, default: Any = None) -> Any:
        return _first(_attr(node, name), _attr(component, name), default)

    nodes = _count(_attr(_attr(node, "resources") or _attr(component, "resources"), "instance_count", 1) or 1)
    workers = nodes * _count(setting("max_concurrency_per_instance", 1))
    threshold = setting("mini_batch_error_threshold", -1)
    parts = [
        "python -m ctloop.engine.parallel_run",
        f"--entry {shlex.quote(str(_attr(task, 'entry_script')))}",
        f"--input {setting('input_data')}",
        f"--mini-batch-size {shlex.quote(str(setting('mini_batch_size', 1)))}",
        f"--workers {workers}",
        f"--error-threshold {int(threshold)}",
    ]
    if _attr(task, "append_row_to"):
        parts.append(f"--output {_attr(task, 'append_row_to')}")
    parts.append(f"-- {_attr(task, 'program_arguments') or ''}")
    return " ".join(parts), task


def local_path(path: str, base: Path) -> Path:
    """A data path as written (relative, datastore URI or ``azureml:`` asset) on this machine."""
    if stores.parse(path) is not None:
        try:
            return stores.data_path(path)
        except stores.StoreError:
            return base / path  # reported by the path checks
    if datastores.is_datastore_uri(path):
        return datastores.local_path(path)
    return (base / path).resolve()


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _binding(value: Any, base: Path) -> Binding:
    if value is None:
        return Binding("unset")
    if isinstance(value, str):
        if m := PARENT_INPUT.fullmatch(value.strip()):
            return Binding("parent", value, ref=m.group(1))
        if m := JOB_OUTPUT.fullmatch(value.strip()):
            return Binding("job", value, ref=m.group(1), port=m.group(2))
        return Binding("literal", value)
    if isinstance(value, bool | int | float):
        return Binding("literal", value)
    path, mode = _attr(value, "path"), _attr(value, "mode")
    mode = str(mode) if mode else None
    if isinstance(path, str):
        inner = _binding(path, base)
        if inner.kind in ("parent", "job"):
            return replace(inner, mode=mode)
        return Binding("path", path, path=local_path(path, base), type=_attr(value, "type"), mode=mode)
    if _attr(value, "value") is not None and _attr(value, "type") not in (None, *PATH_TYPES):
        return Binding("literal", _attr(value, "value"))
    return Binding("literal", value)


def _output(port: str, value: Any, pipeline_outputs: Mapping[str, Any]) -> JobOutput:
    if isinstance(value, str) and (m := PARENT_OUTPUT.fullmatch(value.strip())):
        value = pipeline_outputs.get(m.group(1))
    name, version = _attr(value, "name"), _attr(value, "version")
    mode, path = _attr(value, "mode"), _attr(value, "path")
    return JobOutput(
        port,
        str(name) if name else None,
        str(version) if version is not None else None,
        mode=str(mode) if mode else None,
        path=str(path) if isinstance(path, str) and path else None,
    )


def _pipeline_input(name: str, value: Any, base: Path) -> PipelineInput:
    if isinstance(value, str | int | float | bool) or value is None:
        return PipelineInput(name, value)
    path, type_ = _attr(value, "path"), _attr(value, "type")
    if isinstance(path, str) and isinstance(type_, str):
        return PipelineInput(name, local_path(path, base), type_)
    literal = _attr(value, "default", _attr(value, "value"))
    if type_ not in PATH_TYPES and literal is not None:  # {type: integer, value: 3}
        return PipelineInput(name, literal)
    return PipelineInput(name, value)


def build_spec(
    src: YamlSource,
    job: Any,
    components: Mapping[str, ComponentRef],
    sources: Mapping[Path, YamlSource],
    entities: Mapping[Path, Any] | None = None,
) -> PipelineSpec:
    """The plain-data view of a loaded pipeline (no run order yet: the checks compute it)."""
    base = src.path.parent
    entities = entities or {}
    raw_jobs: Mapping[str, Any] = src.data.get("jobs") or {}
    raw_outputs = src.data.get("outputs") if isinstance(src.data.get("outputs"), dict) else {}
    jobs: dict[str, JobSpec] = {}
    exports: dict[str, dict[str, Binding]] = {}
    for name, node in job.jobs.items():
        raw = raw_jobs.get(name) or {}
        if getattr(node, "type", None) == "pipeline":  # a pipeline component: its steps join this graph
            scope = nesting.Scope("", base, raw_outputs or {}, None)
            inner, exports[name] = nesting.expand(
                name, node, raw, scope, components, entities, job_spec, _binding
            )
            jobs.update(inner)
            continue
        jobs[name] = job_spec(name, node, raw, components[name], entities, base, raw_outputs or {})
    jobs = nesting.rewire(jobs, exports)
    inputs = {k: _pipeline_input(k, getattr(v, "_data", v), base) for k, v in (job.inputs or {}).items()}
    settings = getattr(job, "settings", None)
    display = getattr(job, "display_name", None) or src.path.stem
    return PipelineSpec(
        file=src.path,
        name=str(display),
        experiment_name=str(getattr(job, "experiment_name", None) or display),
        inputs=inputs,
        jobs=jobs,
        order=(),
        continue_on_step_failure=bool(_attr(settings, "continue_on_step_failure", False)),
        sources=dict(sources),
    )


def job_spec(
    name: str,
    node: Any,
    raw: Mapping[str, Any],
    ref: ComponentRef,
    entities: Mapping[Path, Any],
    base: Path,
    raw_outputs: Mapping[str, Any],
) -> JobSpec:
    """One command or parallel step: its component, bindings (relative to ``base``) and settings."""
    loaded = node.trial if raw.get("type") == "sweep" else node.component  # a sweep runs its trial
    if isinstance(loaded, str):  # azureml:<name>@latest: the component from the local store
        loaded = entities[ref.src.path]
    comp = _component(ref, loaded, name, node)
    raw_inputs = raw.get("inputs") if isinstance(raw.get("inputs"), dict) else {}
    raw_outs = raw.get("outputs") if isinstance(raw.get("outputs"), dict) else {}
    inputs = {}
    for port in comp.inputs:
        node_input = node.inputs.get(port) if node.inputs else None
        value = getattr(node_input, "_data", None) if port in raw_inputs else None
        raw_value = raw_inputs.get(port)
        if isinstance(raw_value, dict) and stores.parse(str(raw_value.get("path", ""))) is not None:
            value = raw_value  # the loader drops the azureml: prefix of a data asset reference
        inputs[port] = _binding(value, base)
    outputs = {}
    for port in comp.outputs:
        node_output = node.outputs.get(port) if node.outputs else None
        value = getattr(node_output, "_data", None) if port in raw_outs else None
        outputs[port] = _output(port, value, raw_outputs)
    dist = getattr(node, "distribution", None)
    limits = getattr(node, "limits", None)
    env = getattr(node, "environment_variables", None) or {}
    spec = JobSpec(
        name=name,
        component=comp,
        inputs=inputs,
        outputs=outputs,
        declared_inputs=tuple(str(k) for k in raw_inputs),
        declared_outputs=tuple(str(k) for k in raw_outs),
        distribution_type=_attr(dist, "type") or comp.distribution_type,
        process_count=_first(_attr(dist, "process_count_per_instance"), comp.process_count),
        instance_count=1  # a parallel job's driver starts every worker itself
        if _attr(node, "task") is not None or _attr(loaded, "task") is not None
        else _attr(getattr(node, "resources", None), "instance_count") or comp.instance_count,
        worker_count=_attr(dist, "worker_count"),
        parameter_server_count=int(_attr(dist, "parameter_server_count") or 0),
        timeout=_attr(limits, "timeout"),
        environment_variables={str(k): str(v) for k, v in env.items()},
    )
    return _with_sweep(spec, raw)


def _with_sweep(spec: JobSpec, raw: Mapping[str, Any]) -> JobSpec:
    """A sweep job: its settings as written, each searched input bound to a sample value for the checks."""
    if raw.get("type") != "sweep":
        return spec
    settings = parse_sweep(raw)
    bound = {d.name: Binding("literal", d.representative()) for d in settings.space if d.name in spec.inputs}
    written = {k: raw[k] for k in SWEEP_KEYS if raw.get(k) is not None}
    return replace(spec, inputs={**spec.inputs, **bound}, timeout=None, sweep=written)
