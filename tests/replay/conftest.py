"""Replay tests train models in this process: one BLAS/OpenMP thread, so that parallel test workers
on a small machine do not oversubscribe its cores (gradient boosting slows down many times over)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    import sklearn.ensemble  # noqa: F401  (threadpoolctl reaches only runtimes already loaded)

    with threadpool_limits(1):
        yield


@pytest.fixture
def loop_home(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """(CTLOOP_HOME, an empty landing folder) for a ``ctloop loop`` test; MLflow under the home."""
    home = tmp_path / "home"
    monkeypatch.setenv("CTLOOP_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    landing = tmp_path / "landing"  # empty: the pipeline ingests the bundled rainfall data
    landing.mkdir()
    return home, landing
