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
