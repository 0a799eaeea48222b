"""Background processes of the local endpoint: start detached, identify by (pid, start time), stop.

A process is recorded as ``{"pid", "create_time"}``; it counts as running only while a process
with that pid exists, started at that time and is not a zombie, so a reused pid is never
mistaken for ours. Each process leads its own session, so stopping signals the whole group
(azmlinfsrv's gunicorn workers included): SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

_START_TIME_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    create_time: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProcessRef | None:
        if not data or "pid" not in data:
            return None
        return cls(int(data["pid"]), float(data.get("create_time", 0.0)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_detached(
    cmd: Sequence[str], env: Mapping[str, str], cwd: str | Path, log_path: str | Path
) -> ProcessRef:
    """Start ``cmd`` in its own session with stdout/stderr appended to ``log_path``."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            cwd=str(cwd),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    return ProcessRef(proc.pid, created)


def _process(ref: ProcessRef | None) -> psutil.Process | None:
    if ref is None:
        return None
    try:
        proc = psutil.Process(ref.pid)
        if abs(proc.create_time() - ref.create_time) > _START_TIME_TOLERANCE_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(ref.pid)
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(ref: ProcessRef | None) -> bool:
    """True while the recorded process (same pid and start time) is alive."""
    return _process(ref) is not None


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop(ref: ProcessRef | None, timeout_s: float) -> bool:
    """Stop the process and its group: SIGTERM, wait ``timeout_s``, then SIGKILL. True if it was ours."""
    proc = _process(ref)
    if proc is None or ref is None:
        return False
    group = [proc, *proc.children(recursive=True)]
    _signal_group(ref.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(group, timeout=timeout_s)
    if alive:
        _signal_group(ref.pid, signal.SIGKILL)
        for p in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        psutil.wait_procs(alive, timeout=timeout_s)
    _reap(ref.pid)
    return True


def wait_until(predicate: Any, timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)


def log_tail(path: str | Path, limit: int = 2000) -> str:
    """The last ``limit`` characters of a log file ('' when absent)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
