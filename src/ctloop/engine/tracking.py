"""The engine's only MLflow code: one parent run per pipeline run, one nested child run per step.

``make_tracker(False, ...)`` returns a tracker that does nothing, so toy pipelines and tests need no
MLflow. Steps find their run through the environment (``MLFLOW_RUN_ID`` and friends).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctloop import paths

STATUS = {"completed": "FINISHED", "cached": "FINISHED", "failed": "FAILED", "timeout": "FAILED"}


class NullTracker:
    """No MLflow: steps still get ``MLFLOW_TRACKING_URI`` so anything they log stays in the state dir."""

    enabled = False

    def start_pipeline(
        self, run_id: str, name: str, experiment: str, pipeline_file: str
    ) -> dict[str, Any] | None:
        return None

    def base_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": paths.tracking_uri(), "MLFLOW_DISABLE_TELEMETRY": "true"}

    def start_step(self, step: str, tags: dict[str, str]) -> dict[str, str]:
        """Environment variables for the step (its MLflow run, when tracking)."""
        return self.base_env()

    def end_step(self, step: str, status: str) -> dict[str, float]:
        """Close the step's run with ``status``; return the metrics the step logged."""
        return {}

    def end_pipeline(self, status: str) -> None:
        return None


def schema_cache_dir() -> Path:
    """Per-user cache of empty MLflow stores (``$XDG_CACHE_HOME/ctloop``, else ``~/.cache/ctloop``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctloop"


def seed_sqlite_store(db: Path) -> bool:
    """Give a new SQLite store MLflow's schema by copying an empty store made once per MLflow version.

    Creating the schema runs every alembic migration (seconds); a copy takes milliseconds. Returns
    whether ``db`` was seeded (False when it already existed or the cache cannot be written).
    """
    if db.exists():
        return False
    from importlib.metadata import version

    try:
        cache = schema_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        template = cache / f"mlflow-{version('mlflow-skinny')}-empty.db"
        with (cache / ".mlflow-template.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not template.exists():
                from mlflow.tracking import MlflowClient

                partial = template.with_suffix(".partial")
                partial.unlink(missing_ok=True)
                uri = f"sqlite:///{partial}"
                MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
                MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
                os.replace(partial, template)
        db.parent.mkdir(parents=True, exist_ok=True)
        tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
        shutil.copyfile(template, tmp)
        try:
            os.link(tmp, db)  # never replaces a store another process created meanwhile
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return True
    except OSError:
        return False


class MlflowTracker(NullTracker):
    """Tracking in the local SQLite store (``ctloop.paths.tracking_uri()``)."""

    enabled = True

    def __init__(self) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow.tracking import MlflowClient

        for noisy in ("mlflow", "alembic"):  # store migrations log at INFO on first use
            logging.getLogger(noisy).setLevel(logging.WARNING)

        self.uri = paths.tracking_uri()
        if self.uri.startswith("sqlite:///"):
            paths.registry_dir().mkdir(parents=True, exist_ok=True)
            seed_sqlite_store(Path(self.uri.removeprefix("sqlite:///")))
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        self.experiment_id = ""
        self.parent_id = ""
        self.run_id = ""
        self.children: dict[str, str] = {}
        self._lock = threading.Lock()

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        folder = re.sub(r"[^\w.-]+", "_", name)
        location = (paths.registry_dir() / "artifacts" / folder).as_uri()
        try:
            return str(self.client.create_experiment(name, artifact_location=location))
        except Exception:  # created meanwhile by another process
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    def start_pipeline(self, run_id: str, name: str, experiment: str, pipeline_file: str) -> dict[str, Any]:
        self.run_id = run_id
        self.experiment_id = self._experiment(experiment)
        tags = {"ctloop.run_id": run_id, "ctloop.pipeline": pipeline_file}
        parent = self.client.create_run(self.experiment_id, run_name=f"{name} {run_id}", tags=tags)
        self.parent_id = parent.info.run_id
        return {
            "tracking_uri": self.uri,
            "experiment_id": self.experiment_id,
            "parent_run_id": self.parent_id,
        }

    def start_step(self, step: str, tags: dict[str, str]) -> dict[str, str]:
        all_tags = {
            "mlflow.parentRunId": self.parent_id,
            "ctloop.run_id": self.run_id,
            "ctloop.step": step,
            **tags,
        }
        with self._lock:
            child = self.client.create_run(self.experiment_id, run_name=step, tags=all_tags)
            self.children[step] = child.info.run_id
        return {
            **self.base_env(),
            "MLFLOW_EXPERIMENT_ID": self.experiment_id,
            "MLFLOW_RUN_ID": child.info.run_id,
        }

    def end_step(self, step: str, status: str) -> dict[str, float]:
        run_id = self.children.get(step)
        if run_id is None:
            return {}
        with self._lock:
            self.client.set_terminated(run_id, STATUS.get(status, "KILLED"))
            return dict(self.client.get_run(run_id).data.metrics)

    def end_pipeline(self, status: str) -> None:
        if self.parent_id:
            with self._lock:
                self.client.set_terminated(self.parent_id, STATUS.get(status, "KILLED"))


class TrackingError(RuntimeError):
    """The MLflow store cannot be used (the message says which and suggests --no-mlflow)."""


class LazyTracker(NullTracker):
    """Starts MLflow (slow to import and open) only when a step actually runs.

    A run whose steps are all reused from the cache creates no MLflow runs: each reused step
    points at the MLflow run that logged its metrics in the first place.
    """

    enabled = True

    def __init__(
        self,
        run_id: str,
        name: str,
        experiment: str,
        pipeline_file: str,
        on_start: Callable[[dict[str, Any]], None],
    ) -> None:
        self._args = (run_id, name, experiment, pipeline_file)
        self._on_start = on_start
        self._tracker: MlflowTracker | None = None
        self._lock = threading.Lock()

    def _started(self) -> MlflowTracker:
        with self._lock:
            if self._tracker is None:
                try:
                    tracker = MlflowTracker()
                    ids = tracker.start_pipeline(*self._args)
                except Exception as exc:  # the store can fail in many ways (locked, bad URI, old schema)
                    raise TrackingError(
                        f"MLflow tracking store {paths.tracking_uri()} cannot be used "
                        f"({exc.__class__.__name__}: {exc}); fix MLFLOW_TRACKING_URI or run with --no-mlflow"
                    ) from exc
                self._tracker = tracker
                self._on_start(ids)
            return self._tracker

    def start_step(self, step: str, tags: dict[str, str]) -> dict[str, str]:
        return self._started().start_step(step, tags)

    def end_step(self, step: str, status: str) -> dict[str, float]:
        return self._tracker.end_step(step, status) if self._tracker else {}

    def end_pipeline(self, status: str) -> None:
        if self._tracker:
            self._tracker.end_pipeline(status)


def make_tracker(
    enabled: bool,
    run_id: str,
    name: str,
    experiment: str,
    pipeline_file: str,
    on_start: Callable[[dict[str, Any]], None],
) -> NullTracker:
    """A tracker that starts MLflow when first needed, or one that does nothing."""
    if not enabled:
        return NullTracker()
    return LazyTracker(run_id, name, experiment, pipeline_file, on_start)
