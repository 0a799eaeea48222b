"""Run records: ``runs/<id>/run.json`` (rewritten atomically at each transition) and ``events.jsonl``.

A record still saying ``running`` whose engine process is gone (killed, machine rebooted) is marked
``interrupted`` when runs are listed or shown, so no record claims to be running forever.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctloop.fileio import write_json_atomic

RUN_FILE = "run.json"
EVENTS_FILE = "events.jsonl"
#: Step states that mean the step is over (the others are pending and running).
FINAL_STEP_STATES = frozenset(
    {"completed", "cached", "failed", "killed", "timeout", "skipped", "interrupted"}
)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Sortable by start time (to the millisecond): ``20250101-120000-042-3fa2``."""
    stamp = datetime.now(UTC)
    return f"{stamp:%Y%m%d-%H%M%S}-{stamp.microsecond // 1000:03d}-{secrets.token_hex(2)}"


def _process_start(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def engine_alive(record: Mapping[str, Any]) -> bool:
    """Whether the engine process that wrote ``record`` still runs (unknown hosts count as alive)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != socket.gethostname():
        return True
    if not _alive(pid):
        return False
    started = record.get("pid_start")
    return started is None or _process_start(pid) in (None, started)


class RunRecord:
    """The mutable record of one run; every change is written to disk atomically."""

    def __init__(self, run_dir: Path, data: dict[str, Any]) -> None:
        self.dir = run_dir
        self.data = data
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self.dir / RUN_FILE

    @classmethod
    def create(cls, run_dir: Path, run_id: str, fields: Mapping[str, Any], steps: list[str]) -> RunRecord:
        pid = os.getpid()
        data: dict[str, Any] = {
            "run_id": run_id,
            "status": "running",
            "started": now(),
            "finished": None,
            "duration_s": None,
            "pid": pid,
            "pid_start": _process_start(pid),
            "host": socket.gethostname(),
            **fields,
            "cache_hits": 0,
            "steps": {name: {"status": "pending"} for name in steps},
        }
        record = cls(run_dir, data)
        record.save()
        return record

    def save(self) -> None:
        with self._lock:
            write_json_atomic(self.path, self.data, default=str, fsync=False)

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self.save()

    def step(self, name: str, **fields: Any) -> None:
        with self._lock:
            self.data["steps"][name].update(fields)
            self.data["cache_hits"] = sum(
                1 for s in self.data["steps"].values() if s.get("status") == "cached"
            )
            self.save()


class EventLog:
    """``events.jsonl``: one JSON object per line (time, run, step, level, message, fields)."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()

    def emit(self, message: str, *, step: str | None = None, level: str = "info", **fields: Any) -> None:
        event = {
            "time": now(),
            "run": self.run_id,
            "step": step,
            "level": level,
            "message": message,
            "fields": fields,
        }
        line = json.dumps(event, default=str)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def mark_interrupted(data: dict[str, Any], reason: str) -> dict[str, Any]:
    """``data`` with the run and its unfinished steps marked interrupted."""
    data["status"] = "interrupted"
    data["reason"] = reason
    data["finished"] = data.get("finished") or now()
    for step in data.get("steps", {}).values():
        if step.get("status") not in FINAL_STEP_STATES:
            step["status"] = "interrupted" if step.get("status") == "running" else "not-run"
    return data


def read_run(run_dir: Path) -> dict[str, Any] | None:
    """The record in ``run_dir``; a stale ``running`` record is rewritten as ``interrupted``."""
    try:
        data = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("status") == "running" and not engine_alive(data):
        data = mark_interrupted(
            data, f"the engine process (pid {data.get('pid')}) ended without finishing the run"
        )
        write_json_atomic(run_dir / RUN_FILE, data, default=str, fsync=False)
    return data


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Every readable run record, newest first."""
    if not runs_dir.is_dir():
        return []
    runs = [r for d in runs_dir.iterdir() if d.is_dir() and (r := read_run(d)) is not None]
    return sorted(runs, key=lambda r: (str(r.get("started", "")), str(r.get("run_id", ""))), reverse=True)


def find_run(runs_dir: Path, ref: str) -> dict[str, Any] | None:
    """The run called ``ref``, ``latest``, or the only run whose id starts with ``ref``."""
    if ref == "latest":
        runs = list_runs(runs_dir)
        return runs[0] if runs else None
    if (runs_dir / ref / RUN_FILE).is_file():
        return read_run(runs_dir / ref)
    matches = [d for d in runs_dir.glob(f"{ref}*") if (d / RUN_FILE).is_file()] if runs_dir.is_dir() else []
    return read_run(matches[0]) if len(matches) == 1 else None


def tail(path: str | Path | None, lines: int) -> list[str]:
    """The last ``lines`` lines of a text file (empty when it cannot be read)."""
    if not path:
        return []
    try:
        with Path(path).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
