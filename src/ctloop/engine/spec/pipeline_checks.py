"""Checks on a pipeline's YAML data before the loader runs: job types, component files, input paths."""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctloop.engine import datastores, stores
from ctloop.engine.spec.component_checks import (
    REMOTE_PREFIXES,
    code_problems,
    command_problems,
    component_data_problems,
)
from ctloop.engine.spec.literals import FILE_TYPES, LITERAL_TYPES, PATH_TYPES
from ctloop.engine.spec.problems import Problem
from ctloop.engine.spec.source import Field, YamlSource, read_source


@dataclass
class ComponentRef:
    """Where a job's component lives: its own file (``src`` is that file) or inline in the pipeline."""

    src: YamlSource
    data: dict[str, Any]
    prefix: Field = ()


@dataclass
class Precheck:
    problems: list[Problem] = field(default_factory=list)
    sources: dict[Path, YamlSource] = field(default_factory=dict)
    components: dict[str, ComponentRef] = field(default_factory=dict)
    #: In spec-only mode: the pipeline uses something only Azure ML runs (automl, parallel, a
    #: registered component ...); it is then checked by the azure-ai-ml loader alone.
    service_only: bool = False


def local_data_required() -> bool:
    return _LOCAL_DATA.get()


def _input_problems(src: YamlSource) -> list[Problem]:
    inputs = src.data.get("inputs")
    if inputs is None:
        return []
    if not isinstance(inputs, dict):
        return [src.problem("pipeline.schema", "inputs", "inputs must be a mapping of name to value")]
    problems = []
    for name, value in inputs.items():
        if not isinstance(value, dict):
            continue
        where: Field = ("inputs", str(name))
        type_ = value.get("type")
        if "value" in value and type_ in (None, *LITERAL_TYPES):
            continue  # a literal written as {type: integer, value: 3}
        if type_ not in PATH_TYPES:
            wanted = ", ".join(sorted(PATH_TYPES))
            reason = f"a pipeline input given as a mapping needs a data type ({wanted}); got {type_!r}"
            problems.append(src.problem("pipeline.schema", (*where, "type"), reason))
            continue
        path = value.get("path")
        if not isinstance(path, str) or not path:
            problems.append(
                src.problem("pipeline.input-path-exists", (*where, "path"), f"a {type_} input needs a 'path'")
            )
            continue
        problems += path_problems(src, (*where, "path"), path, type_)
    return problems


#: False while checking specs as Azure ML does (remote data, assets and datastores are not looked up).
_LOCAL_DATA = contextvars.ContextVar("ctloop_local_data", default=True)


@contextlib.contextmanager
def spec_only() -> Iterator[None]:
    """Check specs as the service does: data given by URI or asset reference is not resolved locally."""
    token = _LOCAL_DATA.set(False)
    try:
        yield
    finally:
        _LOCAL_DATA.reset(token)


def path_problems(src: YamlSource, where: Field, path: str, type_: str) -> list[Problem]:
    """A uri_* path must be local (relative to the pipeline file) and exist with the right kind."""
    if "${{" in path:
        return []
    if not _LOCAL_DATA.get() and ("://" in path or path.startswith("azureml:")):
        return []
    if stores.parse(path) is not None:
        try:
            stores.data_path(path)
        except stores.StoreError as exc:
            return [src.problem("pipeline.input-path-exists", where, str(exc))]
        return []
    if datastores.is_datastore_uri(path):
        local = datastores.local_path(path)
        if not local.exists():
            reason = (
                f"{path!r}: datastore path not found locally (expected at {local}); "
                "copy the data there, or register it with `ctloop data create`"
            )
            return [src.problem("pipeline.input-path-exists", where, reason)]
        return []
    if path.startswith(REMOTE_PREFIXES) or "://" in path:
        return [
            src.problem(
                "pipeline.input-path-exists",
                where,
                f"{path!r} is not a local path (the local engine reads local files)"
                + (
                    ": Azure ML downloads it when the job starts; the local engine never downloads, "
                    "so fetch it once and give the local copy's path (or `ctloop data create` it)"
                    if path.startswith(("http://", "https://"))
                    else ""
                ),
            )
        ]
    resolved = (src.path.parent / path).resolve()
    if not resolved.exists():
        return [
            src.problem(
                "pipeline.input-path-exists", where, f"{path!r} does not exist (resolved to {resolved})"
            )
        ]
    if type_ in FILE_TYPES and not resolved.is_file():
        return [
            src.problem("pipeline.input-path-exists", where, f"{path!r} is a folder but the type is {type_}")
        ]
    if type_ not in FILE_TYPES and not resolved.is_dir():
        return [
            src.problem("pipeline.input-path-exists", where, f"{path!r} is a file but the type is {type_}")
        ]
    return []


