"""The metrics history is append-only, records a window once, survives restarts and SIGKILL."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ctloop.monitor.history import History, WindowRow

WRITER = """
import hashlib, sys
from ctloop.monitor.history import History, WindowRow
history = History(sys.argv[1])
for i in range(int(sys.argv[2])):
    payload = str(i) * 20000  # large rows: a kill is likely to land inside a write
    metrics = {"i": i, "payload": payload, "sha": hashlib.sha256(payload.encode()).hexdigest()}
    history.append_window(WindowRow("s", f"w{i:06d}", f"w{i + 1:06d}", "now", "1", metrics))
    history.append_event("s", f"w{i:06d}", "trigger_check", {"i": i})
"""


def row(i: int, **metrics: object) -> WindowRow:
    return WindowRow(
        "endpoint",
        f"2024-01-{i:02d}T00:00:00Z",
        f"2024-01-{i + 1:02d}T00:00:00Z",
        "now",
        "1",
        {"i": i, **metrics},
    )


def test_a_window_is_recorded_once_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    history = History(path)
    assert history.append_window(row(1, roc_auc=0.8)) is True
    assert history.append_window(row(1, roc_auc=0.1)) is False  # same window: refused, first kept
    assert history.append_window(row(2, roc_auc=float("nan"))) is True
    history.append_event("endpoint", "2024-01-03T00:00:00Z", "retrain", {"fired": ["drift"]})
    reopened = History(path)
    assert [r.metrics["roc_auc"] for r in reopened.windows()] == [0.8, None]
    assert reopened.last_window_end("endpoint") == "2024-01-03T00:00:00Z"
    assert [e.detail for e in reopened.events(kind="retrain")] == [{"fired": ["drift"]}]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE windows SET metrics = '{}'",
        "DELETE FROM windows",
        "UPDATE events SET kind = 'x'",
        "DELETE FROM events",
    ],
)
def test_rows_can_never_be_rewritten(tmp_path: Path, statement: str) -> None:
    history = History(tmp_path / "h.sqlite")
    history.append_window(row(1))
    history.append_event("endpoint", "t", "retrain", {})
    conn = sqlite3.connect(history.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    conn.close()
    assert len(history.windows()) == 1 and len(history.events()) == 1


def test_sigkill_mid_write_leaves_no_torn_row(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    total = 400
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(total)], env=env)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if path.is_file():
            try:
                seen = (
                    sqlite3.connect(path, timeout=0.1).execute("SELECT COUNT(*) FROM windows").fetchone()[0]
                )
            except sqlite3.OperationalError:
                continue  # locked by the writer or the schema not there yet
            if seen >= 5:
                break
    assert proc.poll() is None, "the writer finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    history = History(path)
    assert history.integrity() == "ok"
    rows = history.windows()
    assert seen <= len(rows) < total
    for r in rows:  # every row is whole: its payload matches the checksum written with it
        payload = r.metrics["payload"]
        assert hashlib.sha256(payload.encode()).hexdigest() == r.metrics["sha"]
        assert payload == str(r.metrics["i"]) * 20000
    assert [r.metrics["i"] for r in rows] == list(range(len(rows)))
    # a restarted writer does not record any window twice
    for r in rows[-3:]:
        assert history.append_window(r) is False
    assert (
        history.append_window(WindowRow("s", f"w{len(rows):06d}", "end", "now", "1", {"i": len(rows)}))
        is True
    )
