"""Remember pipelines that passed every check, so an unchanged spec skips the slow azure-ai-ml loader.

The key is the bytes of the pipeline and of every component file it uses, their names relative to
the folder that holds them all (the spec's root), the azure-ai-ml version and this format's
version. The memo is kept per user on this machine (``$CTLOOP_SPEC_MEMO``, else
``$XDG_CACHE_HOME/ctloop/specs``), not per state dir: a spec validated once is known to every
state dir and every checkout of the same files, wherever they are. Paths in a remembered spec are
stored under its root and moved to the new root on recall; a spec whose text names its own root
(an absolute path) is keyed by location as well. A hit still re-reads the YAML and re-runs the
cheap checks (paths, code folders, bindings, types, cycles); only the loader call and the model
building are skipped. A new or changed spec always goes through azure-ai-ml.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from ctloop.engine.spec.model import (
    Binding,
    ComponentSpec,
    JobOutput,
    JobSpec,
    PipelineInput,
    PipelineSpec,
    Port,
)
from ctloop.engine.spec.source import YamlSource
from ctloop.fileio import write_json_atomic

FORMAT = 3
MEMO_ENV = "CTLOOP_SPEC_MEMO"


def _sdk_version() -> str:
    try:
        return metadata.version("azure-ai-ml")
    except metadata.PackageNotFoundError:
        return "missing"


def memo_dir() -> Path:
    """Where remembered specs live (``$CTLOOP_SPEC_MEMO``, else the user's cache folder)."""
    if os.environ.get(MEMO_ENV):
        return Path(os.environ[MEMO_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctloop" / "specs"


def spec_root(sources: Mapping[Path, YamlSource]) -> Path:
    """The deepest folder that holds every source file of a spec."""
    return Path(os.path.commonpath([str(p.parent) for p in sources]))


def memo_key(sources: Mapping[Path, YamlSource]) -> str:
    """Content key of a spec: source bytes and names relative to its root (see the module doc)."""
    root = spec_root(sources)
    blobs = {path: path.read_bytes() for path in sources}
    located = any(str(root).encode() in blob for blob in blobs.values())
    digest = hashlib.sha256(f"{FORMAT}:{_sdk_version()}:{root if located else ''}".encode())
    for path in sorted(sources):
        digest.update(os.path.relpath(path, root).encode() + b"\0" + blobs[path] + b"\0")
    return digest.hexdigest()


def _memo_path(key: str) -> Path:
    return memo_dir() / f"{key}.json"


def _moved(value: Any, old: str, new: str) -> Any:
    """``value`` with every path string under ``old`` moved under ``new``."""
    if isinstance(value, str):
        if value == old or value.startswith(old + os.sep):
            return new + value[len(old) :]
        return value
    if isinstance(value, dict):
        return {k: _moved(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, old, new) for v in value]
    return value


def _encode(spec: PipelineSpec) -> dict[str, Any]:
    data = asdict(spec)
    data.pop("sources")
    data.pop("overrides")
    return json.loads(json.dumps(data, default=str))


def _path(value: Any) -> Path | None:
    return Path(value) if value is not None else None


def _ports(data: Mapping[str, Any]) -> dict[str, Port]:
    return {k: Port(**{**v, "enum": tuple(v["enum"]) if v.get("enum") else None}) for k, v in data.items()}


def _component(data: dict[str, Any]) -> ComponentSpec:
    return ComponentSpec(
        **{
            **data,
            "source": Path(data["source"]),
            "code": _path(data["code"]),
            "inputs": _ports(data["inputs"]),
            "outputs": _ports(data["outputs"]),
        }
    )


def _job(data: dict[str, Any]) -> JobSpec:
    return JobSpec(
        **{
            **data,
            "component": _component(data["component"]),
            "inputs": {k: Binding(**{**v, "path": _path(v["path"])}) for k, v in data["inputs"].items()},
            "outputs": {k: JobOutput(**v) for k, v in data["outputs"].items()},
            "declared_inputs": tuple(data["declared_inputs"]),
            "declared_outputs": tuple(data["declared_outputs"]),
        }
    )


def _input(data: dict[str, Any]) -> PipelineInput:
    pin = PipelineInput(**data)
    return PipelineInput(pin.name, Path(pin.value), pin.type) if pin.is_path else pin


def _decode(data: dict[str, Any], sources: Mapping[Path, YamlSource]) -> PipelineSpec:
    return PipelineSpec(
        file=Path(data["file"]),
        name=data["name"],
        experiment_name=data["experiment_name"],
        inputs={k: _input(v) for k, v in data["inputs"].items()},
        jobs={k: _job(v) for k, v in data["jobs"].items()},
        order=tuple(data["order"]),
        continue_on_step_failure=data["continue_on_step_failure"],
        sources=dict(sources),
    )


def recall(key: str, sources: Mapping[Path, YamlSource]) -> PipelineSpec | None:
    """The spec stored under ``key`` moved to these sources' root, or None (absent, unreadable, old)."""
    try:
        stored = json.loads(_memo_path(key).read_text(encoding="utf-8"))
        data = _moved(stored["spec"], str(stored["root"]), str(spec_root(sources)))
        return _decode(data, sources)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def remember(key: str, spec: PipelineSpec) -> None:
    """Store a spec that passed every check (best effort: an unwritable cache is fine)."""
    try:
        stored = {"root": str(spec_root(spec.sources)), "spec": _encode(spec)}
        write_json_atomic(_memo_path(key), stored, default=str, fsync=False)
    except OSError:
        return
