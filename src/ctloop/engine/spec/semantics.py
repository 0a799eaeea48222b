"""Checks on the loaded pipeline that azure-ai-ml does not make: bindings, types, cycles, counts."""

from __future__ import annotations

from typing import Any

from ctloop.engine.spec import nesting
from ctloop.engine.spec.component_checks import OPTIONAL_BLOCK, PORT_REF
from ctloop.engine.spec.literals import LiteralTypeError, coerce_literal
from ctloop.engine.spec.model import PARENT_INPUT, Binding, JobSpec, PipelineSpec, Port
from ctloop.engine.spec.pipeline_checks import path_problems
from ctloop.engine.spec.problems import Problem
from ctloop.engine.spec.source import YamlSource

SUPPORTED_DISTRIBUTIONS = ("pytorch", "mpi", "tensorflow")
_BINDING_HELP = "${{parent.inputs.<name>}} or ${{parent.jobs.<job>.outputs.<port>}}"


class _Report:
    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.src: YamlSource = spec.sources[spec.file]
        self.problems: list[Problem] = []

    def add(self, rule: str, where: str, reason: str) -> None:
        parts = where.split(".")
        if len(parts) > 1 and parts[0] == "jobs" and nesting.SEP in parts[1]:  # an inner step: its own file
            found = nesting.locate(self.spec.sources, self.spec.file, parts[1])
            if found is not None:
                src, inner = found
                self.problems.append(src.problem(rule, ".".join(["jobs", inner, *parts[2:]]), reason))
                return
        self.problems.append(self.src.problem(rule, where, reason))


def _literal(port: Port, value: Any) -> None:
    # a value outside a string input's enum is not checked: azure-ai-ml's load_job/_validate accept
    # it and Azure ML submits it (the official densenet sample gives center_crop: 224 to ['True', 'False'])
    coerce_literal(value, port.type, minimum=port.min, maximum=port.max)


def _check_binding(rep: _Report, job: JobSpec, port: Port, b: Binding) -> None:
    where = f"jobs.{job.name}.inputs.{port.name}"
    spec = rep.spec
    if b.kind == "literal":
        if isinstance(b.value, str) and "${{" in b.value:
            reason = f"{b.value!r} is not a binding: use {_BINDING_HELP}"
            rep.add("pipeline.binding-syntax", where, reason)
        elif port.is_path:
            reason = f"a {port.type} input needs a path or a binding, not {b.value!r}"
            rep.add("pipeline.binding-type", where, reason)
        else:
            try:
                _literal(port, b.value)
            except LiteralTypeError as exc:
                rep.add("pipeline.literal-type", where, f"{exc} (input {port.name!r} is {port.type})")
    elif b.kind == "parent":
        pin = spec.inputs.get(b.ref or "")
        if pin is None:
            known = ", ".join(sorted(spec.inputs)) or "none"
            rep.add(
                "pipeline.binding-exists",
                where,
                f"{b.value} names no pipeline input {b.ref!r} (inputs: {known})",
            )
        elif pin.is_path != port.is_path:
            what = f"the {pin.type} path input" if pin.is_path else f"the literal {pin.value!r}"
            rep.add(
                "pipeline.binding-type",
                where,
                f"{port.type} input {port.name!r} is bound to {what} (parent input {b.ref!r})",
            )
        elif not port.is_path and pin.value is not None:
            try:
                _literal(port, pin.value)
            except LiteralTypeError as exc:
                reason = f"parent input {b.ref!r} = {pin.value!r}: {exc} (input {port.name!r} is {port.type})"
                rep.add("pipeline.literal-type", where, reason)
    elif b.kind == "job":
        up = spec.jobs.get(b.ref or "")
        if b.ref == job.name:
            return  # reported as a self-loop by the cycle check
        if up is None:
            known = ", ".join(sorted(spec.jobs))
            rep.add("pipeline.binding-exists", where, f"{b.value} names no job {b.ref!r} (jobs: {known})")
        elif b.port not in up.component.outputs:
            known = ", ".join(sorted(up.component.outputs)) or "none"
            rep.add(
                "pipeline.binding-exists", where, f"job {b.ref!r} has no output {b.port!r} (outputs: {known})"
            )
        elif not port.is_path:
            rep.add(
                "pipeline.binding-type",
                where,
                f"{port.type} input {port.name!r} cannot take the output of job {b.ref!r}",
            )
    elif b.kind == "path":
        if not port.is_path:
            rep.add("pipeline.binding-type", where, f"{port.type} input {port.name!r} cannot take a path")
        else:
            rep.problems.extend(
                path_problems(rep.src, (*where.split("."), "path"), str(b.value), str(b.type or port.type))
            )


