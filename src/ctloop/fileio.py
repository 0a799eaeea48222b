"""Atomic file writes and exclusive file locks (pure: standard library only).

A write goes to a temporary file in the target's folder (``.<name>.tmp-XXXX``), is optionally
fsynced, then renamed over the target, so readers see the old file or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def json_ready(value: Any) -> Any:
    """``value`` as strict JSON can hold it: NaN and infinities become None, numpy scalars Python
    numbers, tuples lists and dict keys strings (nested at any depth)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | Path, data: bytes, *, fsync: bool = True, sync_dir: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, creating its folder.

    ``fsync`` flushes the data to disk before the rename; ``sync_dir`` also fsyncs the folder after
    it, making the rename itself durable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def write_text_atomic(path: str | Path, text: str, *, fsync: bool = True, sync_dir: bool = False) -> None:
    """:func:`write_bytes_atomic` of ``text`` encoded as UTF-8."""
    write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync, sync_dir=sync_dir)


def write_json_atomic(
    path: str | Path,
    data: Any,
    *,
    sort_keys: bool = False,
    default: Callable[[Any], Any] | None = None,
    fsync: bool = True,
) -> None:
    """Write ``data`` as indented JSON (with a final newline) to ``path`` atomically."""
    text = json.dumps(data, indent=2, sort_keys=sort_keys, default=default) + "\n"
    write_text_atomic(path, text, fsync=fsync)


@contextlib.contextmanager
def exclusive_lock(
    path: str | Path,
    timeout_s: float,
    error: Callable[[str], Exception],
    pause_s: Callable[[], float] = lambda: 0.05,
) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``path`` (created if missing; released if the process dies).

    Polls every ``pause_s()`` seconds; raises ``error(message)`` after ``timeout_s``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(path, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise error(f"{path}: still locked by another process after {timeout_s:.0f}s") from None
                time.sleep(pause_s())
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
