"""Checks on a component's YAML data that the azure-ai-ml loader misses or reports unreadably."""

from __future__ import annotations

import re
from typing import Any

from ctloop.engine.spec.literals import (
    KNOWN_TYPES,
    LITERAL_TYPES,
    PATH_TYPES,
    LiteralTypeError,
    coerce_literal,
)
from ctloop.engine.spec.problems import Problem
from ctloop.engine.spec.source import Field, YamlSource

PORT_REF = re.compile(r"\$\{\{\s*(inputs|outputs)\.([\w-]+)\s*\}\}")
ANY_EXPR = re.compile(r"\$\{\{(.*?)\}\}")
OPTIONAL_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.S)
SUPPORTED_TYPES = ("command",)
OTHER_AZURE_TYPES = ("pipeline", "parallel", "spark", "sweep", "import", "data_transfer", "automl")
_REF_HELP = "${{inputs.<name>}} or ${{outputs.<name>}}"
REMOTE_PREFIXES = ("azureml:", "git+", "http://", "https://", "wasbs://", "abfss://", "adl://")


def _ports(
    src: YamlSource, data: dict[str, Any], section: str, prefix: Field, allowed: frozenset[str]
) -> list[Problem]:
    problems: list[Problem] = []
    ports = data.get(section)
    if ports is None:
        return problems
    if not isinstance(ports, dict):
        return [src.problem("component.schema", (*prefix, section), f"{section} must be a mapping of ports")]
    for name, port in ports.items():
        where = (*prefix, section, str(name))
        if not isinstance(port, dict):
            reason = f"{section[:-1]} {name!r} must be a mapping with a 'type'"
            problems.append(src.problem("component.port-type", where, reason))
            continue
        type_ = port.get("type")
        if type_ not in allowed:
            wanted = ", ".join(sorted(allowed))
            reason = (
                f"missing 'type' (one of {wanted})"
                if type_ is None
                else f"unknown type {type_!r}: expected one of {wanted}"
            )
            problems.append(src.problem("component.port-type", (*where, "type"), reason))
        elif type_ in LITERAL_TYPES and port.get("default") is not None:
            try:
                coerce_literal(port["default"], type_, enum=port.get("enum"))
            except LiteralTypeError as exc:
                problems.append(src.problem("component.port-type", (*where, "default"), f"default {exc}"))
    return problems


def code_problems(src: YamlSource, data: dict[str, Any], prefix: Field) -> list[Problem]:
    code = data.get("code")
    if code is None:
        return []
    where = (*prefix, "code")
    if not isinstance(code, str):
        return [src.problem("component.code-exists", where, "code must be a path to a local folder")]
    if code.startswith(REMOTE_PREFIXES):
        return [
            src.problem(
                "component.code-exists", where, f"{code!r} is not a local folder (the local engine needs one)"
            )
        ]
    folder = (src.path.parent / code).resolve()
    if not folder.exists():
        return [
            src.problem(
                "component.code-exists", where, f"code folder {code!r} does not exist (resolved to {folder})"
            )
        ]
    if not folder.is_dir():
        return [
            src.problem(
                "component.code-exists", where, f"code {code!r} is a file; the local engine needs a folder"
            )
        ]
    return []


def command_problems(src: YamlSource, data: dict[str, Any], prefix: Field) -> list[Problem]:
    """The command references only declared inputs/outputs and has balanced ``$[[...]]`` blocks."""
    command = data.get("command")
    where = (*prefix, "command")
    if not isinstance(command, str) or not command.strip():
        return [
            src.problem("component.schema", where, "a command component needs a non-empty 'command' string")
        ]
    problems: list[Problem] = []
    rule = "component.command-uses-declared-ports"
    declared = {
        "inputs": set((data.get("inputs") or {}) if isinstance(data.get("inputs"), dict) else ()),
        "outputs": set((data.get("outputs") or {}) if isinstance(data.get("outputs"), dict) else ()),
    }
    for expr in ANY_EXPR.finditer(command):
        ref = PORT_REF.fullmatch(expr.group(0))
        if ref is None:
            reason = f"unsupported expression {expr.group(0)!r}: use {_REF_HELP}"
            problems.append(src.problem(rule, where, reason))
        elif ref.group(2) not in declared[ref.group(1)]:
            known = ", ".join(sorted(declared[ref.group(1)])) or "none"
            kind, name = ref.group(1), ref.group(2)
            reason = f"uses {ref.group(0)} but {kind} declares no {name!r} (declared: {known})"
            problems.append(src.problem(rule, where, reason))
    stripped = OPTIONAL_BLOCK.sub("", command)
    if "$[[" in stripped or "]]" in stripped:
        problems.append(
            src.problem(rule, where, "unbalanced optional block: every '$[[' needs a closing ']]'")
        )
    return problems


def component_data_problems(src: YamlSource, data: dict[str, Any], prefix: Field = ()) -> list[Problem]:
    """All raw checks for one component (a file, or an inline component inside a pipeline)."""
    type_ = data.get("type", "command")
    if type_ not in SUPPORTED_TYPES:
        if type_ in OTHER_AZURE_TYPES:
            reason = f"component type {type_!r} is not supported by the local engine (only 'command')"
        else:
            reason = f"unknown component type {type_!r}: expected 'command'"
        return [src.problem("component.type-known", (*prefix, "type"), reason)]
    problems = _ports(src, data, "inputs", prefix, KNOWN_TYPES)
    problems += _ports(src, data, "outputs", prefix, PATH_TYPES)
    problems += code_problems(src, data, prefix)
    problems += command_problems(src, data, prefix)
    return problems


def component_file_problems(src: YamlSource) -> list[Problem]:
    return component_data_problems(src, src.data)
