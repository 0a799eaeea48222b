"""train -> evaluate -> register as real subprocesses on real rainfall rows, the way the engine runs them.

The test plays the engine's part for MLflow: one parent run for the pipeline and one nested run
per step (``MLFLOW_RUN_ID``), so lineage (the pipeline run id) and step metrics are checked too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctloop.registry import open_registry

MODEL_NAME = "rainfall-classifier"


class Pipeline:
    """Runs steps as ``python -m ctloop.steps.<step>`` with the environment the local engine sets."""

    def __init__(self, home: Path, work: Path) -> None:
        from mlflow.tracking import MlflowClient

        self.home, self.work = home, work
        self.uri = os.environ["MLFLOW_TRACKING_URI"]
        self.client = MlflowClient(self.uri)
        self.experiment = self.client.create_experiment(
            "ctloop-training", artifact_location=(work / "mlartifacts").as_uri()
        )
        self.parent = self.client.create_run(self.experiment, run_name="pipeline").info.run_id
        self.step_runs: dict[str, str] = {}

    def run(self, step: str, *args: str | Path, name: str | None = None) -> subprocess.CompletedProcess[str]:
        run_id = self.client.create_run(
            self.experiment, run_name=name or step, tags={"mlflow.parentRunId": self.parent}
        ).info.run_id
        self.step_runs[name or step] = run_id
        env = {
            **os.environ,
            "CTLOOP_HOME": str(self.home),
            "MLFLOW_TRACKING_URI": self.uri,
            "MLFLOW_EXPERIMENT_ID": self.experiment,
            "MLFLOW_RUN_ID": run_id,
            "CTLOOP_RUN_ID": "run-under-test",
            "CTLOOP_STEP": step,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "OMP_NUM_THREADS": "1",
        }
        cmd = [sys.executable, "-m", f"ctloop.steps.{step}", *map(str, args)]
        done = subprocess.run(cmd, cwd=self.work, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{step} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def evaluate(
        self, model: Path, evaluation: Path, policies: Path, decision: Path, name: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The evaluate step of ``model`` against the champion of ``MODEL_NAME``."""
        return self.run(
            "evaluate",
            *("--model", model, "--eval", evaluation, "--policies", policies),
            *("--model_name", MODEL_NAME, "--decision", decision),
            name=name,
        )

    def register(
        self, model: Path, decision: Path, data: Path, registration: Path, name: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The register step of ``model`` under ``MODEL_NAME`` with the evaluate step's ``decision``."""
        return self.run(
            "register",
            *("--model", model, "--decision", decision, "--data", data),
            *("--model_name", MODEL_NAME, "--registration", registration),
            name=name,
        )


@pytest.fixture
def pipeline(model_home: Path, tmp_path: Path) -> Pipeline:
    return Pipeline(model_home, tmp_path)


def test_challenger_is_promoted_then_a_weaker_one_is_registered_but_not_promoted(
    pipeline: Pipeline, datasets_dir: Path, repo_root: Path, tmp_path: Path
) -> None:
    data, train, evaluation = datasets_dir / "data", datasets_dir / "train", datasets_dir / "eval"
    policies = repo_root / "policies"

    # --- first run: no champion yet, the floor alone decides --------------------------------
    pipeline.run(
        "train",
        "--train",
        train,
        "--trainer",
        "hgb",
        "--model",
        tmp_path / "a",
        "--reference_rows",
        500,
        "--seed",
        0,
    )
    info = json.loads((tmp_path / "a" / "ctloop" / "training.json").read_text())
    assert info["trainer"] == "hgb" and info["rows"] == 2000 and info["reference_rows"] == 500
    assert info["training_window"] == json.loads((train / "manifest.json").read_text())["time_range"]
    assert (tmp_path / "a" / "ctloop" / "reference.parquet").is_file()

    pipeline.evaluate(tmp_path / "a", evaluation, policies, tmp_path / "da")
    first = json.loads((tmp_path / "da" / "decision.json").read_text())
    assert first["promote"] is True and first["champion_version"] is None
    assert first["gate"]["challenger"] >= first["gate"]["floor"]
    assert "floor alone decides" in json.dumps(first["gate"]["checks"])
    assert json.loads((tmp_path / "da" / "metrics.json").read_text())["promote"] == 1.0

    pipeline.register(tmp_path / "a", tmp_path / "da", data, tmp_path / "ra")
    registered = json.loads((tmp_path / "ra" / "registration.json").read_text())
    assert registered["outcome"] == "promoted" and registered["version"] == "1"
    assert registered["champion_before"] is None and registered["champion_after"] == "1"

    # --- second run: an RF challenger that is not better than the champion ------------------
    pipeline.run(
        "train",
        "--train",
        train,
        "--trainer",
        "rf",
        "--model",
        tmp_path / "b",
        "--reference_rows",
        500,
        "--n_estimators",
        40,
        "--seed",
        0,
        name="train-2",
    )
    pipeline.evaluate(tmp_path / "b", evaluation, policies, tmp_path / "db", name="evaluate-2")
    second = json.loads((tmp_path / "db" / "decision.json").read_text())
    assert second["champion_version"] == "1"
    assert second["promote"] is False
    gate = second["gate"]
    assert gate["champion"] == pytest.approx(first["gate"]["challenger"])  # same model, same slice
    assert gate["bootstrap"]["resamples"] == 1000 and gate["bootstrap"]["ci_low"] <= 0
    assert {c["name"] for c in gate["checks"] if not c["passed"]} >= {"ci_excludes_zero"}

    pipeline.register(tmp_path / "b", tmp_path / "db", data, tmp_path / "rb", name="register-2")
    again = json.loads((tmp_path / "rb" / "registration.json").read_text())
    assert again["outcome"] == "not_promoted" and again["version"] == "2"
    assert again["champion_before"] == "1" and again["champion_after"] == "1"

    # --- the registry holds both, with lineage; the champion did not move ---------------------
    registry = open_registry(MODEL_NAME)
    assert [(v.version, v.status) for v in registry.list_versions()] == [
        ("1", "promoted"),
        ("2", "not_promoted"),
    ]
    assert registry.champion().version == "1"
    v1 = registry.get("1")
    manifest = json.loads((data / "manifest.json").read_text())
    assert v1.tags["ctloop.data.content_hash"] == manifest["content_hash"]
    assert v1.tags["ctloop.data.time_range"] == "/".join(manifest["time_range"])
    assert v1.tags["ctloop.pipeline_run_id"] == pipeline.parent
    assert len(v1.tags["ctloop.code_hash"]) == 64
    assert v1.tags["ctloop.gate.promote"] == "true"
    assert registry.get("2").tags["ctloop.gate.compared_with"] == "1"

    # --- each step logged into its own MLflow run --------------------------------------------
    logged = pipeline.client.get_run(pipeline.step_runs["evaluate-2"]).data
    assert logged.metrics["challenger_roc_auc"] == pytest.approx(gate["challenger"])
    assert logged.metrics["ci_low"] == pytest.approx(gate["bootstrap"]["ci_low"])
    assert "train_roc_auc" in pipeline.client.get_run(pipeline.step_runs["train"]).data.metrics
