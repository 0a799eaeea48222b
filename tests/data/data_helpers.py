"""Helpers for the data-side tests (importable from test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
BATCH_FIXTURES = REPO / "tests" / "fixtures" / "batches"


def step_env(home: Path, tracking_uri: str | None = None) -> dict[str, str]:
    """The environment for a step subprocess: no inherited MLflow/ctloop state, home under tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "CTLOOP_"))}
    env["CTLOOP_HOME"] = str(home)
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    return env


def write_reference(frame: pd.DataFrame, path: Path) -> Path:
    """A drift reference file, as a model folder's ctloop/reference.parquet holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
