"""Per-deployment measurements kept by the local router: bounded, thread-safe, queried by window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ctloop.rollout.endpoint import DeploymentMetrics


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def primary_metric(name: str | None, labels: list[int], scores: list[float]) -> float | None:
    """The gate's metric (``ctloop.metrics``) on labelled rows; None without both classes."""
    if not name or not labels or len(set(labels)) < 2:
        return None
    import numpy as np

    from ctloop.metrics import metric

    value = metric(name, np.asarray(labels), np.asarray(scores, dtype=float))
    return None if math.isnan(value) else value


class MetricsStore:
    """The last ``capacity`` requests (time, deployment, status, latency, mirrored) and labelled rows.

    ``clock`` stamps each record (epoch seconds by default); windows compare against its values.
    """

    def __init__(self, capacity: int, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._requests: deque[tuple[float, str, int, float, bool]] = deque(maxlen=capacity)
        self._labelled: deque[tuple[float, str, list[int], list[float]]] = deque(
            maxlen=max(1, capacity // 10)
        )
        self._lock = threading.Lock()

    def record(self, deployment: str, status: int, latency_ms: float, mirrored: bool = False) -> None:
        with self._lock:
            self._requests.append((self._clock(), deployment, status, latency_ms, mirrored))

    def record_labelled(self, deployment: str, labels: list[int], scores: list[float]) -> None:
        if len(labels) == len(scores):
            with self._lock:
                self._labelled.append((self._clock(), deployment, labels, scores))

    def summary(self, since: float = 0.0, metric: str | None = None) -> dict[str, DeploymentMetrics]:
        """Metrics per deployment for requests at or after ``since`` (epoch seconds)."""
        with self._lock:
            requests = list(self._requests)
            labelled = list(self._labelled)
        grouped: dict[str, dict[str, Any]] = {}
        for ts, dep, status, latency, mirrored in requests:
            if ts < since:
                continue
            g = grouped.setdefault(dep, {"lat": [], "errors": 0, "client": 0, "mirrored": 0})
            g["lat"].append(latency)
            if status >= 500:
                g["errors"] += 1
            elif status >= 400:
                g["client"] += 1
            g["mirrored"] += mirrored
        pairs: dict[str, tuple[list[int], list[float]]] = {}
        for ts, dep, labels, scores in labelled:
            if ts >= since:
                y, s = pairs.setdefault(dep, ([], []))
                y.extend(labels)
                s.extend(scores)
        out: dict[str, DeploymentMetrics] = {}
        for dep in sorted(set(grouped) | set(pairs)):
            g = grouped.get(dep, {"lat": [], "errors": 0, "client": 0, "mirrored": 0})
            lat = sorted(g["lat"])
            y, s = pairs.get(dep, ([], []))
            out[dep] = DeploymentMetrics(
                deployment=dep,
                requests=len(lat),
                errors=g["errors"],
                client_errors=g["client"],
                mirrored=g["mirrored"],
                p50_ms=percentile(lat, 0.50),
                p95_ms=percentile(lat, 0.95),
                p99_ms=percentile(lat, 0.99),
                labelled_rows=len(y),
                primary_metric=primary_metric(metric, y, s),
            )
        return out
