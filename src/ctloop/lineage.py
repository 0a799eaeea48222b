"""Content hashes for lineage: the code snapshot that ran and the model folder it produced."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import ctloop

#: File kinds that make up the code snapshot (sources and the data files shipped with them).
CODE_SUFFIXES: tuple[str, ...] = (".py", ".json", ".yml", ".yaml")


def _files(root: Path, suffixes: Iterable[str] | None) -> list[Path]:
    wanted = tuple(suffixes) if suffixes is not None else None
    out = []
    for path in root.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if wanted is None or path.suffix in wanted:
            out.append(path)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def tree_hash(root: str | Path, suffixes: Iterable[str] | None = None) -> str:
    """sha256 over (relative path, bytes) of every file under ``root``, in path order."""
    root = Path(root)
    digest = hashlib.sha256()
    for path in _files(root, suffixes):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_snapshot_hash(package_dir: str | Path | None = None) -> str:
    """Hash of the ctloop package source that is running (the job's code snapshot)."""
    return tree_hash(package_dir or Path(ctloop.__file__).parent, CODE_SUFFIXES)


def model_hash(model_dir: str | Path) -> str:
    """Hash of every file in a model folder: ties an evaluation decision to the exact model."""
    return tree_hash(model_dir)
