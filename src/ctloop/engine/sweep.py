"""Run a ``type: sweep`` job locally: one real process per trial, as Azure ML runs a sweep.

Each trial is the trial component run like a command step (own code snapshot, read-only staged
inputs, own outputs, own MLflow run nested under the sweep's run), with the searched inputs set to
the sampled values. Up to ``limits.max_concurrent_trials`` trials run at once; the early-termination
policy reads each running trial's primary metric history from MLflow and stops a trial by stopping
its process group. The sweep's outputs are the best completed trial's outputs.
"""

from __future__ import annotations

import copy
import queue
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ctloop import paths
from ctloop.engine import command, sandbox, step
from ctloop.engine.context import RunContext
from ctloop.engine.hashing import tree_hash
from ctloop.engine.process import Outcome, ProcessPool
from ctloop.engine.records import now
from ctloop.engine.spec import JobSpec
from ctloop.engine.sweep_space import SweepSettings, best_trial, parameter_sets, parse_sweep, to_terminate

#: Seconds between two reads of the running trials' metric histories (and of the stop flags).
POLL_S = 0.25


class SweepRunError(RuntimeError):
    """A sweep that cannot produce a result (the message is the step's one-line reason)."""


@dataclass
class _Trial:
    index: int
    params: dict[str, Any]
    job: JobSpec
    log: Path
    pool: ProcessPool = field(default_factory=ProcessPool)
    outputs: dict[str, Path] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    outcome: Outcome | None = None
    changed: list[str] = field(default_factory=list)
    cwd: Path | None = None
    status: str = "running"
    metric: float | None = None
    reason: str | None = None
    terminated: str | None = None
    history: list[float] = field(default_factory=list)
    stopper: threading.Thread | None = None

    def row(self) -> dict[str, Any]:
        return {
            "trial": self.index,
            "params": self.params,
            "status": self.status,
            "metric": self.metric,
            "reason": self.reason,
            "mlflow_run_id": self.mlflow_run_id,
            "log": str(self.log),
            "outputs": {p: str(v) for p, v in self.outputs.items()},
        }


