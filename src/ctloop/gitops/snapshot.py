"""The spec files of one side of a review: a git ref (read with ``git show``) or the working tree."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

#: What a review looks at (repository-relative globs; ``*`` does not cross folders here).
REVIEWED = (
    "components/*.yml",
    "components/*.yaml",
    "environments/*",
    "pipelines/*.yml",
    "pipelines/*.yaml",
    "pipelines/schedules/*.yml",
    "pipelines/schedules/*.yaml",
    "pipelines/endpoints/*.yml",
    "pipelines/endpoints/*.yaml",
    "policies/*.yml",
    "policies/infra/*.yml",
    "Pulumi.*.yaml",
    "infra/Pulumi.*.yaml",
)


class ReviewError(RuntimeError):
    """The review cannot be made (not a git repository, unknown ref)."""


def reviewed(path: str) -> bool:
    parts = path.count("/")
    return any(fnmatchcase(path, g) and g.count("/") == parts for g in REVIEWED)


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ReviewError("git is not installed") from None
    if done.returncode != 0:
        raise ReviewError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


@dataclass
class Snapshot:
    """Reviewed files of one side: path -> text."""

    label: str
    files: dict[str, str] = field(default_factory=dict)

    def yaml(self, path: str) -> Any:
        """Parsed YAML of ``path`` (None when missing or unreadable)."""
        text = self.files.get(path)
        if text is None:
            return None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return None

    def matching(self, *globs: str) -> list[str]:
        return sorted(
            p for p in self.files if any(fnmatchcase(p, g) and g.count("/") == p.count("/") for g in globs)
        )


def from_ref(root: Path, ref: str) -> Snapshot:
    """Reviewed files as they are at ``ref``."""
    _git(root, "rev-parse", "--git-dir")  # "not a git repository" is reported as such
    try:
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except ReviewError:
        commit = ""
    if not commit:
        raise ReviewError(f"{ref!r} is not a commit in {root} (fetch it first: git fetch origin)")
    names = _git(root, "ls-tree", "-r", "--name-only", commit).splitlines()
    snap = Snapshot(f"{ref} ({commit[:10]})")
    for name in names:
        if reviewed(name):
            snap.files[name] = _git(root, "show", f"{commit}:{name}")
    return snap


def from_worktree(root: Path) -> Snapshot:
    """Reviewed files as they are on disk (committed or not)."""
    snap = Snapshot("working tree")
    for glob in REVIEWED:
        for path in root.glob(glob):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and reviewed(rel):
                try:
                    snap.files[rel] = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
    return snap
