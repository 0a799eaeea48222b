"""Log each request and response as JSON lines shaped like Azure ML's model data collector.

Two collections, as the collector writes them: ``model_inputs`` and ``model_outputs``, each under
``<dir>/<collection>/YYYY/MM/DD/HH/<host>-<pid>.jsonl`` (one file per process and hour). Each line
is a CloudEvents envelope (``specversion``, ``id``, ``source``, ``type``
``azureml.inference.<collection>``, ``time``, ``data`` (list of row objects), ``correlationid``,
``xrequestid``, ``modelversion``, ``collectdatatype``, ``agent``) plus the extension attributes
``statuscode``, ``latencyms`` and, for a rejected request, ``reason``. Rejected requests log an
empty ``data`` list in ``model_inputs`` (the body is not trusted) and nothing in ``model_outputs``.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

LOG_DIR_ENV = "CTLOOP_SERVING_LOG_DIR"
AGENT = "ctloop-serving/1"


class RequestLog:
    """Appends collector-shaped events for one scoring process (thread-safe)."""

    def __init__(self, directory: str | Path, source: str, model_version: str) -> None:
        self.directory = Path(directory)
        self.source = source
        self.model_version = model_version
        self._lock = threading.Lock()
        self._files: dict[str, tuple[str, TextIO]] = {}
        self._stem = f"{socket.gethostname()}-{os.getpid()}"

    def _handle(self, collection: str, now: datetime) -> TextIO:
        hour = now.strftime("%Y/%m/%d/%H")
        current = self._files.get(collection)
        if current and current[0] == hour:
            return current[1]
        if current:
            current[1].close()
        folder = self.directory / collection / hour
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / f"{self._stem}.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._files[collection] = (hour, handle)
        return handle

    def _event(self, collection: str, now: datetime, data: list[dict[str, Any]], **ext: Any) -> str:
        event = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": self.source,
            "type": f"azureml.inference.{collection}",
            "datacontenttype": "application/json",
            "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": data,
            "correlationid": ext.pop("correlationid"),
            "xrequestid": ext.pop("xrequestid"),
            "modelversion": self.model_version,
            "collectdatatype": "pandas.core.frame.DataFrame",
            "agent": AGENT,
        }
        event.update({k: v for k, v in ext.items() if v is not None})
        return json.dumps(event, separators=(",", ":"), default=float)

    def write(
        self,
        *,
        correlation_id: str,
        x_request_id: str,
        status: int,
        latency_ms: float,
        inputs: list[dict[str, Any]],
        outputs: list[dict[str, Any]] | None,
        reason: str | None = None,
    ) -> None:
        """Append one request (and its response when it was scored)."""
        now = datetime.now(UTC)
        common = {
            "correlationid": correlation_id,
            "xrequestid": x_request_id,
            "statuscode": status,
            "latencyms": round(latency_ms, 3),
            "reason": reason,
        }
        lines = [("model_inputs", self._event("model_inputs", now, inputs, **dict(common)))]
        if outputs is not None:
            lines.append(("model_outputs", self._event("model_outputs", now, outputs, **dict(common))))
        with self._lock:
            for collection, line in lines:
                handle = self._handle(collection, now)
                handle.write(line + "\n")
                handle.flush()

    def close(self) -> None:
        with self._lock:
            for _, handle in self._files.values():
                handle.close()
            self._files.clear()


def read_events(directory: str | Path, collection: str) -> list[dict[str, Any]]:
    """All events of one collection under a log folder, in file order (for monitoring and tests)."""
    events: list[dict[str, Any]] = []
    for path in sorted(Path(directory, collection).rglob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            events.extend(json.loads(line) for line in handle if line.strip())
    return events