class _Sweep:
    def __init__(self, ctx: RunContext, job: JobSpec, settings: SweepSettings, base: step.Resolved) -> None:
        self.ctx = ctx
        self.job = job
        self.settings = settings
        self.base = base
        self.trials: dict[int, _Trial] = {}
        self.running: dict[int, _Trial] = {}
        self.done: queue.Queue[int] = queue.Queue()
        self.sweep_run_id: str | None = None
        self.stop_reason: str | None = None
        self._client: Any = None

    # -- one trial -------------------------------------------------------------------------------
    def _start(self, index: int, params: dict[str, Any]) -> None:
        ctx, job = self.ctx, self.job
        name = f"{job.name}/trials/{index}"
        trial_job = replace(job, name=name, sweep=None, timeout=self.settings.trial_timeout or job.timeout)
        log = ctx.log_path(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        trial = _Trial(index, params, trial_job, log)
        self.trials[index] = self.running[index] = trial
        try:
            self._prepare(trial, params)
        except Exception as exc:  # a bad sampled value, an I/O error: this trial fails, the sweep goes on
            trial.reason = f"{exc.__class__.__name__}: {exc}"
            self.done.put(index)

    def _prepare(self, trial: _Trial, params: dict[str, Any]) -> None:
        ctx, job, trial_job, log, index = self.ctx, self.job, trial.job, trial.log, trial.index
        name = trial_job.name
        inputs = copy.deepcopy(self.base)
        for key, value in params.items():
            step._literal(job.component.inputs[key], value, inputs)
        trial.outputs = step._outputs(ctx, trial_job)
        work = ctx.work_dir(name)
        work.mkdir(parents=True, exist_ok=True)
        staged = step._stage(ctx, trial_job, inputs, work)
        text = command.render(
            job.component.command, inputs.text, {p: command.quote_path(v) for p, v in trial.outputs.items()}
        )
        code = job.component.code
        trial.cwd = sandbox.snapshot_code(code, work / "code") if code else work
        tags = {
            "mlflow.parentRunId": self.sweep_run_id or "",
            "ctloop.sweep.trial": str(index),
            **{f"ctloop.sweep.param.{k}": str(v) for k, v in params.items()},
        }
        env = step._environment(ctx, trial_job, tags)
        trial.mlflow_run_id = env.get("MLFLOW_RUN_ID")
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"# ctloop sweep {job.name} trial {index} params {params}\n# $ {text}\n")
        ctx.events.emit("sweep trial started", step=job.name, trial=index, params=params)
        layout = step._layout(ctx, trial_job)
        trial_ctx = replace(ctx, procs=trial.pool)

        def body() -> None:
            try:
                trial.outcome = step._launch(trial_ctx, trial_job, text, trial.cwd, env, log, layout)
                trial.changed = [c.name for c in sandbox.changed_inputs(staged)]
                step._cleanup(staged, work)
            finally:
                self.done.put(index)

        threading.Thread(target=body, name=f"{name}", daemon=True).start()

    def _finish(self, index: int) -> None:
        trial = self.running.pop(index)
        outcome = trial.outcome or Outcome("failed", None, None, 0.0)
        if trial.outcome is None:
            trial.status = "failed"
        elif trial.terminated:
            trial.status, trial.reason = "terminated", f"early termination: {trial.terminated}"
        elif outcome.status == "completed" and trial.changed:
            trial.status, trial.reason = "failed", f"the trial changed its read-only input {trial.changed}"
        elif outcome.status != "completed":
            trial.status = (
                "interrupted" if self.stop_reason and outcome.status == "interrupted" else outcome.status
            )
            trial.reason = self.stop_reason if trial.status == "interrupted" else outcome.describe()
        else:
            trial.status = "completed"
        if self.settings.policy is not None and trial.outcome is not None:
            trial.history = self._history(trial)  # the full history: later trials are judged against it
        metrics = self.ctx.tracker.end_step(trial.job.name, trial.status)
        value = metrics.get(self.settings.primary_metric)
        trial.metric = float(value) if value is not None else None
        if trial.status == "completed" and trial.metric is None:
            trial.status = "failed"
            trial.reason = f"the trial logged no metric {self.settings.primary_metric!r} to MLflow"
        if trial.status == "completed" and trial.cwd is not None and self.job.component.code:
            sandbox.make_writable(trial.cwd)
            shutil.rmtree(trial.cwd, ignore_errors=True)
        self.ctx.events.emit(
            "sweep trial finished",
            step=self.job.name,
            trial=index,
            status=trial.status,
            metric=trial.metric,
            reason=trial.reason,
        )
        self.ctx.record.step(self.job.name, sweep=self.summary())

    # -- early termination ----------------------------------------------------------------------
    def _history(self, trial: _Trial) -> list[float]:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=paths.tracking_uri())
        if trial.mlflow_run_id is None:
            return []
        found = self._client.get_metric_history(trial.mlflow_run_id, self.settings.primary_metric)
        return [m.value for m in sorted(found, key=lambda m: (m.timestamp, m.step))]

    def _apply_policy(self) -> None:
        policy = self.settings.policy
        if policy is None or not self.running:
            return
        for trial in self.running.values():
            if not trial.terminated:
                trial.history = self._history(trial)
        histories = {str(i): t.history for i, t in self.trials.items()}
        running = [str(i) for i, t in self.running.items() if not t.terminated]
        finished = [str(i) for i in self.trials if i not in self.running]
        for key, reason in to_terminate(policy, self.settings.goal, histories, running, finished).items():
            trial = self.running[int(key)]
            trial.terminated = reason
            self.ctx.events.emit(
                "sweep trial terminated", step=self.job.name, trial=trial.index, reason=reason
            )
            self._stop(trial)

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> None:
        settings = self.settings
        concurrent = settings.max_concurrent_trials or self.ctx.options.max_parallel
        pending = parameter_sets(settings)
        deadline = time.monotonic() + settings.timeout if settings.timeout else None
        index = 0
        while True:
            if self.stop_reason is None:
                if self.ctx.procs.stopping.is_set():
                    self.stop_reason = "stopped because the engine was interrupted"
                elif deadline is not None and time.monotonic() > deadline:
                    self.stop_reason = f"the sweep reached limits.timeout ({settings.timeout:g}s)"
            while self.stop_reason is None and len(self.running) < concurrent:
                params = next(pending, None)
                if params is None:
                    break
                self._start(index, params)
                index += 1
            if not self.running:
                return
            try:
                finished = self.done.get(timeout=POLL_S)
            except queue.Empty:
                pass
            else:
                self._finish(finished)
                while not self.done.empty():
                    self._finish(self.done.get_nowait())
            if self.stop_reason is None:
                self._apply_policy()
            for trial in self.running.values():
                if self.stop_reason is not None or trial.terminated:
                    self._stop(trial)

    def _stop(self, trial: _Trial) -> None:
        """Stop the trial's processes; again on a later poll if one started while the last stop ran."""
        if trial.stopper is None or not trial.stopper.is_alive():
            trial.stopper = threading.Thread(
                target=trial.pool.stop_all, name=f"stop-{trial.index}", daemon=True
            )
            trial.stopper.start()

    def best(self) -> _Trial | None:
        metrics = {str(i): t.metric for i, t in self.trials.items() if t.status == "completed"}
        found = best_trial(self.settings.goal, metrics)
        return self.trials[int(found)] if found is not None else None

    def summary(self) -> dict[str, Any]:
        best = self.best()
        return {
            **self.settings.describe(),
            "warnings": list(self.settings.warnings),
            "best": best.index if best else None,
            "trials": [t.row() for t in sorted(self.trials.values(), key=lambda t: t.index)],
        }

    def record_best(self, best: _Trial) -> None:
        """The best trial's metric and run id on the sweep's own MLflow run (as Azure ML shows them)."""
        if self.sweep_run_id is None or best.metric is None:
            return
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=paths.tracking_uri())
        self._client.log_metric(self.sweep_run_id, self.settings.primary_metric, best.metric)
        if best.mlflow_run_id:
            self._client.set_tag(self.sweep_run_id, "best_child_run_id", best.mlflow_run_id)


