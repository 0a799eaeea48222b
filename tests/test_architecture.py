"""The layering the imports prove: every part of ctloop sits in one layer of the import-linter
contracts, the job-side contract covers exactly the layers a step may use, the implementation
tables name real implementations, and every step is driven by a typed config parsed from the very
command line its component YAML runs."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

import pytest
import yaml

import ctloop

REPO = Path(__file__).resolve().parents[1]
PACKAGE = Path(ctloop.__file__).resolve().parent
STEPS_LAYER = "ctloop.steps"
#: A value for a literal component input that declares no default.
SAMPLE_LITERALS = {"integer": "3", "number": "0.5", "boolean": "true", "string": "sample"}


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _layers() -> list[list[str]]:
    """The layers contract, highest first, each layer split into its modules."""
    rows = []
    for layer in _contracts()["layers"]["layers"]:
        rows.append([name.strip().strip("()") for name in re.split(r"[|:]", layer)])
    return rows


def _units() -> set[str]:
    """Every subpackage and top-level module of ctloop."""
    return {f"ctloop.{info.name}" for info in pkgutil.iter_modules([str(PACKAGE)])}


def test_every_subpackage_and_module_is_in_exactly_one_layer() -> None:
    placed = [name for layer in _layers() for name in layer]
    doubled = sorted({name for name in placed if placed.count(name) > 1})
    assert doubled == [], f"pyproject.toml layers: in more than one layer: {doubled}"
    missing = sorted(_units() - set(placed))
    assert missing == [], f"pyproject.toml layers: not in any layer (add each to its layer): {missing}"
    gone = sorted(set(placed) - _units())
    assert gone == [], f"pyproject.toml layers: no such module: {gone}"


def test_job_side_contract_is_the_steps_layer_and_everything_below_it() -> None:
    layers = _layers()
    start = next(i for i, layer in enumerate(layers) if STEPS_LAYER in layer)
    below = {name for layer in layers[start:] for name in layer}
    forbidden = _contracts()["job-side"]
    assert set(forbidden["source_modules"]) == below
    above = {name for layer in layers[:start] for name in layer}
    for glue in ("ctloop.engine", "ctloop.azure", "ctloop.rollout", "ctloop.cli"):
        assert glue in above and glue in forbidden["forbidden_modules"]
    assert {"azure", "pulumi"} <= set(forbidden["forbidden_modules"])


def test_the_acyclic_contract_covers_the_whole_package() -> None:
    acyclic = _contracts()["acyclic"]
    assert acyclic["type"] == "acyclic_siblings" and acyclic["ancestors"] == ["ctloop"]


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def test_each_seam_table_names_an_implementation_of_its_interface() -> None:
    """Lower layers name the Azure implementations only as strings in one table per seam; each
    must import and implement the seam's interface, for every target of the other tables."""
    from ctloop import registry, rollout
    from ctloop.engine import commands
    from ctloop.registry.base import Registry
    from ctloop.rollout.endpoint import Endpoint

    tables = [registry.IMPLEMENTATIONS, rollout.IMPLEMENTATIONS, commands.SUBMITTERS]
    assert all(set(table) == {"local", "azure"} for table in tables)
    for ref in registry.IMPLEMENTATIONS.values():
        assert issubclass(_resolve(ref), Registry), ref
    for ref in rollout.IMPLEMENTATIONS.values():
        assert issubclass(get_type_hints(_resolve(ref))["return"], Endpoint), ref
    protocol = inspect.signature(commands.Submitter.submit)
    for ref in commands.SUBMITTERS.values():
        assert inspect.signature(_resolve(ref).submit).parameters.keys() == protocol.parameters.keys(), ref


def _step_commands() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((REPO / "components").glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(spec, dict) and "ctloop.steps." in str(spec.get("command", "")):
            found.append((path.name, spec))
    return found


def _rendered_argv(spec: dict[str, Any]) -> tuple[str, list[str]]:
    """The component's command as Azure ML runs it with every optional input given: inputs with a
    default take it, the others a path; outputs a path."""
    inputs = spec.get("inputs") or {}

    def value(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        declared = (inputs.get(name) or {}) if kind == "inputs" else {}
        if declared.get("default") is not None:
            return str(declared["default"])
        return SAMPLE_LITERALS.get(declared.get("type", ""), f"/mnt/{kind}/{name}")

    command = re.sub(r"\$\[\[(.*?)\]\]", r"\1", str(spec["command"]), flags=re.S)
    command = re.sub(r"\$\{\{(inputs|outputs)\.(\w+)\}\}", value, command)
    argv = shlex.split(command)
    start = argv.index("-m")
    return argv[start + 1], argv[start + 2 :]


def test_every_step_module_has_a_component() -> None:
    steps = {info.name for info in pkgutil.iter_modules([str(PACKAGE / "steps")])}
    used = {_rendered_argv(spec)[0].rpartition(".")[2] for _, spec in _step_commands()}
    assert steps == used


@pytest.mark.parametrize(("component", "spec"), _step_commands(), ids=[n for n, _ in _step_commands()])
def test_step_parses_its_components_command_into_a_frozen_config(
    component: str, spec: dict[str, Any]
) -> None:
    module_name, argv = _rendered_argv(spec)
    module = importlib.import_module(module_name)
    config = module.parse_args(argv)
    assert dataclasses.is_dataclass(config) and not isinstance(config, type), f"{component}: {config!r}"
    params = type(config).__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen, f"{module_name}: {type(config).__name__} is not frozen"
    given = {arg.lstrip("-").replace("-", "_") for arg in argv if arg.startswith("--")}
    values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}
    grouped = {key for v in values.values() if isinstance(v, Mapping) for key in v}  # e.g. hyperparameters
    lost = sorted(
        name for name in given if values.get(name, grouped and None) is None and name not in grouped
    )
    assert lost == [], f"{component}: flags given but not in {type(config).__name__}: {lost}"
    main = inspect.signature(module.main)
    assert list(main.parameters) == ["argv"], f"{module_name}.main takes only argv"
