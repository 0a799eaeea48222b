"""Read the endpoint's scoring logs (Azure ML model data collector JSON lines) into frames.

The serving side (``ctloop.serving.collector``) writes two collections under a deployment's
``logs/`` folder, ``model_inputs`` and ``model_outputs``, partitioned as
``<collection>/YYYY/MM/DD/HH/<host>-<pid>.jsonl``. Each line is a CloudEvents envelope whose
``data`` is a list of row objects, with ``correlationid`` (the request id returned to the
client), ``time``, ``modelversion``, ``statuscode`` and ``latencyms``. Inputs and outputs of one
request share the correlation id; row ``i`` of the outputs answers row ``i`` of the inputs.

:class:`LogReader` reads only the hour folders inside the requested time range and keeps parsed
files in memory (re-read when their size or mtime changes), so a long-running monitor reads each
line once. :func:`write_events` writes the same shape with explicit times (the replay's clock).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

INPUTS, OUTPUTS = "model_inputs", "model_outputs"
REQUEST_COLUMNS = ("request_id", "time", "status", "latency_ms", "model_version", "rows")
AGENT = "ctloop-replay/1"


class LogError(ValueError):
    """A log line that cannot be read: names the file, the line and the reason."""


@dataclass
class _Parsed:
    stamp: tuple[int, int]
    events: list[dict[str, Any]]


def _parse_file(path: Path) -> list[dict[str, Any]]:
    events = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.endswith("\n"):
                break  # a line still being written: read it next time
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogError(f"{path}: line {number}: invalid JSON: {exc.msg}") from None
            if not isinstance(event, dict) or "correlationid" not in event or "time" not in event:
                raise LogError(f"{path}: line {number}: not a collector event (no correlationid/time)")
            events.append(event)
    return events


def _naive(ts: pd.Timestamp | None) -> datetime | None:
    return None if ts is None else ts.tz_convert("UTC").tz_localize(None).to_pydatetime()


def _subfolders(folder: str) -> list[tuple[int, str]]:
    """Numbered subfolders (year, month, day, hour) as (number, path), in order; no stat per entry."""
    with os.scandir(folder) as entries:
        return sorted((int(e.name), e.path) for e in entries if e.name.isdigit() and e.is_dir())


def _hour_folders(root: Path, since: pd.Timestamp | None, until: pd.Timestamp | None) -> list[str]:
    """``root/YYYY/MM/DD/HH`` folders whose hour overlaps ``[since, until)`` (years, months and
    days outside the range are skipped without listing them)."""
    lo, hi = _naive(since.floor("h") if since is not None else None), _naive(until)

    def overlaps(start: datetime, end: datetime) -> bool:
        return (lo is None or end > lo) and (hi is None or start < hi)

    found: list[str] = []
    if not root.is_dir():
        return found
    for year, ypath in _subfolders(str(root)):
        if not 1 <= year <= 9998 or not overlaps(datetime(year, 1, 1), datetime(year + 1, 1, 1)):
            continue
        for month, mpath in _subfolders(ypath):
            if not 1 <= month <= 12:
                continue
            m0 = datetime(year, month, 1)
            if not overlaps(m0, datetime(year + month // 12, month % 12 + 1, 1)):
                continue
            for day, dpath in _subfolders(mpath):
                d0 = m0 + timedelta(days=day - 1)
                if day < 1 or not overlaps(d0, d0 + timedelta(days=1)):
                    continue
                for hour, hpath in _subfolders(dpath):
                    h0 = d0 + timedelta(hours=hour)
                    if overlaps(h0, h0 + timedelta(hours=1)):
                        found.append(hpath)
    return found


class LogReader:
    """Collector logs of one or more deployments, read incrementally."""

    def __init__(self, folders: Sequence[str | Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self._cache: dict[str, _Parsed] = {}

    def _events(self, collection: str, since: pd.Timestamp | None, until: pd.Timestamp | None) -> list[dict]:
        out: list[dict[str, Any]] = []
        for folder in self.folders:
            for hour in _hour_folders(folder / collection, since, until):
                with os.scandir(hour) as entries:
                    files = sorted((e.path, e.stat()) for e in entries if e.name.endswith(".jsonl"))
                for name, st in files:
                    stamp = (st.st_size, st.st_mtime_ns)
                    cached = self._cache.get(name)
                    if cached is None or cached.stamp != stamp:
                        cached = _Parsed(stamp, _parse_file(Path(name)))
                        self._cache[name] = cached
                    out.extend(cached.events)
        return out

    def read(
        self, since: pd.Timestamp | None = None, until: pd.Timestamp | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(requests, scored rows) with request time in ``[since, until)``.

        ``requests``: one row per request (:data:`REQUEST_COLUMNS`). ``scored``: one row per
        scored input row: ``request_id``, ``row``, ``time``, ``model_version``, ``probability``,
        ``prediction`` and the feature columns.
        """
        inputs = self._events(INPUTS, since, until)
        outputs = {e["correlationid"]: e for e in self._events(OUTPUTS, since, until)}
        requests, rows = [], []
        for event in inputs:
            time = pd.Timestamp(event["time"])
            if (since is not None and time < since) or (until is not None and time >= until):
                continue
            rid = str(event["correlationid"])
            data = event.get("data") or []
            requests.append(
                (
                    rid,
                    time,
                    int(event.get("statuscode", 200)),
                    float(event.get("latencyms", float("nan"))),
                    str(event.get("modelversion", "")),
                    len(data),
                )
            )
            answer = outputs.get(rid)
            if answer is None:
                continue
            for index, (features, output) in enumerate(zip(data, answer.get("data") or [], strict=False)):
                rows.append(
                    {
                        "request_id": rid,
                        "row": index,
                        "time": time,
                        "model_version": str(event.get("modelversion", "")),
                        "probability": float(output.get("probability", float("nan"))),
                        "prediction": output.get("prediction"),
                        **features,
                    }
                )
        req = pd.DataFrame(requests, columns=list(REQUEST_COLUMNS))
        req["time"] = pd.to_datetime(req["time"], utc=True)
        scored = pd.DataFrame(rows)
        if scored.empty:
            scored = pd.DataFrame(
                columns=["request_id", "row", "time", "model_version", "probability", "prediction"]
            )
        scored["time"] = pd.to_datetime(scored["time"], utc=True)
        return req, scored