def _component(src: YamlSource, job: str, spec: dict[str, Any], pre: Precheck) -> None:
    where: Field = ("jobs", job, "component")
    comp = spec.get("component")
    if comp is None and "command" in spec:  # an inline command job: the job is its own component
        pre.components[job] = ComponentRef(src, spec, ("jobs", job))
        pre.problems.extend(code_problems(src, spec, ("jobs", job)))
        pre.problems.extend(command_problems(src, spec, ("jobs", job)))
        return
    if isinstance(comp, dict):
        pre.components[job] = ComponentRef(src, comp, where)
        pre.problems.extend(component_data_problems(src, comp, where))
        return
    if not isinstance(comp, str) or not comp:
        reason = "a command job needs a 'component' (a file path) or its own 'command'"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return
    comp = comp.removeprefix("file:")
    if comp.startswith("azureml://registries/"):
        pre.problems.append(src.problem("pipeline.feature-supported", where, unsupported("registry", comp)))
        return
    if stores.parse(comp) is not None:
        if not _LOCAL_DATA.get():
            pre.service_only = True
            return
        try:
            path = stores.component_file(comp)
        except stores.StoreError as exc:
            pre.problems.append(src.problem("pipeline.component-exists", where, str(exc)))
            return
    elif comp.startswith(REMOTE_PREFIXES):
        reason = f"{comp!r} is a remote component; the local engine needs a local component file"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return
    else:
        path = (src.path.parent / comp).resolve()
    if path in pre.sources:
        pre.components[job] = ComponentRef(pre.sources[path], pre.sources[path].data)
        return
    if not path.is_file():
        reason = f"component file {comp!r} not found (resolved to {path})"
        pre.problems.append(src.problem("pipeline.component-exists", where, reason))
        return
    found: list[Problem] = []
    csrc = read_source(path, found, what="component")
    if csrc is None:
        pre.problems.extend(found)
        pre.problems.append(
            src.problem(
                "pipeline.component-exists",
                where,
                f"component file {comp!r} cannot be used: {found[0].reason}",
            )
        )
        return
    pre.sources[path] = csrc
    pre.components[job] = ComponentRef(csrc, csrc.data)
    pre.problems.extend(component_data_problems(csrc, csrc.data))


def _parallel(src: YamlSource, job: str, spec: dict[str, Any], pre: Precheck) -> None:
    """A parallel job: inline (``task:`` in the job) or a parallel component file; run_function only."""
    where: Field = ("jobs", job, "component")
    comp = spec.get("component")
    if isinstance(comp, str):
        path = (src.path.parent / comp.removeprefix("file:")).resolve()
        if not path.name.endswith((".yml", ".yaml")) or path.name.startswith("flow.dag"):
            reason = f"{comp!r}: prompt flow components run only on Azure ML (run with --target azure)"
            pre.problems.append(src.problem("pipeline.feature-supported", where, reason))
            return
        found: list[Problem] = []
        csrc = pre.sources.get(path) or read_source(path, found, what="component")
        if csrc is None:
            pre.problems.extend(
                found or [src.problem("pipeline.component-exists", where, f"{comp!r} not found")]
            )
            return
        pre.sources[path] = csrc
        ref = ComponentRef(csrc, csrc.data)
    elif isinstance(comp, dict):
        ref = ComponentRef(src, comp, where)
    else:
        ref = ComponentRef(src, spec, ("jobs", job))
    task = ref.data.get("task") if isinstance(ref.data.get("task"), dict) else (spec.get("task") or {})
    if task.get("type", "run_function") != "run_function" or not task.get("entry_script"):
        reason = "a parallel job needs task: {type: run_function, code: ..., entry_script: ...}"
        pre.problems.append(ref.src.problem("pipeline.job-type-supported", (*ref.prefix, "task"), reason))
        return
    pre.components[job] = ref


