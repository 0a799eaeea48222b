"""Requests the rollout sends: labelled rows from the eval data, the smoke test and the canary replay.

Rows come from a dataset folder (``data.parquet`` + ``manifest.json``: ``label`` names the label
column) or a bare Parquet file (label column from ``policies/data.yml``). Each request body is
``{"data": [row, ...], "labels": [...]}`` and carries the ``x-ctloop-labelled`` header, so the
endpoint (and this client) can score the primary metric per deployment.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ctloop.rollout.endpoint import DEPLOYMENT_HEADER, LABELLED_HEADER, ScoringTarget


class TrafficError(ValueError):
    """Labelled data that cannot drive a rollout; names the file, field and reason."""


@dataclass(frozen=True)
class LabelledRows:
    """Feature rows (JSON-ready dicts, model feature order) with their 0/1 labels."""

    rows: list[dict[str, Any]]
    labels: list[int]
    source: str

    def batches(self, size: int, limit: int | None = None) -> list[bytes]:
        """Request bodies of ``size`` rows over the last ``limit`` rows (all rows when None)."""
        start = 0 if limit is None else max(0, len(self.rows) - limit)
        out = []
        for i in range(start, len(self.rows), size):
            body = {"data": self.rows[i : i + size], "labels": self.labels[i : i + size]}
            out.append(json.dumps(body).encode())
        return out


def _label_from_policy(policies: Path | None) -> str:
    from ctloop.policies import load_policy

    return str(load_policy("data", policies)["label"])


def load_labelled(path: str | Path, features: list[str], policies: Path | None = None) -> LabelledRows:
    """Labelled rows from a dataset folder or a Parquet file, restricted to ``features``."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        from ctloop.tabular import DataError, read_dataset

        try:
            frame, manifest = read_dataset(path)
        except DataError as exc:
            raise TrafficError(str(exc)) from None
        label = manifest.get("label") or _label_from_policy(policies)
    elif path.is_file():
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise TrafficError(f"{path}: <file>: cannot read as Parquet: {exc}") from None
        label = _label_from_policy(policies)
    else:
        raise TrafficError(f"{path}: <file>: no such dataset folder or Parquet file")
    missing = [c for c in [*features, label] if c not in frame.columns]
    if missing:
        raise TrafficError(
            f"{path}: {missing[0]}: column missing (the model needs {features}, label '{label}')"
        )
    frame = frame[[*features, label]].dropna()
    if frame.empty:
        raise TrafficError(f"{path}: <rows>: no complete labelled rows")
    labels = frame[label].astype(int).tolist()
    if set(labels) - {0, 1}:
        raise TrafficError(f"{path}: {label}: labels must be 0 or 1")
    rows = frame[features].astype(float).to_dict("records")
    return LabelledRows(rows=rows, labels=labels, source=str(path))


@dataclass
class Answer:
    status: int
    deployment: str
    latency_ms: float
    payload: Any = None
    error: str | None = None


