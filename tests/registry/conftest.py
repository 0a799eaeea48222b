"""Registry fixtures: a pre-migrated MLflow SQLite database and a small real model folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from ctloop import trainers
from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
from ctloop.registry.local import LocalRegistry

MODEL_NAME = "rainfall-classifier"  # bound by the `registry` fixture


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database, created and migrated once per session (migration is slow)."""
    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    LocalRegistry("template", tracking_uri=f"sqlite:///{db}")
    return db


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (small) HistGradientBoosting model folder trained on rainfall rows."""
    frame = load_rainfall().iloc[14_000:14_800]
    folder = tmp_path_factory.mktemp("model") / "model"
    with threadpool_limits(limits=1, user_api="openmp"):
        fitted = trainers.train_hgb(
            frame[list(RAINFALL_FEATURES)], frame[RAINFALL_LABEL].to_numpy(), {"max_iter": 10}
        )
        fitted.save(folder, frame[list(RAINFALL_FEATURES)].head(3))
    return folder


@pytest.fixture
def registry_home(ctloop_home: Path, template_db: Path) -> Path:
    shutil.copy(template_db, ctloop_home / "registry" / "mlflow.db")
    return ctloop_home


@pytest.fixture
def registry(registry_home: Path) -> Iterator[LocalRegistry]:
    yield LocalRegistry(MODEL_NAME)