def _sweep(src: YamlSource, job: str, spec: dict[str, Any], pre: Precheck) -> None:
    """A sweep job: its trial resolves as a command job's component; its settings are checked."""
    from ctloop.engine.sweep_space import SweepError, parse_sweep

    where: Field = ("jobs", job, "trial")
    trial = spec.get("trial")
    if not trial:
        reason = "a sweep job needs a 'trial' (a command component)"
        pre.problems.append(src.problem("pipeline.sweep-settings", where, reason))
        return
    _component(src, job, {"component": trial}, pre)
    ref = pre.components.get(job)
    if ref is None:
        return
    if isinstance(trial, dict):
        ref.prefix = where
    try:
        settings = parse_sweep(spec)
    except SweepError as exc:
        pre.problems.append(src.problem("pipeline.sweep-settings", ("jobs", job, *exc.field), exc.reason))
        return
    ports = ref.data.get("inputs") if isinstance(ref.data.get("inputs"), dict) else {}
    for dist in settings.space:
        if dist.name not in ports:
            known = ", ".join(map(str, ports)) or "none"
            reason = f"names no input {dist.name!r} of the trial component (inputs: {known})"
            at: Field = ("jobs", job, "search_space", dist.name)
            pre.problems.append(src.problem("pipeline.sweep-settings", at, reason))
    pre.problems.extend(_job_input_kinds(src, job, spec, ref))


def _job_input_kinds(src: YamlSource, job: str, spec: dict[str, Any], ref: ComponentRef) -> list[Problem]:
    """Data ports given numbers, literal ports given path mappings (the loader's own errors are cryptic)."""
    raw_inputs = spec.get("inputs")
    ports = ref.data.get("inputs")
    if not isinstance(raw_inputs, dict) or not isinstance(ports, dict):
        return []
    problems = []
    for name, value in raw_inputs.items():
        port = ports.get(name)
        type_ = port.get("type") if isinstance(port, dict) else None
        where: Field = ("jobs", job, "inputs", str(name))
        if type_ in PATH_TYPES and isinstance(value, bool | int | float):
            reason = (
                f"a {type_} input needs a path ({{type: {type_}, path: ...}}) or a binding, not {value!r}"
            )
            problems.append(src.problem("pipeline.binding-type", where, reason))
        elif type_ in LITERAL_TYPES and isinstance(value, dict):
            problems.append(
                src.problem(
                    "pipeline.binding-type",
                    where,
                    f"{type_} input {name!r} needs a literal value, not a mapping",
                )
            )
    return problems


#: What the local engine does not run, and what to do instead (one line each).
UNSUPPORTED = {
    "automl": "AutoML jobs run only on Azure ML: submit the pipeline with `ctloop run --target azure`",
    "spark": "Spark jobs need a Spark pool: submit the pipeline with `ctloop run --target azure`",
    "registry": "components from an Azure ML registry are not available offline: copy the component "
    "YAML into the repository and use `component: file:./<component>.yml`, or run with --target azure",
    "import": "import jobs read external databases: run with --target azure, or land the data locally",
    "data_transfer": "data transfer jobs copy between cloud stores: run with --target azure",
}


def unsupported(feature: str, what: str) -> str:
    """The one-line refusal for a feature the local engine does not run."""
    return f"{what!r} is not supported by the local engine: {UNSUPPORTED[feature]}"


def _feature_problems(src: YamlSource, jobs: dict[Any, Any]) -> list[Problem]:
    """Jobs that use a feature the engine never runs locally (reported alone: nothing else matters)."""
    problems = []
    for name, spec in jobs.items():
        if not isinstance(spec, dict):
            continue
        type_ = spec.get("type", "command")
        comp = spec.get("component")
        if type_ in UNSUPPORTED:
            where: Field = ("jobs", str(name), "type")
            problems.append(
                src.problem("pipeline.feature-supported", where, unsupported(type_, f"type: {type_}"))
            )
        elif isinstance(comp, str) and comp.startswith("azureml://registries/"):
            where = ("jobs", str(name), "component")
            problems.append(src.problem("pipeline.feature-supported", where, unsupported("registry", comp)))
    return problems


