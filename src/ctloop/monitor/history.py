"""The metrics history: one row per monitored window plus loop events, append-only, in SQLite.

``<state dir>/monitor/history.sqlite`` holds two tables:

* ``windows``: ``(scope, window_start)`` is the primary key, so a window is recorded once; the
  metrics are one JSON object per row.
* ``events``: what the loop did (``trigger_check``, ``retrain``, ``promote``, ``deploy``), in order.

Rows are never rewritten: SQL triggers abort any UPDATE or DELETE. Each append is one transaction
committed with ``synchronous=FULL`` (fsync before the commit returns), so a monitor killed at any
instant leaves either the whole row or nothing, never a torn one, and the file survives restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctloop import paths
from ctloop.fileio import json_ready

HISTORY_FILE = "history.sqlite"
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    scope TEXT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    model_version TEXT,
    metrics TEXT NOT NULL CHECK (json_valid(metrics)),
    PRIMARY KEY (scope, window_start)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scope TEXT NOT NULL,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL CHECK (json_valid(detail))
);
CREATE TRIGGER IF NOT EXISTS windows_no_update BEFORE UPDATE ON windows
    BEGIN SELECT RAISE(ABORT, 'the metrics history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS windows_no_delete BEFORE DELETE ON windows
    BEGIN SELECT RAISE(ABORT, 'the metrics history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the metrics history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the metrics history is append-only'); END;
"""


class HistoryError(RuntimeError):
    """The history file cannot be used; names the file and the reason."""


def default_path() -> Path:
    return paths.state_dir() / "monitor" / HISTORY_FILE


@dataclass(frozen=True)
class WindowRow:
    scope: str
    window_start: str
    window_end: str
    recorded_at: str
    model_version: str | None
    metrics: dict[str, Any]


@dataclass(frozen=True)
class Event:
    id: int
    scope: str
    time: str
    kind: str
    detail: dict[str, Any]


class History:
    """Append-only store of window metrics and loop events (one SQLite file)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as conn:
                conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path}: not a usable metrics history: {exc}") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    # --- windows ---------------------------------------------------------------------------
    def append_window(self, row: WindowRow) -> bool:
        """Record one window; False (and nothing written) when it was already recorded."""
        payload = json.dumps(json_ready(row.metrics), sort_keys=True, allow_nan=False)
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO windows (scope, window_start, window_end, recorded_at, model_version,"
                    " metrics) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        row.scope,
                        row.window_start,
                        row.window_end,
                        row.recorded_at,
                        row.model_version,
                        payload,
                    ),
                )
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                return False
        return True

    def windows(self, scope: str | None = None) -> list[WindowRow]:
        """Every recorded window (of one scope), oldest first."""
        query = "SELECT scope, window_start, window_end, recorded_at, model_version, metrics FROM windows"
        args: tuple[Any, ...] = ()
        if scope is not None:
            query += " WHERE scope = ?"
            args = (scope,)
        with self._connect() as conn:
            rows = conn.execute(query + " ORDER BY window_start, scope", args).fetchall()
        return [WindowRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def last_window_end(self, scope: str) -> str | None:
        with self._connect() as conn:
            row = conn.execute("SELECT MAX(window_end) FROM windows WHERE scope = ?", (scope,)).fetchone()
        return row[0] if row else None

    # --- events ----------------------------------------------------------------------------
    def append_event(self, scope: str, time: str, kind: str, detail: dict[str, Any]) -> int:
        """Record what the loop did; returns the event id."""
        payload = json.dumps(json_ready(detail), sort_keys=True, allow_nan=False)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "INSERT INTO events (scope, time, kind, detail) VALUES (?, ?, ?, ?)",
                (scope, time, kind, payload),
            )
            conn.execute("COMMIT")
            return int(cur.lastrowid or 0)

    def events(self, scope: str | None = None, kind: str | None = None) -> list[Event]:
        """Events in the order they were recorded."""
        clauses, args = [], []
        if scope is not None:
            clauses.append("scope = ?")
            args.append(scope)
        if kind is not None:
            clauses.append("kind = ?")
            args.append(kind)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT id, scope, time, kind, detail FROM events{where} ORDER BY id", args
            ).fetchall()
        return [Event(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def integrity(self) -> str:
        """SQLite's own integrity check ('ok' when the file is sound)."""
        with self._connect() as conn:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
