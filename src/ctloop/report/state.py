"""What the dashboard shows, read once: the local state's history or a replay's results.

Local state (under ``$CTLOOP_HOME``, default ``.ctloop/``):

* engine runs: ``runs/<id>/run.json`` (status, start time, each step's ``duration_s``);
* registry: every model's versions, their lifecycle tags and the champion/serving aliases;
* monitor windows and loop events: ``monitor/history.sqlite``;
* deployments: the registry's deployed/rejected tags, the loop's ``deploy`` events and the last
  rollout in ``endpoint/rollout.json``.

Nothing here writes: a file that cannot be read raises :class:`ReportError` naming the file, the
field and the reason. Totals are computed once from the rows, so the page's header and its tables
cannot disagree.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ctloop import paths

#: Above this many months a per-month chart would be unreadable: periods become years.
MAX_MONTHS = 36


class ReportError(ValueError):
    """Nothing to report, or an unreadable source; names the file, the field and the reason."""


def parse_time(value: Any, source: str | Path, field_name: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 string (a naive one is taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"{source}: {field_name}: not an ISO-8601 time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True)
class Run:
    """One engine run: its compute is the sum of its steps' durations."""

    run_id: str
    name: str
    status: str
    started: datetime
    duration_s: float | None
    compute_s: float
    steps: int
    cache_hits: int


@dataclass(frozen=True)
class Version:
    model: str
    version: str
    created: str
    status: str
    aliases: tuple[str, ...]
    promoted_at: str | None


@dataclass(frozen=True)
class Window:
    scope: str
    start: str
    end: str
    model_version: str | None
    primary: float | None
    drift_score: float | None


@dataclass(frozen=True)
class Deployment:
    time: str
    model: str
    version: str
    outcome: str
    source: str


@dataclass(frozen=True)
class Periods:
    """Values per calendar period (``YYYY-MM``, or ``YYYY`` when the span is too long for months)."""

    unit: str  # "month" or "year"
    items: tuple[tuple[str, float], ...]


def periods(points: Iterable[tuple[datetime, float]]) -> Periods:
    """Sum ``points`` per month from the first to the last (empty months included), or per year."""
    points = sorted(points)
    if not points:
        return Periods("month", ())
    first, last = points[0][0], points[-1][0]
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    by_year = months > MAX_MONTHS
    sums: Counter[str] = Counter()
    for when, value in points:
        sums[f"{when.year:04d}" if by_year else f"{when.year:04d}-{when.month:02d}"] += value
    if by_year:
        labels = [f"{y:04d}" for y in range(first.year, last.year + 1)]
    else:
        labels = []
        year, month = first.year, first.month
        for _ in range(months):
            labels.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return Periods("year" if by_year else "month", tuple((label, float(sums[label])) for label in labels))


