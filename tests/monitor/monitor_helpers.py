"""Build collector logs, labels and a reference for monitor tests (times chosen by the test)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ctloop.monitor.logs import INPUTS, OUTPUTS, collector_event, write_events
from ctloop.monitor.window import Reference

FEATURES = ["a", "b"]


def request(
    rid: str,
    when: str,
    probabilities: Sequence[float],
    *,
    version: str = "1",
    status: int = 200,
    latency_ms: float = 10.0,
    features: Sequence[dict[str, float]] | None = None,
) -> list[dict]:
    """The two collector events of one request (inputs and, when it succeeded, outputs)."""
    at = pd.Timestamp(when, tz="UTC")
    rows = (
        list(features)
        if features is not None
        else [{"a": float(p), "b": 1.0 - float(p)} for p in probabilities]
    )
    common = dict(model_version=version, status=status, latency_ms=latency_ms, source="test")
    if status >= 400:
        return [collector_event(INPUTS, at, rid, [], **common)]
    outputs = [{"prediction": int(p >= 0.5), "probability": float(p)} for p in probabilities]
    return [
        collector_event(INPUTS, at, rid, rows, **common),
        collector_event(OUTPUTS, at, rid, outputs, **common),
    ]


def write_requests(log_dir: Path, *requests: list[dict]) -> None:
    write_events(log_dir, [event for r in requests for event in r])


def labels_frame(rows: Sequence[tuple[str, int, int, str]]) -> pd.DataFrame:
    """(request_id, row, label, time) tuples as a labels frame."""
    return pd.DataFrame(rows, columns=["request_id", "row", "label", "time"])


def reference(version: str = "1", rows: int = 400, seed: int = 0) -> Reference:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.uniform(0, 1, rows), "b": rng.uniform(0, 1, rows)})
    return Reference(version=version, frame=frame, scores=frame["a"].to_numpy(), features=list(FEATURES))
