"""Give a step what Azure ML gives a job: its own snapshot of ``code:`` and read-only inputs.

Azure ML uploads ``code:`` as a snapshot and mounts inputs read-only, so a job never changes the
user's tree or another job's data. Locally each step gets a copy of its code folder as its working
directory, and a copy of each data input (``ro_mount``/``download``/``direct`` copies are made
read-only and checked after the step: a step that changed one fails). Outputs are folders the
step writes (``rw_mount``/``upload``/``direct`` alike). The user's files and the engine's cached
outputs are never handed to a step directly.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from ctloop.engine.hashing import tree_hash

#: Folders never copied into a code snapshot (tool caches; __pycache__ is kept: it is only a speed-up).
_SKIP_DIRS = frozenset({".git", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".ctloop"})
#: Input modes whose data the step must not change.
READ_ONLY_MODES = frozenset({"ro_mount", "download", "direct", "eval_mount", "eval_download"})


def _ignore(_folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _SKIP_DIRS or n.endswith(".egg-info")}


def snapshot_code(code: Path, dest: Path) -> Path:
    """A private copy of ``code`` at ``dest`` (the step's working directory)."""
    shutil.copytree(code, dest, ignore=_ignore, symlinks=True, dirs_exist_ok=False)
    return dest


def _read_only(root: Path) -> None:
    if root.is_file():
        root.chmod(stat.S_IMODE(root.stat().st_mode) & ~0o222)
        return
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            p = Path(folder, name)
            if not p.is_symlink():
                p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)
        Path(folder).chmod(stat.S_IMODE(Path(folder).stat().st_mode) & ~0o222)


def make_writable(root: Path) -> None:
    """Undo ``_read_only`` so the engine can delete a staged copy."""
    if not root.exists():
        return
    for folder, _dirs, files in os.walk(root):
        Path(folder).chmod(stat.S_IMODE(Path(folder).stat().st_mode) | 0o700)
        for name in files:
            p = Path(folder, name)
            if not p.is_symlink():
                p.chmod(stat.S_IMODE(p.stat().st_mode) | 0o600)


@dataclass(frozen=True)
class StagedInput:
    """One data input as the step sees it."""

    name: str
    source: Path
    path: Path
    mode: str
    content_hash: str

    @property
    def read_only(self) -> bool:
        return self.mode in READ_ONLY_MODES


def stage_input(name: str, source: Path, dest_root: Path, mode: str | None, content_hash: str) -> StagedInput:
    """Copy ``source`` under ``dest_root/<name>/`` (same base name), read-only for read-only modes."""
    mode = mode or "ro_mount"
    folder = dest_root / name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (source.name or name)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    else:
        shutil.copy2(source, target)
    if mode in READ_ONLY_MODES:
        _read_only(target)
    return StagedInput(name, source, target, mode, content_hash)


def changed_inputs(staged: list[StagedInput]) -> list[StagedInput]:
    """Read-only inputs whose content the step changed (running as root ignores file modes)."""
    return [s for s in staged if s.read_only and tree_hash(s.path) != s.content_hash]
