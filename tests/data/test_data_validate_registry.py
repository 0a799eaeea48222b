"""validate_data against the real local registry: no champion yet, then the champion's reference.

Slower than the other data tests (MLflow on SQLite, a step subprocess), hence its own file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from data_helpers import POLICIES, read_json, write_reference

from ctloop.steps import validate_data

MODEL = "rainfall-classifier"


def test_no_champion_then_champion_reference_with_mlflow_metrics(run_step, rainfall, tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    from ctloop.data_commands import write_landing
    from ctloop.registry import open_registry
    from ctloop.steps import ingest

    home = tmp_path / "ctloop-home"
    uri = f"sqlite:///{home / 'registry' / 'mlflow.db'}"  # the registry's default under CTLOOP_HOME
    (home / "registry").mkdir(parents=True)
    monkeypatch.setenv("CTLOOP_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)

    write_landing("rainfall", "1994-12-31", "1990-01-01", tmp_path / "landing", "year")
    assert ingest.main(["--landing", "landing", "--policies", str(POLICIES), "--data", "data"]) == 0
    args = ("--data", "data", "--policies", POLICIES, "--model_name", MODEL)

    # 1. An empty registry: drift says "no reference"; the step still passes (in-process: no MLflow logging).
    assert validate_data.main([*map(str, args), "--report", "r1"]) == 0
    drift = read_json(tmp_path / "r1" / "report.json")["drift"]
    assert drift["status"] == "no reference" and drift["reason"] == f"model '{MODEL}' has no champion yet"

    # 2. A champion whose folder carries ctloop/reference.parquet (the 1970s).
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    early = rainfall[(rainfall["date"] >= "1970-01-01") & (rainfall["date"] < "1980-01-01")]
    write_reference(early.sample(1500, random_state=1), model / "ctloop" / "reference.parquet")
    registry = open_registry(MODEL)
    version = registry.register(model, {}).version
    assert registry.set_champion(version, None)

    # The step logs into the run the engine hands it (MLFLOW_RUN_ID).
    client = MlflowClient(uri)
    experiment = client.create_experiment("data-tests", artifact_location=(tmp_path / "artifacts").as_uri())
    run_id = client.create_run(experiment).info.run_id
    env = {"MLFLOW_RUN_ID": run_id, "MLFLOW_EXPERIMENT_ID": experiment}
    done = run_step("validate_data", *args, "--report", "r2", tracking_uri=uri, env=env)
    assert done.returncode == 0, done.stderr
    drift = read_json(tmp_path / "r2" / "report.json")["drift"]
    assert drift["status"] == "computed"
    assert drift["reference"] == {"model": MODEL, "version": version, "rows": 1500}
    assert {row["feature"] for row in drift["table"]} == set(early.columns) - {"date", "rain"}
    metrics = client.get_run(run_id).data.metrics
    assert metrics["passed"] == 1.0 and metrics["rows"] == 1826.0
    assert metrics["drift_features_warned"] == drift["summary"]["features_warned"]
    assert metrics["drift_normalized_wasserstein.dew_point"] == pytest.approx(
        next(r["normalized_wasserstein"] for r in drift["table"] if r["feature"] == "dew_point")
    )
    mlflow.set_tracking_uri(None)


class FakeRegistry:
    """The registry interface load_reference relies on: champion() and download(version, dest)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def champion(self):
        from ctloop.registry import ModelVersion

        return None if self.folder is None else ModelVersion(name=MODEL, version="7", source="x")

    def download(self, version: str, dest: str | Path) -> Path:
        target = Path(dest) / "model"
        shutil.copytree(self.folder, target)
        return target


def test_load_reference_through_the_registry_interface(monkeypatch, tmp_path, rainfall):
    import ctloop.registry

    folder = tmp_path / "m"
    write_reference(rainfall.head(50), folder / "ctloop" / "reference.parquet")
    monkeypatch.setattr(ctloop.registry, "open_registry", lambda name: FakeRegistry(folder))
    frame = validate_data.load_reference(MODEL)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 50
    assert frame.attrs["reference"] == {"model": MODEL, "version": "7"}

    monkeypatch.setattr(ctloop.registry, "open_registry", lambda name: FakeRegistry(None))
    assert validate_data.load_reference(MODEL) is None

    (folder / "ctloop" / "reference.parquet").unlink()
    monkeypatch.setattr(ctloop.registry, "open_registry", lambda name: FakeRegistry(folder))
    with pytest.raises(Exception, match="champion rainfall-classifier version 7 has no drift reference"):
        validate_data.load_reference(MODEL)
