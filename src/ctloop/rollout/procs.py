"""Background processes of the local endpoint: start detached, identify exactly, stop the whole group.

A process is recorded as ``{"pid", "start_ticks", "boot_id", "token"}``: ``start_ticks`` is its
start time in clock ticks since boot (field 22 of ``/proc/<pid>/stat``) and ``boot_id`` the
kernel's id of this boot, both compared exactly, and ``token`` a random value placed in its
environment (``CTLOOP_PROC_TOKEN``); a process whose environment carries another token is not ours
(one that shows none, as during its ``exec``, is judged by the rest). Nothing depends on the wall
clock or the boot time, so a clock step never makes a live process look gone or a reused pid look
ours. Every process also carries its owner
(``CTLOOP_PROC_OWNER``, e.g. the endpoint's folder), so ``owned_by`` finds everything an owner ever
started, records or not. Each process leads its own session: stopping signals the whole group
(azmlinfsrv's gunicorn workers included), SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

TOKEN_ENV = "CTLOOP_PROC_TOKEN"
OWNER_ENV = "CTLOOP_PROC_OWNER"
# Longest wait for a started process to finish its exec (a bound for a stalled machine, not a timing).
EXEC_TIMEOUT_S = 30.0


def read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``; None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # fields 3.. (the name may hold spaces and ')')
    return fields[0], int(fields[19])


def read_environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` started with ({} when unreadable: gone, or another user's)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return out


def boot_id() -> str:
    """The kernel's random id of the current boot ('' when unavailable)."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    start_ticks: int
    token: str | None = None
    boot_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ProcessRef | None:
        if not data or "pid" not in data or "start_ticks" not in data:
            return None
        return cls(int(data["pid"]), int(data["start_ticks"]), data.get("token"), data.get("boot_id"))


def self_ref() -> ProcessRef:
    """This process (token from its environment when it has one)."""
    stat = read_stat(os.getpid())
    assert stat is not None
    return ProcessRef(os.getpid(), stat[1], os.environ.get(TOKEN_ENV), boot_id())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_detached(
    cmd: Sequence[str],
    env: Mapping[str, str],
    cwd: str | Path,
    log_path: str | Path,
    owner: str | None = None,
) -> ProcessRef:
    """Start ``cmd`` in its own session with stdout/stderr appended to ``log_path``, tagged with a
    fresh token (and ``owner``, when given) in its environment."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    full_env = {**env, TOKEN_ENV: token}
    if owner is not None:
        full_env[OWNER_ENV] = owner
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(cmd),
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    # Between exec closing Popen's error pipe and the kernel setting up the new environment,
    # /proc/<pid>/environ reads empty; hand out the reference only once the token shows (or the
    # process is gone), so the token is always part of what identifies it.
    wait_until(
        lambda: proc.poll() is not None or read_environ(proc.pid).get(TOKEN_ENV) == token,
        EXEC_TIMEOUT_S,
        0.005,
    )
    stat = read_stat(proc.pid)
    return ProcessRef(proc.pid, stat[1] if stat else -1, token, boot_id())


def _alive(ref: ProcessRef | None) -> bool:
    if ref is None:
        return False
    stat = read_stat(ref.pid)
    if stat is None or stat[1] != ref.start_ticks:
        return False
    if stat[0] in ("Z", "X"):
        _reap(ref.pid)
        return False
    if ref.boot_id and ref.boot_id != boot_id():
        return False
    shown = read_environ(ref.pid).get(TOKEN_ENV)
    return ref.token is None or shown is None or shown == ref.token


def _process(ref: ProcessRef | None) -> psutil.Process | None:
    if ref is None or not _alive(ref):
        return None
    try:
        return psutil.Process(ref.pid)
    except psutil.NoSuchProcess:
        return None


def owned_by(owner: str) -> list[ProcessRef]:
    """Live processes started with ``owner`` (their children too: they inherit the environment)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        env = read_environ(pid)
        stat = read_stat(pid)
        if env.get(OWNER_ENV) == owner and stat is not None and stat[0] not in ("Z", "X"):
            out.append(ProcessRef(pid, stat[1], env.get(TOKEN_ENV)))
    return out


def uses_path(owner: str, path: str | Path) -> bool:
    """True while a live process of ``owner`` was started with ``path`` on its command line or in
    its environment (a model folder it serves)."""
    needle = str(path)
    for ref in owned_by(owner):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(ref.pid)
            if any(needle in part for part in proc.cmdline()):
                return True
        if any(needle in value for value in read_environ(ref.pid).values()):
            return True
    return False


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(ref: ProcessRef | None) -> bool:
    """True while the recorded process (same pid, start ticks and token) is alive."""
    return _alive(ref)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def stop(ref: ProcessRef | None, timeout_s: float) -> bool:
    """Stop the process and its group: SIGTERM, wait ``timeout_s``, then SIGKILL. True if it was ours."""
    proc = _process(ref)
    if proc is None or ref is None:
        return False
    try:
        group = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        group = [proc]
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


def stop_owned(owner: str, timeout_s: float) -> list[ProcessRef]:
    """Stop every live process of ``owner`` (never this process or its ancestors); return them."""
    spared = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        spared |= {p.pid for p in psutil.Process().parents()}
    found = [r for r in owned_by(owner) if r.pid not in spared]
    for ref in found:
        with contextlib.suppress(OSError):
            if os.getpgid(ref.pid) == ref.pid:
                stop(ref, timeout_s)
    for ref in found:  # members of groups led elsewhere
        if _alive(ref):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(ref.pid, signal.SIGKILL)
            _reap(ref.pid)
    return found


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
