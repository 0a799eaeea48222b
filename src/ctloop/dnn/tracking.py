"""MLflow logging for the DNN trainer: rank 0 only, and only inside a tracked step run.

The local engine and Azure ML both set ``MLFLOW_RUN_ID`` for a step; ``mlflow.start_run()`` then
resumes that run (also after a preempted job restarts). Without it (a standalone run) nothing is
logged, so no ``mlruns/`` folder appears in the working directory.
"""

from __future__ import annotations

import json
import os
from types import TracebackType
from typing import Any

RUN_ENV = "MLFLOW_RUN_ID"


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list | tuple) else str(value)


class Tracker:
    """Context manager: ``log_epoch`` / ``log_result`` are no-ops unless enabled."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and bool(os.environ.get(RUN_ENV))
        self._mlflow: Any = None

    def __enter__(self) -> Tracker:
        if self.enabled:
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            import mlflow

            self._mlflow = mlflow
            if mlflow.active_run() is None:
                mlflow.start_run()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._mlflow is not None:
            self._mlflow.end_run(status="FINISHED" if kind is None else "FAILED")

    def log_params(self, params: dict[str, Any]) -> None:
        if self._mlflow is not None:
            flat: dict[str, str] = {}
            _flatten("", params, flat)
            self._mlflow.log_params(flat)

    def log_epoch(self, record: dict[str, Any]) -> None:
        """Per-epoch metrics, stepped by the epoch number."""
        if self._mlflow is not None:
            metrics = {k: float(v) for k, v in record.items() if k not in ("epoch", "step")}
            self._mlflow.log_metrics(metrics, step=int(record["epoch"]))

    def log_tags(self, tags: dict[str, Any]) -> None:
        if self._mlflow is not None:
            self._mlflow.set_tags({k: str(v) for k, v in tags.items()})