def _failure(sweep: _Sweep) -> str:
    trials = list(sweep.trials.values())
    if not trials:
        return "the sweep started no trial"
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.status] = counts.get(t.status, 0) + 1
    first = next((t for t in trials if t.reason), None)
    text = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    detail = f"; trial {first.index}: {first.reason}" if first else ""
    return f"no trial completed with metric {sweep.settings.primary_metric!r} ({text}){detail}"


def execute_sweep(ctx: RunContext, job: JobSpec, upstream: dict[str, step.StepResult]) -> step.StepResult:
    """Run every trial of the sweep ``job``; never raises for a step-level failure."""
    settings = parse_sweep(job.sweep or {})
    log = ctx.log_path(job.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ctx.record.step(job.name, status="running", started=now(), log=str(log), cache="off")
    ctx.events.emit("step started", step=job.name, kind="sweep")
    for warning in settings.warnings:
        ctx.events.emit("sweep warning", step=job.name, level="warning", warning=warning)
        ctx.options.echo(f"warning: {job.name}: {warning}")
    sweep: _Sweep | None = None
    try:
        if not ctx.tracker.enabled:
            raise SweepRunError(
                "a sweep reads objective.primary_metric from MLflow: run the pipeline without --no-mlflow"
            )
        sweep = _Sweep(ctx, job, settings, step.resolve_inputs(ctx, job, upstream))
        sweep.sweep_run_id = ctx.tracker.start_step(job.name, {"ctloop.sweep": "true"}).get("MLFLOW_RUN_ID")
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"# ctloop sweep {job.name} (run {ctx.run_id}): {settings.describe()}\n")
        sweep.run()
        best = sweep.best()
        if sweep.stop_reason and sweep.stop_reason.startswith("stopped because"):
            ctx.tracker.end_step(job.name, "interrupted")
            return step._fail(ctx, job, "interrupted", sweep.stop_reason, log, time.monotonic() - started)
        if best is None:
            raise SweepRunError(_failure(sweep))
        sweep.record_best(best)
    except Exception as exc:  # a bad value, an I/O error, or no usable trial: the step fails
        ctx.tracker.end_step(job.name, "failed")
        reason = str(exc) if isinstance(exc, SweepRunError) else f"{exc.__class__.__name__}: {exc}"
        extra = {"sweep": sweep.summary()} if sweep is not None else {}
        return step._fail(ctx, job, "failed", reason, log, time.monotonic() - started, **extra)
    metrics = ctx.tracker.end_step(job.name, "completed")
    duration = time.monotonic() - started
    hashes = {p: tree_hash(v) for p, v in best.outputs.items()}
    result = step.StepResult(job.name, "completed", duration, dict(best.outputs), hashes, log=str(log))
    registered = step._register_assets(ctx, job, result)
    published = step.publish(ctx, job, result.outputs, ctx.run_id)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"# best trial {best.index}: {settings.primary_metric}={best.metric} params {best.params}\n")
    ctx.record.step(
        job.name,
        status="completed",
        finished=now(),
        duration_s=round(duration, 3),
        exit_code=0,
        outputs={p: str(v) for p, v in best.outputs.items()},
        metrics=metrics,
        output_metrics=step._output_metrics(best.outputs),
        assets=registered,
        datastore_outputs=published,
        mlflow_run_id=sweep.sweep_run_id,
        best_trial=best.row(),
        sweep=sweep.summary(),
    )
    ctx.events.emit("step completed", step=job.name, duration_s=round(duration, 3), best_trial=best.index)
    return result
