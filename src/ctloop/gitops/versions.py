"""Version discipline: ``components/versions.lock`` maps name:version to a content hash.

Azure ML component and environment versions are immutable, so a given name:version must always
mean the same content. The hash covers:

- a component: its YAML (parsed and canonicalised, ``version`` left out) and its code closure
  (:func:`ctloop.gitops.closure.code_closure`), each file's bytes (line endings normalised): the
  code snapshot Azure ML uploads changes with any byte, so a comment edit needs a bump too;
- an environment: its YAML (same canonical form), its conda file and any docker build context.

The lock keeps every version ever recorded, so going back to an old version number with new
content is caught too. ``ctloop lock`` adds entries and never overwrites one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ctloop.fileio import write_text_atomic
from ctloop.gitops.closure import code_closure, normalized_source

if TYPE_CHECKING:
    from ctloop.gitops.problem import Problem
    from ctloop.gitops.yamldoc import SpecDoc

LOCK_PATH = Path("components") / "versions.lock"
SPEC_DIRS = {"component": Path("components"), "environment": Path("environments")}
_HEADER = (
    "# Content hashes of every component and environment version ever locked (kind name:version hash).\n"
    "# Written by `ctloop lock`; a locked version is never rewritten: change content, bump the version.\n"
)


class LockError(ValueError):
    """The lock file is malformed: names the file, the line and the reason."""


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    version: str
    digest: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.version)

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.version}"


def _canonical(data: Any) -> bytes:
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "version"}
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()


def _update(h: Any, label: str, payload: bytes) -> None:
    h.update(label.encode() + b"\0" + str(len(payload)).encode() + b"\0" + payload)


def code_dir_of(spec_path: Path, data: dict[str, Any]) -> Path | None:
    code = data.get("code")
    if not isinstance(code, str) or code.startswith(("azureml:", "http://", "https://")):
        return None
    return (spec_path.parent / code).resolve()


def component_digest(spec_path: Path, data: dict[str, Any]) -> str:
    """Hash of a component's canonical YAML and its code closure."""
    h = hashlib.sha256()
    _update(h, "spec", _canonical(data))
    code_dir = code_dir_of(spec_path, data)
    if code_dir is not None and code_dir.is_dir():
        for file in code_closure(code_dir, str(data.get("command", ""))):
            _update(h, f"code:{file.relative_to(code_dir).as_posix()}", normalized_source(file))
    return "sha256:" + h.hexdigest()


def environment_digest(spec_path: Path, data: dict[str, Any]) -> str:
    """Hash of an environment's canonical YAML, its conda file and its build context."""
    h = hashlib.sha256()
    _update(h, "spec", _canonical(data))
    conda = data.get("conda_file")
    if isinstance(conda, str) and (spec_path.parent / conda).is_file():
        text = (spec_path.parent / conda).read_text(encoding="utf-8")
        try:
            payload = _canonical(yaml.safe_load(text))
        except yaml.YAMLError:
            payload = text.encode()
        _update(h, "conda", payload)
    build = data.get("build")
    if isinstance(build, dict) and isinstance(build.get("path"), str):
        ctx = (spec_path.parent / build["path"]).resolve()
        if ctx.is_dir():
            for file in sorted(p for p in ctx.rglob("*") if p.is_file()):
                _update(h, f"build:{file.relative_to(ctx).as_posix()}", file.read_bytes())
    return "sha256:" + h.hexdigest()


def digest_for(kind: str, spec_path: Path, data: dict[str, Any]) -> str:
    return component_digest(spec_path, data) if kind == "component" else environment_digest(spec_path, data)


def entry_for(kind: str, spec_path: Path, data: Any) -> Entry | None:
    """The lock entry a spec should have, or None when it has no usable name and version."""
    if not isinstance(data, dict):
        return None
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or version is None or isinstance(version, dict | list):
        return None
    return Entry(kind, name, str(version), digest_for(kind, spec_path, data))


