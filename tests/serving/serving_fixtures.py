"""Fixtures shared by tests/serving and tests/rollout: model folders and eval data, process checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serving_helpers import build_models, kill_all, processes_under
from threadpoolctl import threadpool_limits

from ctloop.rollout.jsonfile import locked

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread() -> Iterator[None]:
    """One OpenMP thread in the test process (HGB on a shared 2-core machine)."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def shared_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Model folders and eval data under the session's base temp dir (built once, shared by areas;
    ``$CTLOOP_TEST_MODEL_CACHE`` names a folder outside the repository to reuse them across runs)."""
    cache = os.environ.get("CTLOOP_TEST_MODEL_CACHE")
    base = Path(cache) if cache else tmp_path_factory.getbasetemp()
    base.mkdir(parents=True, exist_ok=True)
    root = base / "ctloop-serving-models"
    with locked(base / "ctloop-serving-models.lock", timeout_s=600):
        done = root / "done"
        if not done.exists():
            root.mkdir(exist_ok=True)
            build_models(root)
            done.write_text("ok")
    from ctloop.tabular import read_dataset

    rows, _ = read_dataset(root / "eval")
    return {"models": {"v1": root / "model-v1", "v2": root / "model-v2"}, "eval": root / "eval", "rows": rows}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shared_models(tmp_path_factory)


@pytest.fixture(scope="module")
def no_leaks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A module temp dir; on teardown no process started under it may be left running."""
    root = tmp_path_factory.mktemp("endpoint")
    yield root
    leaked = processes_under(root)
    kill_all(leaked)
    assert not leaked, f"processes left running: {[p.info['cmdline'] for p in leaked]}"
