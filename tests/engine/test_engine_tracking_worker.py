"""MLflow in its own process: the engine's runs land in the real store; failures are clear; no leftovers."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import psutil
import pytest
from mlflow.tracking import MlflowClient

from ctloop import paths
from ctloop.engine import tracking
from ctloop.engine.tracking import TrackingError, TrackingWorker, Warmup, make_tracker

BROKEN = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "broken"


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_worker_records_parent_and_child_runs_in_the_store(ctloop_home):
    started: list[dict[str, str]] = []
    worker = TrackingWorker()
    tracker = make_tracker(True, "run-1", "pipe", "exp-worker", "pipe.yml", started.append, worker)
    env = tracker.start_step("train", {"ctloop.cache": "miss"})
    assert env["MLFLOW_TRACKING_URI"] == paths.tracking_uri()
    client = MlflowClient(paths.tracking_uri())
    client.log_metric(env["MLFLOW_RUN_ID"], "auc", 0.5)  # what a step logs
    os.kill(worker.pid, signal.SIGINT)  # Ctrl-C reaches the process group: the engine still ends its runs
    assert tracker.end_step("train", "completed") == {"auc": 0.5}
    tracker.end_pipeline("completed")
    assert _gone(worker.pid)
    (ids,) = started
    child, parent = client.get_run(env["MLFLOW_RUN_ID"]), client.get_run(ids["parent_run_id"])
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.tags["ctloop.cache"] == "miss"
    assert (child.info.status, parent.info.status) == ("FINISHED", "FINISHED")
    assert client.get_experiment(ids["experiment_id"]).name == "exp-worker"


@pytest.mark.parametrize("in_worker", [True, False], ids=["worker", "in-process"])
def test_an_unusable_store_is_named_with_the_way_out(ctloop_home, tmp_path, monkeypatch, in_worker):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'mlflow.db'}")
    worker = TrackingWorker() if in_worker else None
    tracker = make_tracker(True, "run-2", "pipe", "exp", "pipe.yml", lambda ids: None, worker)
    with pytest.raises(TrackingError) as err:
        tracker.start_step("train", {})
    assert str(blocker / "mlflow.db") in str(err.value) and "--no-mlflow" in str(err.value)
    tracker.end_pipeline("failed")
    assert worker is None or _gone(worker.pid)


def test_a_process_that_imported_mlflow_starts_no_worker(ctloop_home):
    warmup = Warmup()
    warmup.start()  # this test session has imported MLflow (see the imports above)
    assert warmup.worker is None


def test_an_unused_warm_worker_is_stopped_without_touching_the_store(ctloop_home, monkeypatch):
    monkeypatch.setattr(tracking, "mlflow_loaded", lambda: False)  # as in a fresh `ctloop run`
    warmup = Warmup()
    warmup.start()
    assert warmup.worker is not None
    pid = warmup.worker.pid
    warmup.close()
    warmup.close()  # idempotent
    assert _gone(pid)
    assert not (ctloop_home / "registry" / "mlflow.db").exists()


def test_a_new_spec_that_fails_validation_leaves_no_store_and_no_worker(toy, cli, monkeypatch):
    spec = toy.root / "pipelines" / "unknown_field.yml"
    shutil.copy(BROKEN / "unknown_field.yml", spec)
    monkeypatch.setattr(tracking, "mlflow_loaded", lambda: False)
    started: list[int] = []
    real_start = Warmup.start

    def start(self: Warmup) -> None:
        real_start(self)
        started.append(self.worker.pid if self.worker else 0)

    monkeypatch.setattr(Warmup, "start", start)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = cli("run", spec)
    assert result.code == 2 and "unknown field" in result.err
    (pid,) = set(started)  # started once (a first run here, a new spec), then stopped
    assert pid and _gone(pid)
    assert not (toy.home / "registry" / "mlflow.db").exists()
    assert {p.pid for p in psutil.Process().children(recursive=True)} - before == set()