def read_lock(path: Path) -> dict[tuple[str, str, str], Entry]:
    """Parse a lock file (missing file = empty lock)."""
    entries: dict[tuple[str, str, str], Entry] = {}
    if not path.is_file():
        return entries
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or parts[0] not in SPEC_DIRS or ":" not in parts[1]:
            raise LockError(f"{path}:{n}: expected '<component|environment> name:version sha256:...'")
        name, _, version = parts[1].rpartition(":")
        entry = Entry(parts[0], name, version, parts[2])
        if entry.key in entries and entries[entry.key].digest != entry.digest:
            raise LockError(f"{path}:{n}: {parts[0]} {parts[1]} is listed twice with different hashes")
        entries[entry.key] = entry
    return entries


def write_lock(path: Path, entries: dict[tuple[str, str, str], Entry]) -> None:
    lines = [f"{e.kind} {e.ref} {e.digest}" for _, e in sorted(entries.items())]
    write_text_atomic(path, _HEADER + "\n".join(lines) + "\n", fsync=False)


def lock_problem(entry: Entry, lock: dict[tuple[str, str, str], Entry]) -> str | None:
    """Why ``entry`` breaks version discipline against ``lock``, or None when it is locked as is."""
    locked = lock.get(entry.key)
    if locked is None:
        return (
            f"{entry.kind} {entry.ref} is not in {LOCK_PATH.as_posix()}: run `ctloop lock` to record it "
            "(after bumping the version when the content changed)"
        )
    if locked.digest != entry.digest:
        return (
            f"content of {entry.kind} {entry.ref} differs from the locked {entry.ref} "
            f"({locked.digest[:19]}...): Azure ML versions are immutable, bump the version "
            "and run `ctloop lock`"
        )
    return None


def check_locked(doc: SpecDoc, kind: str, rule_id: str) -> list[Problem]:
    """The spec rule ``<kind>.version-locked``: ``doc``'s name:version is locked with its current hash."""
    entry = entry_for(kind, doc.path, doc.data)
    if entry is None:
        return []  # no name or version: the loader reports it
    try:
        lock = doc.ctx.cached("versions-lock", lambda: read_lock(doc.root / LOCK_PATH))
    except LockError as exc:
        return [doc.problem(rule_id, "version", f"cannot check against the lock: {exc}")]
    reason = lock_problem(entry, lock)
    return [doc.problem(rule_id, "version", reason)] if reason else []


def current_entries(root: Path) -> list[tuple[Path, Entry]]:
    """Lock entries for every component and environment spec under ``root``."""
    from ctloop.gitops.yamldoc import YamlSyntaxError, detect_kind, parse

    found: list[tuple[Path, Entry]] = []
    for kind, sub in SPEC_DIRS.items():
        for path in sorted([*(root / sub).glob("*.yml"), *(root / sub).glob("*.yaml")]):
            try:
                data, _ = parse(path.read_text(encoding="utf-8"))
            except (YamlSyntaxError, OSError, UnicodeDecodeError):
                continue
            if detect_kind(path, data) != kind:
                continue
            entry = entry_for(kind, path, data)
            if entry is not None:
                found.append((path, entry))
    return found


@dataclass
class LockResult:
    added: list[Entry]
    unchanged: list[Entry]
    refused: list[tuple[Path, Entry, Entry]]  # (spec, current, locked)


def update_lock(root: Path) -> LockResult:
    """Add the current specs' hashes; refuse (writing nothing) if a locked version changed."""
    lock_path = root / LOCK_PATH
    lock = read_lock(lock_path)
    result = LockResult([], [], [])
    new = dict(lock)
    for path, entry in current_entries(root):
        locked = lock.get(entry.key)
        if locked is None:
            if entry.key in new and new[entry.key].digest != entry.digest:
                result.refused.append((path, entry, new[entry.key]))
                continue
            new[entry.key] = entry
            result.added.append(entry)
        elif locked.digest == entry.digest:
            result.unchanged.append(entry)
        else:
            result.refused.append((path, entry, locked))
    if not result.refused and result.added:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        write_lock(lock_path, new)
    return result
