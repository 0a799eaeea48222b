"""Remember pipelines that passed every check, so an unchanged spec skips the slow azure-ai-ml loader.

The key is the bytes of the pipeline and of every component file it uses, the azure-ai-ml version
and this format's version. A hit still re-reads the YAML and re-runs the cheap checks (paths, code
folders, bindings, types, cycles); only the loader call and the model building are skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from ctloop import paths
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

FORMAT = 2


def _sdk_version() -> str:
    try:
        return metadata.version("azure-ai-ml")
    except metadata.PackageNotFoundError:
        return "missing"


def memo_key(sources: Mapping[Path, YamlSource]) -> str:
    digest = hashlib.sha256(f"{FORMAT}:{_sdk_version()}".encode())
    for path in sorted(sources):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _memo_path(key: str) -> Path:
    return paths.state_dir() / "cache" / "specs" / f"{key}.json"


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
    """The spec stored under ``key``, or None (absent, unreadable or from another format)."""
    try:
        return _decode(json.loads(_memo_path(key).read_text(encoding="utf-8")), sources)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def remember(key: str, spec: PipelineSpec) -> None:
    """Store a spec that passed every check (best effort: a read-only state dir is fine)."""
    try:
        write_json_atomic(_memo_path(key), _encode(spec), default=str, fsync=False)
    except OSError:
        return