def _has_value(rep: _Report, port: Port, b: Binding) -> bool:
    if b.kind == "unset":
        return port.default is not None
    if b.kind == "parent":
        pin = rep.spec.inputs.get(b.ref or "")
        return pin is None or pin.value is not None  # a missing input is reported elsewhere
    return True


def _check_required(rep: _Report, job: JobSpec) -> None:
    comp = job.component
    outside = {
        m.group(2) for m in PORT_REF.finditer(OPTIONAL_BLOCK.sub("", comp.command)) if m.group(1) == "inputs"
    }
    for name, port in comp.inputs.items():
        if _has_value(rep, port, job.inputs[name]):
            continue
        where = f"jobs.{job.name}.inputs.{name}"
        if not port.optional:
            rep.add(
                "pipeline.required-input",
                where,
                f"required input {name!r} of component {comp.name!r} has no value",
            )
        elif name in outside:
            reason = f"optional input {name!r} has no value but the command uses it outside $[[...]]"
            rep.add("pipeline.required-input", where, reason)


def _check_declared(rep: _Report, job: JobSpec) -> None:
    comp = job.component
    for section, declared, ports in (
        ("inputs", job.declared_inputs, comp.inputs),
        ("outputs", job.declared_outputs, comp.outputs),
    ):
        for name in declared:
            if name not in ports:
                known = ", ".join(sorted(ports)) or "none"
                reason = f"component {comp.name!r} declares no {section[:-1]} {name!r} ({section}: {known})"
                rep.add("pipeline.job-port-declared", f"jobs.{job.name}.{section}.{name}", reason)


def count_value(spec: PipelineSpec, value: Any) -> int:
    """A process/instance count: an int, or a ``${{parent.inputs.x}}`` bound to one."""
    if isinstance(value, str) and (m := PARENT_INPUT.fullmatch(value.strip())):
        if m.group(1) not in spec.inputs:
            raise LiteralTypeError(f"{value} names no pipeline input {m.group(1)!r}")
        value = spec.inputs[m.group(1)].value
    count = coerce_literal(value, "integer")
    if count < 1:
        raise LiteralTypeError(f"{count} is not a positive count")
    return int(count)


def _check_distribution(rep: _Report, job: JobSpec) -> None:
    where = f"jobs.{job.name}.distribution"
    if job.distribution_type is not None and job.distribution_type not in SUPPORTED_DISTRIBUTIONS:
        reason = (
            f"distribution {job.distribution_type!r} is not supported locally (pytorch, mpi or tensorflow)"
        )
        rep.add("pipeline.distribution-supported", f"{where}.type", reason)
        return
    checks = [("resources.instance_count", job.instance_count)]
    if job.distribution_type is not None:
        checks.append(
            ("distribution.process_count_per_instance", 1 if job.process_count is None else job.process_count)
        )
    for field, value in checks:
        try:
            count_value(rep.spec, value)
        except LiteralTypeError as exc:
            rep.add("pipeline.distribution-supported", f"jobs.{job.name}.{field}", str(exc))


def run_order(rep: _Report) -> tuple[str, ...]:
    """Jobs in a dependency-respecting order (file order among ready jobs); reports cycles."""
    jobs = rep.spec.jobs
    deps = {n: {u for u in j.upstream() if u in jobs} for n, j in jobs.items()}
    for name, up in deps.items():
        if name in up:
            port = next(p for p, b in jobs[name].inputs.items() if b.kind == "job" and b.ref == name)
            rep.add(
                "pipeline.no-cycle",
                f"jobs.{name}.inputs.{port}",
                f"job {name!r} binds its own output (self-loop)",
            )
            up.discard(name)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(jobs):
        ready = [n for n in jobs if n not in done and deps[n] <= done]
        if not ready:
            left = [n for n in jobs if n not in done]
            rep.add("pipeline.no-cycle", f"jobs.{left[0]}", f"jobs {_cycle(left, deps)} form a cycle")
            return ()
        order.extend(ready)
        done.update(ready)
    return tuple(order)


def _cycle(left: list[str], deps: dict[str, set[str]]) -> str:
    path = [left[0]]
    while True:
        nxt = sorted(d for d in deps[path[-1]] if d in left)[0]
        if nxt in path:
            loop = [*path[path.index(nxt) :], nxt]
            return " -> ".join(reversed(loop))
        path.append(nxt)


def semantic_problems(spec: PipelineSpec) -> tuple[list[Problem], tuple[str, ...]]:
    """Problems in the loaded pipeline, and the run order (empty when the graph has a cycle)."""
    rep = _Report(spec)
    for job in spec.jobs.values():
        _check_declared(rep, job)
        for name, port in job.component.inputs.items():
            _check_binding(rep, job, port, job.inputs[name])
        _check_required(rep, job)
        _check_distribution(rep, job)
    order = run_order(rep)
    return rep.problems, order
