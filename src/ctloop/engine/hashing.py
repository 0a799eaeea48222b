"""Content hashes for the step cache: files, folders (code snapshots, data) and JSON-able values."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

#: Never part of a code snapshot or a data hash (build and tool caches).
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
IGNORED_DIR_SUFFIXES = (".egg-info",)
IGNORED_FILE_SUFFIXES = (".pyc", ".pyo")
#: Metadata the engine itself writes into an output folder; not part of the data's identity.
METADATA_FILES = frozenset({"asset.json"})

_memo: dict[tuple[str, int, int, int], str] = {}
_memo_lock = threading.Lock()
_CHUNK = 1 << 20


def value_hash(value: Any) -> str:
    """sha256 of ``value`` as canonical JSON."""
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes (memoised on path, size, mtime and inode)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _memo_lock:
        if key in _memo:
            return _memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    out = digest.hexdigest()
    with _memo_lock:
        _memo[key] = out
    return out


def _ignored_dir(name: str) -> bool:
    return name in IGNORED_DIRS or name.endswith(IGNORED_DIR_SUFFIXES)


def tree_files(root: Path, *, skip_metadata: bool = True) -> list[Path]:
    """Files under ``root`` that count for its content, sorted by relative path."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not _ignored_dir(d))
        here = Path(folder)
        for name in sorted(files):
            if name.endswith(IGNORED_FILE_SUFFIXES):
                continue
            if skip_metadata and here == root and name in METADATA_FILES:
                continue
            found.append(here / name)
    return found


def tree_hash(path: Path) -> str:
    """Hash of a file, or of every file under a folder (relative names and bytes)."""
    path = Path(path)
    if path.is_file():
        return value_hash({"file": path.name, "sha256": file_hash(path)})
    if not path.exists():
        return value_hash({"missing": str(path)})
    entries = [[f.relative_to(path).as_posix(), file_hash(f)] for f in tree_files(path)]
    return value_hash({"tree": entries})
