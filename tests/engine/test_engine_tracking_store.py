"""A fresh SQLite MLflow store is seeded from an empty store made once, not migrated each time."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctloop.engine.tracking import schema_cache_dir, seed_sqlite_store


def test_a_seeded_store_is_a_working_mlflow_store_and_existing_ones_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first, second = tmp_path / "a" / "mlflow.db", tmp_path / "b" / "mlflow.db"
    assert seed_sqlite_store(first) and seed_sqlite_store(second)
    templates = list(schema_cache_dir().glob("mlflow-*-empty.db"))
    assert len(templates) == 1  # made once, copied twice
    client = MlflowClient(tracking_uri=f"sqlite:///{first}", registry_uri=f"sqlite:///{first}")
    exp = client.create_experiment("seeded", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "auc", 0.9)
    client.create_registered_model("model")
    assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.9}
    before = first.read_bytes()
    assert seed_sqlite_store(first) is False
    assert first.read_bytes() == before
    other = MlflowClient(tracking_uri=f"sqlite:///{second}")
    assert other.get_experiment_by_name("seeded") is None  # copies share nothing