_JOB_REF = re.compile(r"\$\{\{\s*parent\.jobs\.([\w-]+)\.outputs\.[\w-]+\s*\}\}")
_INPUT_REF = re.compile(r"\$\{\{\s*parent\.inputs\.([\w-]+)\s*\}\}")


def raw_binding_problems(src: YamlSource) -> list[Problem]:
    """Bindings to jobs or pipeline inputs that do not exist, read from the YAML alone.

    The azure-ai-ml loader accepts them; this check needs no component, so it also covers
    pipelines whose jobs only Azure ML runs.
    """
    jobs = src.data.get("jobs") if isinstance(src.data.get("jobs"), dict) else {}
    inputs = src.data.get("inputs") if isinstance(src.data.get("inputs"), dict) else {}
    problems = []
    for name, spec in jobs.items():
        bound = spec.get("inputs") if isinstance(spec, dict) else None
        for port, value in (bound or {}).items() if isinstance(bound, dict) else ():
            text = value.get("path") if isinstance(value, dict) else value
            if not isinstance(text, str):
                continue
            where: Field = ("jobs", str(name), "inputs", str(port))
            for ref in _JOB_REF.findall(text):
                if ref not in jobs:
                    reason = f"{text} names no job {ref!r} (jobs: {', '.join(map(str, jobs))})"
                    problems.append(src.problem("pipeline.binding-exists", where, reason))
            for ref in _INPUT_REF.findall(text):
                if ref not in inputs:
                    known = ", ".join(map(str, inputs)) or "none"
                    reason = f"{text} names no pipeline input {ref!r} (inputs: {known})"
                    problems.append(src.problem("pipeline.binding-exists", where, reason))
    return problems


def precheck_pipeline(src: YamlSource) -> Precheck:
    """Structural checks on the pipeline and every component it references (files read once)."""
    pre = Precheck(sources={src.path: src})
    data = src.data
    if data.get("type", "pipeline") != "pipeline":
        reason = (
            f"this file is a {data.get('type')!r} job; the local engine runs pipeline jobs (type: pipeline)"
        )
        pre.problems.append(src.problem("pipeline.schema", "type", reason))
        return pre
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        pre.problems.append(
            src.problem("pipeline.schema", "jobs", "a pipeline needs a non-empty 'jobs' mapping")
        )
        return pre
    features = _feature_problems(src, jobs)
    if features and not _LOCAL_DATA.get():
        pre.service_only = True
        return pre
    if features:
        pre.problems.extend(features)
        return pre
    pre.problems.extend(_input_problems(src))
    precheck_jobs(src, jobs, pre, (src.path,))
    return pre


#: Job types checked by another module: ``type -> check(src, job, spec, pre, stack)``.
JOB_TYPE_CHECKS: dict[str, Callable[[YamlSource, str, dict[str, Any], Precheck, tuple[Path, ...]], None]] = {}


def precheck_jobs(src: YamlSource, jobs: dict[Any, Any], pre: Precheck, stack: tuple[Path, ...]) -> None:
    """Check each job of ``src`` (a pipeline job or a pipeline component); ``stack``: files expanded."""
    for name, spec in jobs.items():
        job = str(name)
        if not isinstance(spec, dict):
            pre.problems.append(src.problem("pipeline.schema", ("jobs", job), "a job must be a mapping"))
            continue
        type_ = spec.get("type", "command")
        if type_ == "parallel":
            _parallel(src, job, spec, pre)
            continue
        if type_ in JOB_TYPE_CHECKS:  # e.g. type: pipeline (nesting.py registers it)
            JOB_TYPE_CHECKS[type_](src, job, spec, pre, stack)
            continue
        if type_ == "sweep":
            _sweep(src, job, spec, pre)
            continue
        if type_ != "command" and not _LOCAL_DATA.get():
            pre.service_only = True
            continue
        if type_ != "command":
            reason = (
                f"job type {type_!r} is not supported by the local engine (command and parallel jobs run "
                "locally): run it with --target azure, or run its trial/sub-pipeline as a command job"
            )
            pre.problems.append(src.problem("pipeline.job-type-supported", ("jobs", job, "type"), reason))
            continue
        _component(src, job, spec, pre)
        if job in pre.components:
            pre.problems.extend(_job_input_kinds(src, job, spec, pre.components[job]))
