"""MLflow logging of the train_dnn step: rank 0 logs params and per-epoch metrics into the step's run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")


@pytest.fixture(autouse=True)
def _restore_logger():
    logger = logging.getLogger("ctloop.dnn")
    saved = logger.handlers[:], logger.propagate, logger.level
    yield
    logger.handlers[:], logger.propagate, logger.level = saved


def test_step_logs_into_the_run_it_is_given(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies, ctloop_home: Path, monkeypatch
) -> None:
    from mlflow.tracking import MlflowClient

    from ctloop.steps import train_dnn

    client = MlflowClient()
    experiment = client.create_experiment("dnn-test", artifact_location=str(tmp_path / "artifacts"))
    run = client.create_run(experiment)
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", experiment)
    train, ev = datasets
    args = ["--train", str(train), "--eval", str(ev), "--policies", str(make_policies())]
    assert train_dnn.main([*args, "--model", str(tmp_path / "model")]) == 0

    logged = client.get_run(run.info.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params["trainer"] == "dnn" and logged.data.params["model.hidden_units"] == "[16, 8]"
    assert {"train_loss", "eval_loss", "eval_roc_auc"} <= set(logged.data.metrics)
    history = client.get_metric_history(run.info.run_id, "eval_loss")
    assert sorted(m.step for m in history) == [0, 1, 2, 3]
    assert logged.data.tags["ctloop.trainer"] == "dnn" and logged.data.tags["ctloop.world_size"] == "1"
