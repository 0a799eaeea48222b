"""Atomic JSON files and an exclusive file lock: the local endpoint's and the rollout's state."""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from typing import Any

from ctloop.fileio import exclusive_lock, write_json_atomic


class StateError(RuntimeError):
    """A state file that cannot be read; names the file and the reason."""


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    write_json_atomic(path, data, sort_keys=True)


def read_json(path: str | Path, default: Any = None) -> Any:
    """Parse ``path``; ``default`` when it does not exist; StateError when it is not JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StateError(f"{path}: not valid JSON: {exc}") from None


def locked(path: str | Path, timeout_s: float = 60.0) -> contextlib.AbstractContextManager[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (released when the process dies)."""
    return exclusive_lock(path, timeout_s, StateError)


def try_lock(path: str | Path) -> Any | None:
    """Take an exclusive lock without waiting; return the open handle (keep it) or None if held."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle
