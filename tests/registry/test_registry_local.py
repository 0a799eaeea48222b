"""The local registry (MLflow on SQLite): versions, tags, champion compare-and-set, downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import OperationalError

from ctloop import lineage, modeling
from ctloop.registry import IMPLEMENTATIONS, RegistryError, current_target, open_registry
from ctloop.registry import local as local_registry
from ctloop.registry.local import LocalRegistry

MODEL_NAME = "rainfall-classifier"  # the name the `registry` fixture binds


@pytest.fixture
def rainfall_rows() -> pd.DataFrame:
    from ctloop.datasets import load_rainfall

    return load_rainfall().iloc[16_000:16_100]


def test_register_list_get(registry: LocalRegistry, model_dir: Path, registry_home: Path) -> None:
    assert registry.list_versions() == []
    assert registry.champion() is None
    first = registry.register(model_dir, {"ctloop.data.content_hash": "abc"})
    second = registry.register(model_dir, {"note": "second"})
    assert (first.version, second.version) == ("1", "2")
    assert first.status == "registered" and first.tags["ctloop.data.content_hash"] == "abc"
    assert [v.version for v in registry.list_versions()] == ["1", "2"]
    assert registry.get("2").tags["note"] == "second"
    # the files were copied under the registry's own artifact root, not referenced in place
    assert str(registry_home / "registry" / "artifacts") in first.source
    assert LocalRegistry.model_names() == [MODEL_NAME]
    with pytest.raises(RegistryError, match="has no version '9'"):
        registry.get("9")


def test_champion_compare_and_set(registry: LocalRegistry, model_dir: Path) -> None:
    v1 = registry.register(model_dir, {}).version
    v2 = registry.register(model_dir, {}).version
    v3 = registry.register(model_dir, {}).version
    assert registry.set_champion(v1, expected=None) is True
    assert registry.champion().version == v1
    assert registry.get(v1).status == "promoted" and registry.get(v1).is_champion
    # a stale expectation (the caller compared against "no champion") changes nothing
    assert registry.set_champion(v2, expected=None) is False
    assert registry.champion().version == v1
    assert registry.set_champion(v3, expected=v2) is False
    assert registry.champion().version == v1
    # the right expectation moves it, and the old champion records what superseded it
    assert registry.set_champion(v2, expected=v1) is True
    assert registry.champion().version == v2
    assert registry.get(v1).tags["ctloop.superseded_by"] == v2
    assert [v.version for v in registry.list_versions() if v.is_champion] == [v2]
    with pytest.raises(RegistryError, match="has no version"):
        registry.set_champion("42", expected=v2)


def test_download_round_trip(registry: LocalRegistry, model_dir: Path, tmp_path: Path, rainfall_rows) -> None:
    version = registry.register(model_dir, {})
    local = registry.download(version.version, tmp_path / "dl")
    assert lineage.model_hash(local) == lineage.model_hash(model_dir)
    np.testing.assert_array_equal(
        modeling.load_classifier(local).predict_proba(rainfall_rows),
        modeling.load_classifier(model_dir).predict_proba(rainfall_rows),
    )


def test_status_helpers(registry: LocalRegistry, model_dir: Path) -> None:
    version = registry.register(model_dir, {}).version
    deployed = registry.record_deployed(version)
    assert deployed.status == "deployed" and "ctloop.deployed_at" in deployed.tags
    rejected = registry.mark_rejected(version, "error rate 7% > 5% during canary")
    assert rejected.status == "rejected"
    assert rejected.tags["ctloop.rejected_reason"] == "error rate 7% > 5% during canary"
    with pytest.raises(RegistryError):
        registry.set_tags("77", {"a": "b"})


def test_register_refuses_a_folder_that_is_not_a_model(registry: LocalRegistry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no MLmodel file"):
        registry.register(tmp_path, {})
    assert registry.list_versions() == []


@pytest.mark.parametrize("bad", ["", "-lead", "has space", "x" * 300, "a/b"])
def test_model_name_is_validated(registry_home: Path, bad: str) -> None:
    with pytest.raises(RegistryError, match=r"model_name: .* is not a valid model name"):
        LocalRegistry(bad)


def test_open_registry_picks_the_target(registry_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert current_target() == "local"
    assert isinstance(open_registry(MODEL_NAME), LocalRegistry)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "azureml://eastus.api.azureml.ms/mlflow/v1.0/subscriptions/x")
    assert current_target() == "azure"
    monkeypatch.setenv("CTLOOP_TARGET", "local")
    assert current_target() == "local"
    monkeypatch.setenv("CTLOOP_TARGET", "moon")
    with pytest.raises(RegistryError, match="CTLOOP_TARGET: unknown target 'moon'"):
        open_registry(MODEL_NAME)


def test_a_target_missing_from_this_build_fails_clearly(
    registry_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(IMPLEMENTATIONS, "azure", "ctloop.registry.not_in_this_build:Registry")
    with pytest.raises(RegistryError, match="the azure registry is not installed in this build"):
        open_registry(MODEL_NAME, target="azure")


def test_model_names_without_a_database_creates_nothing(ctloop_home: Path) -> None:
    assert LocalRegistry.model_names() == []
    assert not (ctloop_home / "registry" / "mlflow.db").exists()


def test_sqlite_busy_errors_are_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_registry, "_BUSY_FIRST_DELAY_S", 0.001)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            cause = OperationalError("INSERT ...", {}, Exception("database is locked"))
            raise MlflowException("(sqlite3.OperationalError) database is locked") from cause
        return "done"

    assert local_registry.retry_busy(flaky) == "done" and len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise MlflowException("no such table: model_versions")

    calls.clear()
    with pytest.raises(MlflowException, match="no such table"):
        local_registry.retry_busy(broken)
    assert len(calls) == 1


def test_sqlite_uri_paths() -> None:
    assert local_registry.sqlite_path("sqlite:////abs/dir/mlflow.db") == Path("/abs/dir/mlflow.db")
    assert local_registry.sqlite_path("sqlite:///rel/mlflow.db") == Path("rel/mlflow.db").absolute()
    assert local_registry.sqlite_path("http://localhost:5000") is None
