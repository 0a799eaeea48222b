"""The monitor: closed windows of scoring logs and late labels -> rows of the metrics history.

Windows are ``window_hours`` long and aligned on ``origin`` (the Unix epoch by default, so daily
windows are UTC days). A run records every window that closed at or before ``as_of`` and is not
recorded yet, oldest first, each in its own transaction: a monitor stopped half-way resumes
where it stopped, and a window is never recorded twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ctloop.monitor.history import History, WindowRow
from ctloop.monitor.labels import LabelReader
from ctloop.monitor.logs import LogReader
from ctloop.monitor.settings import MonitorSettings
from ctloop.monitor.window import Reference, window_metrics

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
DEFAULT_SCOPE = "endpoint"


def utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """A timestamp in UTC (naive values are taken as UTC)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def iso(ts: pd.Timestamp) -> str:
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Monitor:
    """Computes and records window metrics for one scope (an endpoint, or a replay policy)."""

    settings: MonitorSettings
    history: History
    logs: LogReader
    labels: LabelReader
    reference: Callable[[], Reference | None]
    scope: str = DEFAULT_SCOPE
    origin: pd.Timestamp = EPOCH

    @property
    def window(self) -> pd.Timedelta:
        return pd.Timedelta(hours=self.settings.window_hours)

    def _align(self, ts: pd.Timestamp) -> pd.Timestamp:
        steps = (utc(ts) - self.origin) // self.window
        return self.origin + steps * self.window

    def pending(
        self, as_of: pd.Timestamp, since: pd.Timestamp | None = None
    ) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """Closed windows not recorded yet: from the last recorded end (or ``since``, or the first
        request/label) up to the last window that ends at or before ``as_of``."""
        last = self.history.last_window_end(self.scope)
        if last is not None:
            start = utc(last)
        elif since is not None:
            start = self._align(since)
        else:
            first = self._first_event()
            if first is None:
                return []
            start = self._align(first)
        out = []
        while start + self.window <= utc(as_of):
            out.append((start, start + self.window))
            start = start + self.window
        return out

    def _first_event(self) -> pd.Timestamp | None:
        requests, _ = self.logs.read()
        labels, _ = self.labels.read()
        times = [t for t in (requests["time"].min(), labels["time"].min()) if pd.notna(t)]
        return min(times) if times else None

    def run(self, as_of: str | pd.Timestamp, since: pd.Timestamp | None = None) -> list[WindowRow]:
        """Record every pending window; returns the rows written (oldest first)."""
        windows = self.pending(utc(as_of), since)
        if not windows:
            return []
        lookback = pd.Timedelta(
            days=max(self.settings.performance_lookback_days, self.settings.drift_lookback_days)
        )
        requests, scored = self.logs.read(windows[0][0] - lookback, windows[-1][1])
        labels, repeats = self.labels.read()
        reference = self.reference()
        recorded_at = iso(pd.Timestamp.now(tz="UTC"))
        written = []
        for start, end in windows:
            lo = start - lookback  # a label arriving in the window may answer a prediction this old
            metrics = window_metrics(
                start,
                end,
                requests[(requests["time"] >= lo) & (requests["time"] < end)],
                scored[(scored["time"] >= lo) & (scored["time"] < end)],
                labels[(labels["time"] >= lo) & (labels["time"] < end)],
                reference,
                self.settings,
            )
            metrics["labels_repeated_total"] = repeats
            row = WindowRow(
                self.scope, iso(start), iso(end), recorded_at, metrics.get("champion_version"), metrics
            )
            if self.history.append_window(row):
                written.append(row)
        return written


def endpoint_log_folders(state_dir: Path, deployment: str | None = None) -> list[Path]:
    """``<state>/endpoint/<deployment>/logs`` folders (all deployments unless one is named)."""
    base = state_dir / "endpoint"
    if deployment:
        return [base / deployment / "logs"]
    return sorted(p for p in base.glob("*/logs") if p.is_dir()) if base.is_dir() else []
