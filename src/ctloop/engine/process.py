"""Run one step's process: output to a log file, a time limit, and a clear account of how it ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Seconds between SIGTERM and SIGKILL when the engine stops a step.
GRACE_S = 5.0

#: A step dies with the engine. Each step runs under this small keeper, the leader of the step's
#: process group: the kernel sends it SIGHUP when the engine dies (even by SIGKILL: Linux
#: PR_SET_PDEATHSIG), and it then kills the whole group, the step and what the step started in
#: it. The engine's own stop (SIGTERM to the group, then SIGKILL) reaches the step unchanged, and
#: the keeper exits with the step's status (or dies by the step's signal).
KEEPER = """
import ctypes, os, signal, sys
signal.signal(signal.SIGHUP, lambda *_: os.killpg(0, signal.SIGKILL))
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
ctypes.CDLL(None).prctl(1, signal.SIGHUP)
if os.getppid() != int(sys.argv[1]):
    os.killpg(0, signal.SIGKILL)
mask = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
pid = os.fork()
if pid == 0:
    for sig in mask:
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    except OSError as exc:
        print(f"cannot start {sys.argv[2]}: {exc}", file=sys.stderr)
        os._exit(127)
status = os.waitpid(pid, 0)[1]
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    if sig != signal.SIGKILL:
        signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def kept(argv: Sequence[str]) -> list[str]:
    """``argv`` run under :data:`KEEPER` (Linux), so the step's process group dies with the engine."""
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-I", "-S", "-c", KEEPER, str(os.getpid()), *argv]


@dataclass(frozen=True)
class Outcome:
    """How a process ended: ``status`` is completed, failed, killed, timeout or interrupted."""

    status: str
    exit_code: int | None
    signal: str | None
    duration_s: float

    def describe(self) -> str:
        if self.status == "completed":
            return "exit code 0"
        if self.status == "timeout":
            return f"timed out after {self.duration_s:.1f}s (limits.timeout)"
        if self.status == "interrupted":
            return "stopped because the engine was interrupted"
        if self.signal:
            return f"killed by {self.signal}"
        return f"exit code {self.exit_code}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class ProcessPool:
    """The live step processes, so an interrupted engine can stop them all."""

    def __init__(self) -> None:
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def run(
        self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, timeout: float | None
    ) -> Outcome:
        """Run ``argv`` in its own process group with stdout+stderr appended to ``log``."""
        start = time.monotonic()
        with log.open("ab") as out:
            # check, start and register under one lock: stop_all either sees this process or this
            # call sees ``stopping``, so no step starts after the pool was told to stop
            with self._lock:
                if self.stopping.is_set():
                    return Outcome("interrupted", None, None, 0.0)
                proc = subprocess.Popen(
                    kept(argv),
                    cwd=cwd,
                    env=dict(env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                self._procs[proc.pid] = proc
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                self._stop(proc)
            finally:
                with self._lock:
                    self._procs.pop(proc.pid, None)
        duration = time.monotonic() - start
        code = proc.returncode
        if timed_out:
            return Outcome("timeout", code, None, duration)
        if self.stopping.is_set() and code != 0:
            return Outcome("interrupted", code, None, duration)
        if code == 0:
            return Outcome("completed", 0, None, duration)
        if code < 0:
            return Outcome("killed", code, _signal_name(-code), duration)
        if code > 128 and code - 128 in signal.valid_signals():
            # a shell reports a child killed by signal N as exit status 128+N
            return Outcome("killed", code, _signal_name(code - 128), duration)
        return Outcome("failed", code, None, duration)

    def _stop(self, proc: subprocess.Popen[bytes]) -> None:
        for sig, wait in ((signal.SIGTERM, GRACE_S), (signal.SIGKILL, None)):
            try:
                os.killpg(proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        """Stop every live step process (SIGTERM, then SIGKILL after a grace period)."""
        with self._lock:
            self.stopping.set()
            procs = list(self._procs.values())
        threads = [threading.Thread(target=self._stop, args=(p,)) for p in procs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
