"""Local stand-ins for a workspace's data assets and components, as ``az ml ... create`` registers them.

``azureml:<name>:<version>`` and ``azureml:<name>@latest`` resolve against
``<state>/assets/<name>/<version>/`` (data; the engine registers named outputs there too) and
``<state>/components/<name>/<version>/component.yml`` (components, with a snapshot of their code).
``ctloop data create`` and ``ctloop component create`` fill them from the same YAML files that
``az ml data create`` and ``az ml component create`` read.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ctloop import paths
from ctloop.engine import assets
from ctloop.engine.hashing import tree_hash

#: ``azureml:name``, ``azureml:name:version``, ``azureml:name@label`` (not ``azureml://`` URIs).
ASSET_REF = re.compile(r"^azureml:(?!//)([A-Za-z0-9_.-]+?)(?::([\w.-]+)|@([\w.-]+))?$")
COMPONENT_FILE = "component.yml"


class StoreError(LookupError):
    """A reference to an asset or component that is not registered locally."""


@dataclass(frozen=True)
class Ref:
    name: str
    version: str | None
    label: str | None

    def __str__(self) -> str:
        return self.name + (f":{self.version}" if self.version else f"@{self.label or 'latest'}")


def parse(text: str) -> Ref | None:
    """The reference in ``text``, or None when it is not an ``azureml:`` asset reference."""
    match = ASSET_REF.match(text.strip())
    if match is None:
        return None
    return Ref(match.group(1), match.group(2), match.group(3) or (None if match.group(2) else "latest"))


def _pick(versions: list[str], ref: Ref) -> str | None:
    if ref.version is not None:
        return ref.version if ref.version in versions else None
    if ref.label != "latest" or not versions:
        return None
    return max(versions, key=lambda v: (v.isdigit(), int(v) if v.isdigit() else 0, v))


def components_dir() -> Path:
    return paths.state_dir() / "components"


def data_path(text: str) -> Path:
    """The local path of data asset ``text`` (``azureml:name:version`` or ``azureml:name@latest``)."""
    ref = parse(text)
    if ref is None:
        raise StoreError(f"{text!r} is not a data asset reference (azureml:<name>:<version> or @latest)")
    folder = paths.assets_dir() / ref.name
    found = assets._versions(folder)
    version = _pick(list(found), ref)
    if version is None:
        have = ", ".join(sorted(found)) or "none"
        raise StoreError(
            f"data asset {ref} is not registered locally (versions: {have}); register it with "
            f"`ctloop data create --file <data.yml>` or `ctloop data create --name {ref.name} --path <path>`"
        )
    return Path(found[version]["path"])


def component_file(text: str) -> Path:
    """The stored YAML of component ``text`` (``azureml:name:version`` or ``azureml:name@latest``)."""
    ref = parse(text)
    if ref is None:
        raise StoreError(f"{text!r} is not a component reference (azureml:<name>:<version> or @latest)")
    folder = components_dir() / ref.name
    versions = [d.name for d in folder.iterdir() if (d / COMPONENT_FILE).is_file()] if folder.is_dir() else []
    version = _pick(versions, ref)
    if version is None:
        have = ", ".join(sorted(versions)) or "none"
        raise StoreError(
            f"component {ref} is not registered locally (versions: {have}); "
            "register it with `ctloop component create --file <component.yml>`"
        )
    return folder / version / COMPONENT_FILE


def _read(file: Path) -> dict[str, Any]:
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise StoreError(f"{file}: not a YAML mapping")
    return data


def _field(file: Path, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str | int | float) or not str(value):
        raise StoreError(f"{file}: {key}: required")
    return str(value)


def create_data(
    name: str, path: Path, version: str | None = None, type_: str = "uri_folder", description: str = ""
) -> assets.AssetRef:
    """Register ``path`` as data asset ``name`` (next integer version unless given)."""
    path = path.resolve()
    if not path.exists():
        raise StoreError(f"path {path} does not exist")
    if type_ == "uri_file" and not path.is_file():
        raise StoreError(f"type uri_file needs a file, {path} is a folder")
    if type_ in ("uri_folder", "mltable") and not path.is_dir():
        raise StoreError(f"type {type_} needs a folder, {path} is a file")
    provenance = {"type": type_, "description": description, "source": str(path)}
    return assets.register_output(paths.assets_dir(), name, version, path, tree_hash(path), provenance)


def create_data_from_file(file: Path, overrides: dict[str, str] | None = None) -> assets.AssetRef:
    """``az ml data create --file data.yml``: name, version, type and a local path from the YAML."""
    data = {**_read(file), **{k: v for k, v in (overrides or {}).items() if v}}
    raw_path = _field(file, data, "path")
    if "://" in raw_path or raw_path.startswith("azureml:"):
        raise StoreError(f"{file}: path: {raw_path!r} is not local; the local store registers local files")
    version = data.get("version")
    return create_data(
        _field(file, data, "name"),
        (file.parent / raw_path),
        str(version) if version is not None else None,
        str(data.get("type") or "uri_folder"),
        str(data.get("description") or ""),
    )


def create_component(file: Path, version: str | None = None) -> Path:
    """``az ml component create --file component.yml``: store the YAML and a snapshot of its code."""
    data = _read(file)
    name = _field(file, data, "name")
    folder = components_dir() / name
    existing = [d.name for d in folder.iterdir()] if folder.is_dir() else []
    version = version or (str(data["version"]) if data.get("version") is not None else None)
    if version is None:
        numbers = [int(v) for v in existing if v.isdigit()]
        version = str(max(numbers, default=0) + 1)
    target = folder / version
    if target.exists():
        raise StoreError(f"component {name}:{version} is already registered; change its version")
    target.mkdir(parents=True)
    try:
        code = data.get("code")
        if isinstance(code, str) and "://" not in code and not code.startswith("azureml:"):
            source = (file.parent / code).resolve()
            if not source.is_dir():
                raise StoreError(f"{file}: code: {code!r} is not a folder")
            shutil.copytree(source, target / "code", ignore=shutil.ignore_patterns("__pycache__", ".git"))
            data["code"] = "./code"
        data["version"] = version
        (target / COMPONENT_FILE).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        (target / "registered.json").write_text(json.dumps({"source": str(file.resolve())}))
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target / COMPONENT_FILE