# --- engine runs ---------------------------------------------------------------------------------
def _number(value: Any, source: Path, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(f"{source}: {field_name}: expected a number, got {value!r}")
    return float(value)


def _read_object(path: Path, what: str, required: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object from ``path`` with ``required`` keys (ReportError naming file and field)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable {what}: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: <root>: expected an object")
    for key in required:
        if key not in data:
            raise ReportError(f"{path}: {key}: missing")
    return data


def read_run(path: Path) -> Run:
    """One ``run.json`` as a :class:`Run` (ReportError naming the file and field when malformed)."""
    data = _read_object(path, "run record", ("run_id", "status", "started", "steps"))
    steps = data["steps"]
    if not isinstance(steps, dict):
        raise ReportError(f"{path}: steps: expected an object")
    compute = 0.0
    for name, step in steps.items():
        if isinstance(step, dict) and step.get("duration_s") is not None:
            compute += _number(step["duration_s"], path, f"steps.{name}.duration_s")
    duration = data.get("duration_s")
    return Run(
        run_id=str(data["run_id"]),
        name=str(data.get("name") or data.get("pipeline") or ""),
        status=str(data["status"]),
        started=parse_time(data["started"], path, "started"),
        duration_s=None if duration is None else _number(duration, path, "duration_s"),
        compute_s=compute,
        steps=len(steps),
        cache_hits=sum(1 for s in steps.values() if isinstance(s, dict) and s.get("status") == "cached"),
    )


def read_runs(runs_dir: Path) -> list[Run]:
    """Every run under ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    found = [read_run(d / "run.json") for d in runs_dir.iterdir() if (d / "run.json").is_file()]
    return sorted(found, key=lambda r: (r.started, r.run_id))


# --- registry ------------------------------------------------------------------------------------
def read_registry() -> tuple[list[Version], list[Deployment]]:
    """Every local model version, and the deployments its tags record (deployed, rejected)."""
    from ctloop.registry import RegistryError, model_names, open_registry
    from ctloop.registry.base import TAG_DEPLOYED_AT, TAG_PROMOTED_AT, TAG_REJECTED_AT, TAG_REJECTED_REASON

    versions: list[Version] = []
    deployments: list[Deployment] = []
    try:
        listed = [(n, open_registry(n, "local").list_versions()) for n in sorted(model_names("local"))]
    except RegistryError as exc:
        raise ReportError(f"registry: {exc}") from None
    for name, found in listed:
        for v in found:
            versions.append(
                Version(
                    name,
                    v.version,
                    v.created,
                    v.status,
                    tuple(sorted(v.aliases)),
                    v.tags.get(TAG_PROMOTED_AT),
                )
            )
            if v.tags.get(TAG_DEPLOYED_AT):
                deployments.append(
                    Deployment(v.tags[TAG_DEPLOYED_AT], name, v.version, "deployed", "registry")
                )
            if v.tags.get(TAG_REJECTED_AT):
                reason = v.tags.get(TAG_REJECTED_REASON, "")
                outcome = f"rejected: {reason}" if reason else "rejected"
                deployments.append(Deployment(v.tags[TAG_REJECTED_AT], name, v.version, outcome, "registry"))
    return versions, deployments


# --- monitor history -----------------------------------------------------------------------------
def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def read_history(path: Path) -> tuple[list[Window], list[Deployment]]:
    """Monitor windows and the loop's deploy events of the metrics history at ``path`` (if any)."""
    if not path.is_file():
        return [], []
    from ctloop.monitor.history import History, HistoryError

    try:
        store = History(path)
        rows, events = store.windows(), store.events(kind="deploy")
    except HistoryError as exc:
        raise ReportError(str(exc)) from None
    windows = [
        Window(
            r.scope,
            r.window_start,
            r.window_end,
            r.model_version,
            _float(r.metrics.get("primary")),
            _float(r.metrics.get("drift_score")),
        )
        for r in rows
    ]
    deploys = [
        Deployment(
            e.time,
            str(e.detail.get("model_name", "")),
            str(e.detail.get("version", "")),
            "deployed",
            f"loop ({e.scope})",
        )
        for e in events
    ]
    return windows, deploys


def read_rollout(path: Path) -> list[Deployment]:
    """The last rollout recorded in ``rollout.json`` (its stage is the outcome so far)."""
    if not path.is_file():
        return []
    data = _read_object(path, "rollout state", ("version", "stage"))
    when = str(data.get("updated") or data.get("started") or "")
    outcome = str(data["stage"]) + (f": {data['reason']}" if data.get("reason") else "")
    return [Deployment(when, str(data.get("model_name", "")), str(data["version"]), outcome, "rollout")]


# --- the dashboard's view of it ------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """The header's numbers, computed from the same rows the tables show."""

    runs: int
    runs_by_status: tuple[tuple[str, int], ...]
    compute_hours: float
    versions: int
    champions: tuple[tuple[str, str], ...]
    windows: int
    deployments: int


@dataclass(frozen=True)
class LocalHistory:
    """Everything the local dashboard shows."""

    home: Path
    runs: list[Run] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.runs or self.versions or self.windows or self.deployments)

    def totals(self) -> Totals:
        statuses = Counter(r.status for r in self.runs)
        return Totals(
            runs=len(self.runs),
            runs_by_status=tuple(sorted(statuses.items())),
            compute_hours=sum(r.compute_s for r in self.runs) / 3600.0,
            versions=len(self.versions),
            champions=tuple((v.model, v.version) for v in self.versions if "champion" in v.aliases),
            windows=len(self.windows),
            deployments=len(self.deployments),
        )

    def runs_per_period(self) -> Periods:
        return periods((r.started, 1.0) for r in self.runs)

    def compute_hours_per_period(self) -> Periods:
        return periods((r.started, r.compute_s / 3600.0) for r in self.runs)


def read_local(home: Path | None = None, history: Path | None = None) -> LocalHistory:
    """The local state under ``home`` (default ``$CTLOOP_HOME``); ``history`` overrides the monitor file."""
    home = Path(home) if home else paths.state_dir()
    runs = read_runs(home / "runs")
    from ctloop.registry.local import sqlite_path

    registry_db = sqlite_path(paths.tracking_uri())
    versions, deployments = read_registry() if registry_db is not None and registry_db.is_file() else ([], [])
    windows, deploys = read_history(Path(history) if history else home / "monitor" / "history.sqlite")
    rollouts = read_rollout(home / "endpoint" / "rollout.json")
    every = sorted([*deployments, *deploys, *rollouts], key=lambda d: (d.time, d.version, d.source))
    return LocalHistory(home, runs, versions, windows, every)


# --- a replay's results ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReplayTotals:
    policies: int
    batches: int
    retrains: int
    promotions: int
    compute_hours: float


@dataclass(frozen=True)
class ReplayView:
    """A replay's results (``replay.json``): its policy table and the trigger policy's retrains."""

    path: Path
    data: dict[str, Any]
    rows: list[dict[str, Any]]

    def totals(self) -> ReplayTotals:
        return ReplayTotals(
            policies=len(self.rows),
            batches=int(self.data.get("batches") or 0),
            retrains=sum(int(r["retrains"]) for r in self.rows),
            promotions=sum(int(r["promotions"]) for r in self.rows),
            compute_hours=sum(float(r["compute_seconds"]) for r in self.rows) / 3600.0,
        )

    def retrains_per_period(self, policy: str = "trigger") -> Periods:
        retrains = ((self.data.get("policies") or {}).get(policy) or {}).get("retrains") or []
        return periods(
            (parse_time(r["time"], self.path, f"policies.{policy}.retrains.time"), 1.0)
            for r in retrains
            if int(r.get("batch", 0)) >= 0 and r.get("time")
        )

    def metric_series(self) -> dict[str, list[tuple[datetime, float | None]]]:
        out: dict[str, list[tuple[datetime, float | None]]] = {}
        for name, result in (self.data.get("policies") or {}).items():
            field_name = f"policies.{name}.batches"
            out[name] = [
                (parse_time(b["start"], self.path, f"{field_name}.start"), _float(b.get("metric")))
                for b in (result or {}).get("batches") or []
            ]
        return out

    def drifted_start(self) -> datetime | None:
        row = int(self.data.get("drifted_from_row") or 0)
        for result in (self.data.get("policies") or {}).values():
            for b in (result or {}).get("batches") or []:
                if int(b.get("start_row", -1)) >= row:
                    return parse_time(b["start"], self.path, "policies.batches.start")
        return None


_ROW_FIELDS = ("policy", "retrains", "promotions", "compute_seconds")


def read_replay(path: Path) -> ReplayView:
    """A replay's ``replay.json`` (or the folder holding it), checked for the fields the page uses."""
    path = path / "replay.json" if path.is_dir() else path
    if not path.is_file():
        raise ReportError(f"{path}: replay results not found (run 'ctloop replay' first)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: unreadable replay results: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("table"), list):
        raise ReportError(f"{path}: table: missing or not a list")
    for i, row in enumerate(data["table"]):
        for key in _ROW_FIELDS:
            if not isinstance(row, dict) or key not in row:
                raise ReportError(f"{path}: table.{i}.{key}: missing")
        for key in _ROW_FIELDS[1:]:
            _number(row[key], path, f"table.{i}.{key}")
    return ReplayView(path, data, list(data["table"]))
