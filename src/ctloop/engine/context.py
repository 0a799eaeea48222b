"""What every step of one run shares: the spec, options, record, events, cache and trackers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ctloop.engine.cache import StepCache
from ctloop.engine.hashing import tree_hash
from ctloop.engine.process import ProcessPool
from ctloop.engine.records import EventLog, RunRecord
from ctloop.engine.spec import PipelineSpec
from ctloop.engine.tracking import NullTracker, TrackingWorker


@dataclass
class RunOptions:
    """How to run: ``force`` ignores the cache, ``max_parallel`` bounds concurrent steps.

    ``tracking_worker`` is an MLflow worker started earlier (while the spec loaded); the run
    uses it for its MLflow runs and closes it.
    """

    force: bool = False
    max_parallel: int = 2
    tracking: bool = True
    echo: Callable[[str], None] = print
    tracking_worker: TrackingWorker | None = None
    environments: str = "current"  # or "build": conda_file environments built with uv (environments.py)


@dataclass
class RunContext:
    spec: PipelineSpec
    options: RunOptions
    run_id: str
    run_dir: Path
    record: RunRecord
    events: EventLog
    tracker: NullTracker
    cache: StepCache
    assets_root: Path
    state_dir: Path
    procs: ProcessPool = field(default_factory=ProcessPool)
    _hashes: dict[Path, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def content_hash(self, path: Path) -> str:
        """Hash of a file or folder that does not change during the run (inputs, code), computed once."""
        with self._lock:
            if path in self._hashes:
                return self._hashes[path]
        value = tree_hash(path)
        with self._lock:
            self._hashes[path] = value
        return value

    def log_path(self, step: str) -> Path:
        return self.run_dir / "logs" / f"{step}.log"

    def output_dir(self, step: str, port: str) -> Path:
        return self.run_dir / "outputs" / step / port

    def work_dir(self, step: str) -> Path:
        return self.run_dir / "work" / step
