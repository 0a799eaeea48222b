"""``--set NAME=VALUE``: override pipeline inputs, type-checked against the ports they feed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ctloop.engine.spec.literals import FILE_TYPES, LiteralTypeError, coerce_literal
from ctloop.engine.spec.model import PipelineInput, PipelineSpec
from ctloop.engine.spec.problems import SpecError, display_path

_INFERRED = {bool: "boolean", int: "integer", float: "number"}


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a malformed item is a SpecError."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SpecError("--set", item, "expected NAME=VALUE")
        out[name.strip()] = value
    return out


def _ports_fed(spec: PipelineSpec, name: str) -> list[tuple[str, Any]]:
    return [
        (f"jobs.{job.name}.inputs.{port}", job.component.inputs[port])
        for job in spec.jobs.values()
        for port, b in job.inputs.items()
        if b.kind == "parent" and b.ref == name
    ]


def _literal(spec: PipelineSpec, name: str, raw: str, current: Any) -> Any:
    ports = _ports_fed(spec, name)
    if not ports:
        type_ = _INFERRED.get(type(current), "string")
        ports = [(f"inputs.{name}", None)]
    value: Any = raw
    for where, port in ports:
        type_ = port.type if port is not None else _INFERRED.get(type(current), "string")
        try:
            value = coerce_literal(
                raw,
                type_,
                enum=getattr(port, "enum", None),
                minimum=getattr(port, "min", None),
                maximum=getattr(port, "max", None),
            )
        except LiteralTypeError as exc:
            reason = f"--set {name}={raw}: {exc} ({where} is {type_})"
            raise SpecError(display_path(spec.file), f"inputs.{name}", reason) from None
    return value


def _path(spec: PipelineSpec, name: str, raw: str, type_: str, base: Path) -> Path:
    path = (base / raw).resolve()
    shown = display_path(spec.file)
    if not path.exists():
        raise SpecError(shown, f"inputs.{name}", f"--set {name}={raw}: {path} does not exist")
    if (type_ in FILE_TYPES) != path.is_file():
        wanted = "a file" if type_ in FILE_TYPES else "a folder"
        raise SpecError(shown, f"inputs.{name}", f"--set {name}={raw}: {type_} input needs {wanted}")
    return path


def apply_overrides(
    spec: PipelineSpec, overrides: Mapping[str, str], base: Path | None = None
) -> PipelineSpec:
    """A copy of ``spec`` with pipeline inputs replaced; paths are relative to ``base`` (the cwd)."""
    if not overrides:
        return spec
    base = base or Path.cwd()
    inputs = dict(spec.inputs)
    applied: dict[str, Any] = {}
    for name, raw in overrides.items():
        current = inputs.get(name)
        if current is None:
            known = ", ".join(sorted(inputs)) or "none"
            raise SpecError(
                display_path(spec.file),
                f"inputs.{name}",
                f"--set {name}: no such pipeline input (inputs: {known})",
            )
        if current.is_path:
            value: Any = _path(spec, name, raw, str(current.type), base)
            applied[name] = str(value)
        else:
            value = _literal(spec, name, raw, current.value)
            applied[name] = value
        inputs[name] = PipelineInput(name, value, current.type)
    return spec.with_inputs(inputs, {**spec.overrides, **applied})
