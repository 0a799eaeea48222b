"""Nested ``type: pipeline`` steps: a pipeline component's steps join the outer graph.

A step ``outer`` whose component is a pipeline component (its own ``inputs``, ``outputs`` and
``jobs``) is expanded when the spec is built, to any depth: each inner step becomes a step named
``outer/inner`` (``outer/mid/inner`` two levels down), so caching, logs and the run record work per
inner step. Bindings keep Azure ML's meaning:

- ``${{parent.inputs.x}}`` inside the component takes what the outer step binds to ``x`` (a literal,
  an outer pipeline input, an upstream output or a path), else the component's ``default``;
- ``${{parent.outputs.y}}`` inside the component makes that inner output the outer step's output
  ``y``: ``${{parent.jobs.outer.outputs.y}}`` downstream reads it, and the outer step's output
  settings (asset name, mode, datastore path) apply to it.

The checks here read the YAML alone (before azure-ai-ml loads anything, so a cycle of pipeline
components never reaches the loader) and name the file and field at fault.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ctloop.engine import stores
from ctloop.engine.spec.component_checks import REMOTE_PREFIXES
from ctloop.engine.spec.literals import LITERAL_TYPES, LiteralTypeError, coerce_literal
from ctloop.engine.spec.model import JOB_OUTPUT, PARENT_OUTPUT, Binding, JobSpec
from ctloop.engine.spec.pipeline_checks import (
    JOB_TYPE_CHECKS,
    ComponentRef,
    Precheck,
    _feature_problems,
    local_data_required,
    precheck_jobs,
    raw_binding_problems,
    unsupported,
)
from ctloop.engine.spec.problems import Problem
from ctloop.engine.spec.source import Field, YamlSource, read_source

SEP = "/"  # outer/inner: how an inner step is named in the run record and `ctloop runs show`


def _mapping(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _component_file(src: YamlSource, where: Field, comp: Any, pre: Precheck) -> Path | None:
    """The pipeline component file a ``type: pipeline`` step names, or None (problem reported)."""
    if isinstance(comp, dict):
        reason = (
            "an inline pipeline component is not run locally: put it in its own file, component: ./<file>.yml"
        )
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return None
    if not isinstance(comp, str) or not comp:
        reason = "a type: pipeline job needs 'component: ./<pipeline component>.yml'"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return None
    comp = comp.removeprefix("file:")
    if comp.startswith("azureml://registries/"):
        pre.problems.append(src.problem("pipeline.feature-supported", where, unsupported("registry", comp)))
        return None
    if stores.parse(comp) is not None:
        if not local_data_required():
            pre.service_only = True
            return None
        try:
            return stores.component_file(comp)
        except stores.StoreError as exc:
            pre.problems.append(src.problem("pipeline.component-exists", where, str(exc)))
            return None
    if comp.startswith(REMOTE_PREFIXES):
        reason = f"{comp!r} is a remote component; the local engine needs a local component file"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return None
    return (src.path.parent / comp).resolve()


def _exported(data: Mapping[str, Any]) -> set[str]:
    """Outputs of a pipeline component that one of its steps writes (``${{parent.outputs.y}}``)."""
    found = set()
    for spec in _mapping(data, "jobs").values():
        for value in _mapping(spec, "outputs").values() if isinstance(spec, dict) else ():
            text = value.get("path") if isinstance(value, dict) else value
            if isinstance(text, str) and (m := PARENT_OUTPUT.fullmatch(text.strip())):
                found.add(m.group(1))
    return found


def _port_problems(src: YamlSource, job: str, spec: Mapping[str, Any], csrc: YamlSource) -> list[Problem]:
    """Required inputs the outer step leaves unbound, and downstream reads of outputs nobody writes."""
    problems = []
    name = csrc.data.get("name") or csrc.path.stem
    declared_in, declared_out = _mapping(csrc.data, "inputs"), _mapping(csrc.data, "outputs")
    given_in = _mapping(spec, "inputs")  # ports the component does not declare: ignored, as Azure ML does
    for port, decl in declared_in.items():
        decl = decl if isinstance(decl, dict) else {}
        given = given_in.get(port)
        if decl.get("type") in LITERAL_TYPES and given is not None and not _is_binding(given):
            try:  # a literal given to the component: checked here, where it is written
                coerce_literal(given, decl["type"], minimum=decl.get("min"), maximum=decl.get("max"))
            except LiteralTypeError as exc:
                reason = f"{exc} (input {port!r} of pipeline component {name!r} is {decl['type']})"
                problems.append(
                    src.problem("pipeline.literal-type", ("jobs", job, "inputs", str(port)), reason)
                )
        if port in given_in or decl.get("optional") or decl.get("default") is not None:
            continue
        reason = (
            f"required input {port!r} of pipeline component {name!r} has no value: "
            f"{src.display} jobs.{job}.inputs does not bind it and it has no default"
        )
        problems.append(csrc.problem("pipeline.required-input", ("inputs", str(port)), reason))
    exported = _exported(csrc.data)
    for other, ospec in _mapping(src.data, "jobs").items():
        for port, value in _mapping(ospec, "inputs").items() if isinstance(ospec, dict) else ():
            text = value.get("path") if isinstance(value, dict) else value
            m = JOB_OUTPUT.fullmatch(text.strip()) if isinstance(text, str) else None
            if m is None or m.group(1) != job or m.group(2) in exported:
                continue
            out = m.group(2)
            reason = (
                f"pipeline component {csrc.display} declares no output {out!r}"
                if out not in declared_out
                else f"no step of pipeline component {csrc.display} writes its output {out!r} "
                f"(bind one with ${{{{parent.outputs.{out}}}}})"
            )
            where: Field = ("jobs", str(other), "inputs", str(port))
            problems.append(src.problem("pipeline.binding-exists", where, reason))
    return problems


def _is_binding(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, str) and "${{" in value)


def precheck_nested(
    src: YamlSource, job: str, spec: dict[str, Any], pre: Precheck, stack: tuple[Path, ...]
) -> None:
    """Check a ``type: pipeline`` step and, recursively, its pipeline component's steps."""
    where: Field = ("jobs", job, "component")
    path = _component_file(src, where, spec.get("component"), pre)
    if path is None:
        return
    if path in stack:
        loop = (*stack[stack.index(path) :], path)
        chain = " -> ".join(os.path.relpath(p, stack[0].parent) for p in loop)
        reason = f"pipeline components form a cycle: {chain}"
        pre.problems.append(src.problem("pipeline.no-cycle", where, reason))
        return
    if not path.is_file():
        reason = f"component file {spec.get('component')!r} not found (resolved to {path})"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return
    first = path not in pre.sources
    found: list[Problem] = []
    csrc = pre.sources.get(path) or read_source(path, found, what="pipeline component")
    if csrc is None:
        pre.problems.extend(found)
        return
    if csrc.data.get("type") != "pipeline":
        reason = (
            f"{spec.get('component')!r} is a {csrc.data.get('type', 'command')!r} component; "
            "a type: pipeline job needs a pipeline component (type: pipeline, with its own jobs)"
        )
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return
    jobs = csrc.data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        reason = "a pipeline component needs a non-empty 'jobs' mapping"
        pre.problems.append(csrc.problem("pipeline.schema", "jobs", reason))
        return
    pre.sources[path] = csrc
    inner = Precheck(sources=pre.sources)
    features = _feature_problems(csrc, jobs)
    if features and not local_data_required():
        inner.service_only = True
    elif features:
        inner.problems.extend(features)
    else:
        precheck_jobs(csrc, jobs, inner, (*stack, path))
        inner.problems += raw_binding_problems(csrc)
    if first:  # a component used by several steps is reported once
        pre.problems.extend(inner.problems)
    pre.problems.extend(_port_problems(src, job, spec, csrc))
    pre.service_only = pre.service_only or inner.service_only
    pre.components[job] = ComponentRef(csrc, csrc.data)
    pre.components.update({f"{job}{SEP}{k}": v for k, v in inner.components.items()})


