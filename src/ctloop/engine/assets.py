"""Named outputs as data assets: ``assets/<name>/<version>/``, as Azure ML registers named outputs.

Versions are integers counted up from 1 unless the pipeline gives one; an output whose content
hash equals an existing version's reuses that version instead of adding a copy. Files are
hard-linked from the output when the file system allows it, else copied.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctloop.engine.hashing import tree_files
from ctloop.engine.records import now
from ctloop.fileio import write_json_atomic

ASSET_FILE = "asset.json"  # listed in hashing.METADATA_FILES: not part of the data hash


class AssetError(RuntimeError):
    """An output that cannot be registered (e.g. an explicit version already holds other content)."""


@dataclass(frozen=True)
class AssetRef:
    name: str
    version: str
    path: str
    reused: bool

    def contract(self) -> dict[str, str]:
        """The ``asset.json`` keys other parts rely on (docs/architecture.md)."""
        return {"name": self.name, "version": self.version, "path": self.path}


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _versions(folder: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for d in folder.iterdir() if folder.is_dir() else ():
        meta = d / ASSET_FILE
        if d.is_dir() and meta.is_file():
            try:
                found[d.name] = json.loads(meta.read_text(encoding="utf-8"))
            except ValueError:
                continue
    return found


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _next_version(existing: dict[str, dict[str, Any]]) -> str:
    numbers = [int(v) for v in existing if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def register_output(
    root: Path,
    name: str,
    version: str | None,
    source: Path,
    content_hash: str,
    provenance: dict[str, Any],
) -> AssetRef:
    """Register ``source`` (a folder, or a file) as asset ``name``; return the version it got."""
    folder = root / name
    with _locked(folder):
        existing = _versions(folder)
        if version is not None and version in existing:
            if existing[version].get("content_hash") != content_hash:
                raise AssetError(
                    f"data asset {name}:{version} already exists with different content; "
                    "change the output's version or leave it out to get the next one"
                )
            return AssetRef(name, version, existing[version]["path"], True)
        if version is None:
            same = [v for v, meta in existing.items() if meta.get("content_hash") == content_hash]
            if same:
                best = max(same, key=lambda v: (v.isdigit(), int(v) if v.isdigit() else 0, v))
                return AssetRef(name, best, existing[best]["path"], True)
            version = _next_version(existing)
        target = folder / version
        staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=folder))
        try:
            if source.is_file():
                _link_or_copy(source, staging / source.name)
                data_path = target / source.name
            else:
                for f in tree_files(source):
                    _link_or_copy(f, staging / f.relative_to(source))
                data_path = target
            ref = AssetRef(name, version, str(data_path), False)
            meta = {**ref.contract(), "content_hash": content_hash, "created": now(), **provenance}
            write_json_atomic(staging / ASSET_FILE, meta, default=str, fsync=False)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return ref


def write_marker(output_dir: Path, ref: AssetRef) -> None:
    """``asset.json`` ({name, version, path}) into the step's output folder."""
    write_json_atomic(output_dir / ASSET_FILE, ref.contract(), default=str, fsync=False)