def collector_event(
    collection: str,
    time: pd.Timestamp,
    request_id: str,
    data: list[dict[str, Any]],
    model_version: str,
    status: int,
    latency_ms: float,
    source: str,
) -> dict[str, Any]:
    """One envelope in the shape ``ctloop.serving.collector`` writes."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": f"azureml.inference.{collection}",
        "datacontenttype": "application/json",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "data": data,
        "correlationid": request_id,
        "xrequestid": request_id,
        "modelversion": model_version,
        "collectdatatype": "pandas.core.frame.DataFrame",
        "agent": AGENT,
        "statuscode": status,
        "latencyms": round(float(latency_ms), 3),
    }


def write_events(directory: str | Path, events: Iterable[dict[str, Any]], stem: str = "replay") -> int:
    """Append events to their hour-partitioned files (one write per file); returns the count."""
    by_file: dict[Path, list[str]] = {}
    for event in events:
        collection = event["type"].rsplit(".", 1)[-1]
        time = pd.Timestamp(event["time"])
        path = Path(directory, collection, time.strftime("%Y/%m/%d/%H"), f"{stem}.jsonl")
        by_file.setdefault(path, []).append(json.dumps(event, separators=(",", ":")) + "\n")
    for path, lines in by_file.items():
        os.makedirs(path.parent, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, "".join(lines).encode())
        finally:
            os.close(fd)
    return sum(len(v) for v in by_file.values())
