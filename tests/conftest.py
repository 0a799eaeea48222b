"""Suite-wide settings: no telemetry, no writes into the repository, quiet SDK warnings."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("AZUREML_LOG_LEVEL", "ERROR")
warnings.filterwarnings("ignore", category=DeprecationWarning)


@pytest.fixture
def repo_root() -> Path:
    """The repository root (specs and policies are read from here, never written)."""
    return REPO


@pytest.fixture
def ctloop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated CTLOOP_HOME and MLflow store under tmp_path."""
    home = tmp_path / "ctloop-home"
    home.mkdir()
    monkeypatch.setenv("CTLOOP_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'registry' / 'mlflow.db'}")
    (home / "registry").mkdir()
    return home
