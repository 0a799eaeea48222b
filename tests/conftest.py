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


#: Modules that take the longest: scheduled first, so the two workers finish together
#: (pytest-xdist's loadscope hands out whole modules in collection order).
SLOW_FIRST = (
    "tests/e2e/",
    "tests/replay/",
    "tests/model/test_model_steps.py",
    "tests/dnn/test_distributed.py",
    "tests/dnn/test_resume.py",
    "tests/rollout/test_rollouts.py",
    "tests/serving/test_serving_http.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = Path(str(item.fspath)).relative_to(REPO).as_posix()
        return next((i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)