@dataclass(frozen=True)
class Scope:
    """Where bindings are read: name prefix, folder of the file, and what ``parent`` means there."""

    prefix: str  # "" in the pipeline job, "outer/" inside step outer
    base: Path  # relative paths are relative to this folder
    outputs: Mapping[str, Any]  # parent.outputs.<y> -> the value the enclosing level gives it
    inputs: Mapping[str, Binding] | None  # parent.inputs.<x> -> its binding; None: the pipeline's own


def lift(binding: Binding, scope: Scope) -> Binding:
    """A binding written in ``scope`` as a binding of the flat graph."""
    if binding.kind == "parent" and scope.inputs is not None:
        outer = scope.inputs.get(binding.ref or "")
        if outer is None:
            return binding  # reported by the checks (no such input)
        return replace(outer, mode=binding.mode or outer.mode)
    if binding.kind == "job" and scope.prefix:
        ref = f"{scope.prefix}{binding.ref}"
        return replace(binding, ref=ref, value=f"${{{{parent.jobs.{ref}.outputs.{binding.port}}}}}")
    return binding


JOB_TYPE_CHECKS["pipeline"] = precheck_nested

JobBuilder = Callable[..., JobSpec]
BindingReader = Callable[[Any, Path], Binding]


def expand(
    name: str,
    node: Any,
    raw: Mapping[str, Any],
    scope: Scope,
    components: Mapping[str, ComponentRef],
    entities: Mapping[Path, Any],
    job_spec: JobBuilder,
    read_binding: BindingReader,
) -> tuple[dict[str, JobSpec], dict[str, Binding]]:
    """The steps of pipeline step ``name`` (flat names) and what feeds each of its outputs.

    ``job_spec`` builds one command/parallel step and ``read_binding`` one input binding (build.py).
    """
    key = f"{scope.prefix}{name}"
    ref = components[key]
    comp = node.component if not isinstance(node.component, str) else entities[ref.src.path]
    raw_in, raw_out = _mapping(raw, "inputs"), _mapping(raw, "outputs")
    bound: dict[str, Binding] = {}
    for port, decl in _mapping(ref.data, "inputs").items():
        decl = decl if isinstance(decl, dict) else {}
        if port in raw_in:
            value = getattr((node.inputs or {}).get(port), "_data", None)
            if isinstance(raw_in[port], dict) and stores.parse(str(raw_in[port].get("path", ""))) is not None:
                value = raw_in[port]  # the loader drops the azureml: prefix of a data asset reference
            bound[port] = lift(read_binding(value, scope.base), scope)
        elif decl.get("default") is not None:
            bound[port] = Binding("literal", decl["default"])
        else:
            bound[port] = Binding("unset")
    outputs: dict[str, Any] = {}
    for port, decl in _mapping(ref.data, "outputs").items():
        value = raw_out.get(port)
        if isinstance(value, str) and (m := PARENT_OUTPUT.fullmatch(value.strip())):
            value = scope.outputs.get(m.group(1))
        outputs[port] = value if value is not None else decl
    inner = Scope(f"{key}{SEP}", ref.src.path.parent, outputs, bound)
    raw_jobs = _mapping(ref.data, "jobs")
    jobs: dict[str, JobSpec] = {}
    exports: dict[str, dict[str, Binding]] = {}
    for iname, inode in comp.jobs.items():
        iraw = raw_jobs.get(iname) or {}
        flat = f"{inner.prefix}{iname}"
        if getattr(inode, "type", None) == "pipeline":
            sub, exports[flat] = expand(
                iname, inode, iraw, inner, components, entities, job_spec, read_binding
            )
            jobs.update(sub)
            continue
        spec = job_spec(flat, inode, iraw, components[flat], entities, inner.base, outputs)
        jobs[flat] = replace(spec, inputs={p: lift(b, inner) for p, b in spec.inputs.items()})
    jobs = rewire(jobs, exports)
    mine: dict[str, Binding] = {}
    for iname, iraw in raw_jobs.items():
        for port, value in _mapping(iraw, "outputs").items() if isinstance(iraw, dict) else ():
            text = value.get("path") if isinstance(value, dict) else value
            m = PARENT_OUTPUT.fullmatch(text.strip()) if isinstance(text, str) else None
            if m is None:
                continue
            producer = f"{inner.prefix}{iname}"
            if producer in exports:  # a nested pipeline step's own output
                if port in exports[producer]:
                    mine[m.group(1)] = exports[producer][port]
            else:
                value_text = f"${{{{parent.jobs.{producer}.outputs.{port}}}}}"
                mine[m.group(1)] = Binding("job", value_text, ref=producer, port=str(port))
    return jobs, mine