class ScoringClient:
    """Keep-alive HTTP client for one endpoint (thread-safe: httpx.Client is)."""

    def __init__(self, target: ScoringTarget, timeout_s: float) -> None:
        self.target = target
        self.client = httpx.Client(
            timeout=timeout_s, headers={"content-type": "application/json", **target.headers}
        )

    def post(self, body: bytes, deployment: str | None = None, labelled: bool = True) -> Answer:
        headers = {}
        if deployment:
            headers[DEPLOYMENT_HEADER] = deployment
        if labelled:
            headers[LABELLED_HEADER] = "1"
        started = time.perf_counter()
        try:
            resp = self.client.post(self.target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Answer(
                0, deployment or "", (time.perf_counter() - started) * 1e3, error=type(exc).__name__
            )
        latency = (time.perf_counter() - started) * 1e3
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        return Answer(
            resp.status_code, resp.headers.get(DEPLOYMENT_HEADER, deployment or ""), latency, payload
        )

    def close(self) -> None:
        self.client.close()


def answer_problem(answer: Answer, rows: int, version: str | None) -> str | None:
    """Why an answer is not a valid prediction for ``rows`` rows (None when it is)."""
    if answer.status != 200:
        detail = answer.error
        if detail is None and isinstance(answer.payload, dict):
            detail = answer.payload.get("error")
        return f"status {answer.status}" + (f": {detail}" if detail else "")
    p = answer.payload
    if not isinstance(p, dict):
        return "answer is not a JSON object"
    preds, probs = p.get("predictions"), p.get("probabilities")
    if not isinstance(preds, list) or not isinstance(probs, list) or len(preds) != rows or len(probs) != rows:
        return f"answer must hold {rows} predictions and {rows} probabilities"
    if any(y not in (0, 1) or isinstance(y, bool) for y in preds):
        return "predictions must be 0 or 1"
    if any(
        not isinstance(q, int | float) or isinstance(q, bool) or not math.isfinite(q) or not 0 <= q <= 1
        for q in probs
    ):
        return "probabilities must be numbers in [0, 1]"
    if version is not None and str(p.get("model_version")) != str(version):
        return f"answered by model version {p.get('model_version')!r}, expected {version!r}"
    return None


@dataclass
class SmokeResult:
    ok: bool
    requests: int
    reasons: list[str] = field(default_factory=list)


def smoke_test(
    client: ScoringClient, deployment: str, data: LabelledRows, smoke: dict[str, Any], version: str
) -> SmokeResult:
    """Send the latest ``smoke.rows`` rows straight to ``deployment``; every answer must be valid."""
    bodies = data.batches(int(smoke["batch_rows"]), int(smoke["rows"]))
    limit = float(smoke["max_latency_ms"])
    for n, body in enumerate(bodies, start=1):
        rows = len(json.loads(body)["labels"])
        answer = client.post(body, deployment=deployment)
        problem = answer_problem(answer, rows, version)
        if problem is None and answer.latency_ms > limit:
            problem = f"took {answer.latency_ms:.0f} ms (limit {limit:.0f} ms)"
        if problem:
            return SmokeResult(False, n, [f"smoke request {n}/{len(bodies)}: {problem}"])
    return SmokeResult(True, len(bodies))


@dataclass
class ReplayStats:
    """Client-side view of one replay window, per answering deployment."""

    sent: int = 0
    by_deployment: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, answer: Answer, labels: list[int]) -> None:
        d = self.by_deployment.setdefault(
            answer.deployment or "?", {"requests": 0, "errors": 0, "invalid": 0, "y": [], "p": []}
        )
        d["requests"] += 1
        if answer.status == 0 or answer.status >= 500:
            d["errors"] += 1
        elif answer.status == 200 and answer_problem(answer, len(labels), None):
            d["invalid"] += 1
        elif answer.status == 200 and isinstance(answer.payload, dict):
            probs = answer.payload.get("probabilities")
            if isinstance(probs, list) and len(probs) == len(labels):
                d["y"].extend(labels)
                d["p"].extend(probs)


def replay(
    client: ScoringClient,
    data: LabelledRows,
    traffic: dict[str, Any],
    duration_s: float,
    stop: threading.Event | None = None,
) -> ReplayStats:
    """Replay labelled batches through the endpoint for ``duration_s`` at ``traffic.rate_rps``
    (or until ``stop`` is set)."""
    bodies = data.batches(int(traffic["batch_rows"]))
    labels = [json.loads(b)["labels"] for b in bodies]
    counter = itertools.count()
    stats = ReplayStats()
    lock = threading.Lock()
    workers = int(traffic["concurrency"])
    interval = workers / float(traffic["rate_rps"])
    deadline = time.monotonic() + duration_s
    stop = stop or threading.Event()

    def work(offset: int) -> None:
        next_at = time.monotonic() + offset * interval / workers
        while not stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                return
            if next_at > now:
                stop.wait(min(next_at - now, deadline - now))
                continue
            next_at += interval
            i = next(counter) % len(bodies)
            answer = client.post(bodies[i])
            with lock:
                stats.sent += 1
                stats.add(answer, labels[i])

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return stats
