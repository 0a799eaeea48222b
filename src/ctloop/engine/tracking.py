"""The engine's only MLflow code: one parent run per pipeline run, one nested child run per step.

``make_tracker(False, ...)`` returns a tracker that does nothing, so toy pipelines and tests need no
MLflow. Steps find their run through the environment (``MLFLOW_RUN_ID`` and friends).

MLflow lives in a child process (:class:`TrackingWorker`, ``python -m ctloop.engine.tracking``):
importing it takes seconds, and started while azure-ai-ml validates a new spec, the two imports
run side by side on two cores instead of one after the other. The worker opens the store only
when the first step runs, so a spec that fails its checks changes nothing. A process that has
imported MLflow already (a test session, a notebook) tracks in-process: a worker would only pay
the import again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

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


#: The tracker calls a worker answers (MlflowTracker's methods).
WORKER_OPS = frozenset({"start_pipeline", "start_step", "end_step", "end_pipeline"})


class TrackingWorker:
    """An :class:`MlflowTracker` in a child process, driven by one JSON line per call."""

    def __init__(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "ctloop.engine.tracking"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
        )
        self._lock = threading.Lock()
        self.used = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _exited(self) -> str:
        code = self._proc.wait()
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return f"the MLflow worker exited with code {code}" + (f": {lines[-1]}" if lines else "")

    def call(self, op: str, *args: Any) -> Any:
        """``MlflowTracker.<op>(*args)`` in the worker; RuntimeError with its reason on failure."""
        with self._lock:
            self.used = True
            stdin, stdout = self._proc.stdin, self._proc.stdout
            assert stdin is not None and stdout is not None
            try:
                stdin.write(json.dumps({"op": op, "args": list(args)}) + "\n")
                stdin.flush()
                line = stdout.readline()
            except OSError:
                line = ""
            if not line:
                raise RuntimeError(self._exited())
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def close(self) -> None:
        """End the worker (idempotent): a used one finishes its writes and exits; an unused one is stopped."""
        if self._proc.poll() is None:
            if not self.used:
                self._proc.terminate()  # still importing MLflow for a run that needs none
            with contextlib.suppress(OSError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._stderr):
            if stream is not None:
                stream.close()


def mlflow_loaded() -> bool:
    """Whether this process has imported MLflow already (then a worker gains nothing)."""
    return "mlflow.tracking" in sys.modules


class Warmup:
    """Starts a :class:`TrackingWorker` early (``start``) so MLflow imports while the spec loads."""

    def __init__(self) -> None:
        self.worker: TrackingWorker | None = None

    def start(self) -> None:
        if self.worker is None and not mlflow_loaded():
            self.worker = TrackingWorker()

    def close(self) -> None:
        """End the worker, if the run has not (a spec that failed its checks, a policy refusal)."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def serve(requests: IO[str], replies: IO[str]) -> int:
    """The worker's loop: one request line in, one reply line out, until ``requests`` ends."""
    with contextlib.suppress(Exception):  # a failure is reported on the first call, by the store
        from mlflow.tracking import MlflowClient  # noqa: F401  # the slow import, done at once
    tracker: MlflowTracker | None = None
    for line in requests:
        try:
            request = json.loads(line)
            op = request["op"]
            if op not in WORKER_OPS:
                raise ValueError(f"unknown tracker call {op!r}")
            tracker = tracker or MlflowTracker()
            reply: dict[str, Any] = {"result": getattr(tracker, op)(*request["args"])}
        except Exception as exc:  # every failure goes back to the engine, which names the store
            reply = {"error": f"{exc.__class__.__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


class RemoteTracker(NullTracker):
    """The engine's side of a :class:`TrackingWorker`."""

    enabled = True

    def __init__(self, worker: TrackingWorker) -> None:
        self.worker = worker

    def start_pipeline(self, run_id: str, name: str, experiment: str, pipeline_file: str) -> dict[str, Any]:
        ids: dict[str, Any] = self.worker.call("start_pipeline", run_id, name, experiment, pipeline_file)
        return ids

    def start_step(self, step: str, tags: dict[str, str]) -> dict[str, str]:
        env: dict[str, str] = self.worker.call("start_step", step, tags)
        return env

    def end_step(self, step: str, status: str) -> dict[str, float]:
        metrics: dict[str, float] = self.worker.call("end_step", step, status)
        return metrics

    def end_pipeline(self, status: str) -> None:
        self.worker.call("end_pipeline", status)


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
        worker: TrackingWorker | None = None,
    ) -> None:
        self._args = (run_id, name, experiment, pipeline_file)
        self._on_start = on_start
        self._tracker: MlflowTracker | RemoteTracker | None = None
        self._worker = worker
        self._lock = threading.Lock()

    def _started(self) -> MlflowTracker | RemoteTracker:
        with self._lock:
            if self._tracker is None:
                try:
                    tracker: MlflowTracker | RemoteTracker
                    if self._worker is None and mlflow_loaded():
                        tracker = MlflowTracker()
                    else:
                        self._worker = self._worker or TrackingWorker()
                        tracker = RemoteTracker(self._worker)
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
        try:
            if self._tracker:
                self._tracker.end_pipeline(status)
        finally:
            if self._worker is not None:
                self._worker.close()


def make_tracker(
    enabled: bool,
    run_id: str,
    name: str,
    experiment: str,
    pipeline_file: str,
    on_start: Callable[[dict[str, Any]], None],
    worker: TrackingWorker | None = None,
) -> NullTracker:
    """A tracker that starts MLflow when first needed (in ``worker`` if one was started), or none."""
    if not enabled:
        if worker is not None:
            worker.close()
        return NullTracker()
    return LazyTracker(run_id, name, experiment, pipeline_file, on_start, worker)


def _main() -> int:
    """Worker entry point: replies go to the original stdout; anything MLflow prints goes to stderr.

    Ctrl-C reaches the whole process group: the worker ignores it, so the interrupted engine can
    still end its MLflow runs (``KILLED``) before closing the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return serve(sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(_main())
