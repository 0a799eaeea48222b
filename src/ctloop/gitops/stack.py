"""The adapter to a Pulumi stack's config: which compute clusters a stack declares, GPU or not.

When the checked root has the infra program, its own loader is used
(``infra.config.load_stack_config(stack, root)``: the same typed, validated config Pulumi
deploys, so an invalid stack config is reported here too). Otherwise ``Pulumi.<stack>.yaml`` is
read directly: a cluster is any config value with ``name`` and ``vm_size``, and it has GPUs when
its key says ``gpu`` or its VM size is an N-series size (``Standard_N...``: NC, ND, NV).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml


class StackConfigError(ValueError):
    """The stack config cannot be read: names the file and the reason."""


@dataclass(frozen=True)
class Cluster:
    key: str
    name: str
    vm_size: str
    gpu: bool


def stack_file(root: Path, stack: str) -> Path | None:
    for candidate in (root / f"Pulumi.{stack}.yaml", root / "infra" / f"Pulumi.{stack}.yaml"):
        if candidate.is_file():
            return candidate
    return None


def _infra_config(root: Path) -> ModuleType | None:
    """``<root>/infra/config.py`` imported as ``infra.config`` (None when absent or another root's)."""
    package_dir = (root / "infra").resolve()
    if not (package_dir / "config.py").is_file() or not (package_dir / "__init__.py").is_file():
        return None
    existing = sys.modules.get("infra")
    if existing is not None:
        paths = [Path(p).resolve() for p in getattr(existing, "__path__", [])]
        if package_dir not in paths:
            return None
    else:
        spec = importlib.util.spec_from_file_location(
            "infra", package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
        )
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        sys.modules["infra"] = module
        spec.loader.exec_module(module)
    return importlib.import_module("infra.config")


def _is_gpu(key: str, vm_size: str) -> bool:
    return "gpu" in key.lower() or vm_size.lower().startswith("standard_n")


def _from_infra(module: ModuleType, root: Path, stack: str) -> dict[str, Cluster]:
    try:
        config = module.load_stack_config(stack, root)
    except Exception as exc:
        raise StackConfigError(str(exc)) from None
    return {c.name: Cluster(f"{c.kind}_cluster", c.name, c.vm_size, c.kind == "gpu") for c in config.clusters}


def _from_yaml(path: Path) -> dict[str, Cluster]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise StackConfigError(f"{path}: cannot read: {exc}") from None
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise StackConfigError(f"{path}: no 'config' mapping")
    found: dict[str, Cluster] = {}
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(value.get("name"), str) and "vm_size" in value:
            short = str(key).split(":", 1)[-1]
            vm = str(value.get("vm_size"))
            found[value["name"]] = Cluster(short, value["name"], vm, _is_gpu(short, vm))
    return found


def clusters(root: Path, stack: str) -> dict[str, Cluster]:
    """Compute clusters declared in the stack's config, by cluster name."""
    path = stack_file(root, stack)
    if path is None:
        raise StackConfigError(f"no Pulumi.{stack}.yaml at {root} or {root / 'infra'}")
    try:
        module = _infra_config(root) if path.parent == root else None
    except Exception as exc:
        raise StackConfigError(f"infra/config.py cannot be imported: {exc!r}") from None
    if module is not None and hasattr(module, "load_stack_config"):
        return _from_infra(module, root, stack)
    return _from_yaml(path)