def rewire(jobs: Mapping[str, JobSpec], exports: Mapping[str, Mapping[str, Binding]]) -> dict[str, JobSpec]:
    """Point bindings to a pipeline step's outputs at the inner steps that write them."""
    if not exports:
        return dict(jobs)
    out = {}
    for name, job in jobs.items():
        inputs = dict(job.inputs)
        for port, b in job.inputs.items():
            target = exports.get(b.ref or "", {}).get(b.port or "") if b.kind == "job" else None
            if target is not None:
                inputs[port] = replace(target, mode=b.mode or target.mode)
        out[name] = replace(job, inputs=inputs) if inputs != dict(job.inputs) else job
    return out


def locate(sources: Mapping[Path, YamlSource], top: Path, flat: str) -> tuple[YamlSource, str] | None:
    """The pipeline component file that defines step ``flat`` (``outer/inner``) and its name there."""
    src = sources.get(top)
    parts = flat.split(SEP)
    for outer in parts[:-1]:
        spec = _mapping(src.data, "jobs").get(outer) if src is not None else None
        comp = spec.get("component") if isinstance(spec, dict) else None
        if not isinstance(comp, str):
            return None
        comp = comp.removeprefix("file:")
        try:
            path = stores.component_file(comp) if stores.parse(comp) else (src.path.parent / comp).resolve()
        except stores.StoreError:
            return None
        src = sources.get(path)
    return (src, parts[-1]) if src is not None and len(parts) > 1 else None
