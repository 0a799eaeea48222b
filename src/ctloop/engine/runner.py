"""Run a checked pipeline: schedule ready steps on a bounded thread pool, record every transition."""

from __future__ import annotations

import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctloop import paths
from ctloop.engine.cache import StepCache
from ctloop.engine.command import python_shim
from ctloop.engine.context import RunContext, RunOptions
from ctloop.engine.records import EVENTS_FILE, EventLog, RunRecord, new_run_id, now
from ctloop.engine.spec import PipelineSpec
from ctloop.engine.spec.problems import display_path
from ctloop.engine.step import StepResult, execute
from ctloop.engine.sweep import execute_sweep
from ctloop.engine.tracking import make_tracker

__all__ = ["RunOptions", "RunSummary", "run_pipeline"]

OK_STATES = frozenset({"completed", "cached"})
BAD_STATES = frozenset({"failed", "killed", "timeout", "skipped", "interrupted"})


@dataclass
class RunSummary:
    """The outcome of one run, as the command line reports it."""

    run_id: str
    status: str  # completed | failed | interrupted
    run_dir: Path
    duration_s: float
    results: dict[str, StepResult] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "failed": 1}.get(self.status, 130)


def _tick() -> str:
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower()
    return "✓" if "utf" in encoding else "ok"


def _pipeline_inputs(spec: PipelineSpec) -> dict[str, Any]:
    return {k: (str(v.value) if v.is_path else v.value) for k, v in spec.inputs.items()}


class _Scheduler:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.spec = ctx.spec
        self.state: dict[str, str] = dict.fromkeys(self.spec.order, "pending")
        self.results: dict[str, StepResult] = {}
        self.finished = 0
        self.stopped_by: str | None = None

    def _progress(self, name: str, text: str) -> None:
        self.finished += 1
        self.ctx.options.echo(f"[{self.finished}/{len(self.state)}] {name} {text}")

    def _skip(self, name: str, reason: str) -> None:
        self.state[name] = "skipped"
        self.ctx.record.step(name, status="skipped", reason=reason, finished=now())
        self.ctx.events.emit("step skipped", step=name, level="warning", reason=reason)
        self._progress(name, f"skipped ({reason})")

    def _done(self, name: str, result: StepResult) -> None:
        self.state[name] = result.status
        self.results[name] = result
        if result.status == "cached":
            self._progress(name, f"cached (from run {result.reused_from})")
        elif result.status == "completed":
            self._progress(name, f"{_tick()} {result.duration_s:.1f}s")
        else:
            label = "FAILED" if result.status == "failed" else result.status.upper()
            self._progress(name, f"{label} {result.duration_s:.1f}s ({result.reason})")
            if not self.spec.continue_on_step_failure and self.stopped_by is None:
                self.stopped_by = name

    def _submit_ready(self, pool: ThreadPoolExecutor, running: dict[Future[StepResult], str]) -> None:
        for name in self.spec.order:
            if self.state[name] != "pending":
                continue
            ups = self.spec.jobs[name].upstream()
            bad = sorted(u for u in ups if self.state[u] in BAD_STATES)
            if bad:
                self._skip(name, f"{', '.join(bad)} did not succeed")
            elif self.stopped_by is not None:
                continue
            elif (
                all(self.state[u] in OK_STATES for u in ups) and len(running) < self.ctx.options.max_parallel
            ):
                self.state[name] = "running"
                upstream = {u: self.results[u] for u in ups}
                job = self.spec.jobs[name]
                run_step = execute_sweep if job.sweep is not None else execute
                running[pool.submit(run_step, self.ctx, job, upstream)] = name

    def run(self) -> None:
        running: dict[Future[StepResult], str] = {}
        with ThreadPoolExecutor(max_workers=self.ctx.options.max_parallel, thread_name_prefix="step") as pool:
            try:
                while True:
                    self._submit_ready(pool, running)
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        self._done(running.pop(future), future.result())
            except BaseException:
                self.ctx.procs.stop_all()
                for future, name in running.items():
                    self._done(name, future.result())
                raise
        for name, state in self.state.items():
            if state == "pending":
                why = f"not started: {self.stopped_by} failed (settings.continue_on_step_failure is false)"
                self._skip(name, why)

    def status(self) -> str:
        if all(s in OK_STATES for s in self.state.values()):
            return "completed"
        return "failed"


def run_pipeline(spec: PipelineSpec, options: RunOptions | None = None) -> RunSummary:
    """Run ``spec`` (already checked) locally; the record lands in ``<state>/runs/<run-id>/``."""
    options = options or RunOptions()
    run_id = new_run_id()
    state_dir = paths.state_dir()
    run_dir = paths.runs_dir() / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    python_shim(run_dir / "bin")
    record = RunRecord.create(
        run_dir,
        run_id,
        {
            "pipeline": display_path(spec.file),
            "pipeline_file": str(spec.file),
            "name": spec.name,
            "inputs": _pipeline_inputs(spec),
            "overrides": dict(spec.overrides),
            "force": options.force,
            "max_parallel": options.max_parallel,
            "mlflow": None,
        },
        list(spec.order),
    )
    events = EventLog(run_dir / EVENTS_FILE, run_id)

    def mlflow_started(ids: dict[str, Any]) -> None:
        record.update(mlflow=ids)
        events.emit("mlflow parent run started", **ids)

    tracker = make_tracker(
        options.tracking,
        run_id,
        spec.name,
        spec.experiment_name,
        str(spec.file),
        mlflow_started,
        options.tracking_worker,
    )
    ctx = RunContext(
        spec=spec,
        options=options,
        run_id=run_id,
        run_dir=run_dir,
        record=record,
        events=events,
        tracker=tracker,
        cache=StepCache(state_dir / "cache"),
        assets_root=paths.assets_dir(),
        state_dir=state_dir,
    )
    started = time.monotonic()
    options.echo(f"run {run_id}: {spec.name}, {len(spec.order)} steps")
    events.emit("run started", pipeline=str(spec.file), steps=list(spec.order), force=options.force)
    scheduler = _Scheduler(ctx)
    status = "interrupted"
    try:
        scheduler.run()
        status = scheduler.status()
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as exc:  # an engine bug: record it, then let it surface
        status = "failed"
        record.update(reason=f"engine error: {exc.__class__.__name__}: {exc}")
        raise
    finally:
        duration = round(time.monotonic() - started, 3)
        if status == "interrupted":
            for name, step in record.data["steps"].items():
                if step.get("status") in ("pending", "running"):
                    record.step(name, status="not-run" if step["status"] == "pending" else "interrupted")
        tracker.end_pipeline(status)
        record.update(status=status, finished=now(), duration_s=duration)
        level = "info" if status == "completed" else "error"
        cache_hits = record.data["cache_hits"]
        events.emit("run finished", level=level, status=status, duration_s=duration, cache_hits=cache_hits)
    return RunSummary(run_id, status, run_dir, duration, scheduler.results, record.data)
