"""Where ctloop keeps local state: ``.ctloop/`` under the working directory (override: $CTLOOP_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "CTLOOP_HOME"


def state_dir() -> Path:
    """Root of local state (runs, assets, registry, endpoint)."""
    return Path(os.environ.get(HOME_ENV, ".ctloop")).absolute()


def runs_dir() -> Path:
    return state_dir() / "runs"


def assets_dir() -> Path:
    return state_dir() / "assets"


def registry_dir() -> Path:
    return state_dir() / "registry"


def tracking_uri() -> str:
    """MLflow tracking/registry URI for the local path (SQLite under the state dir)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{registry_dir() / 'mlflow.db'}"
