"""Retrain by running the training pipeline: through the local engine, or its steps in-process.

Both read the same ``pipelines/training.yml`` with the engine's own loader and render each job's
``command`` with the engine's renderer, so they run the same steps, with the same arguments, the
same gate (evaluate) and the same registry (register):

* :class:`EngineRetrainer` runs the pipeline with ``ctloop.engine.runner.run_pipeline`` (each step
  a subprocess, MLflow runs, a run record), exactly as ``ctloop run`` does. ``ctloop loop`` uses it.
* :class:`InProcessRetrainer` calls each step's ``main(argv)`` in this process, in the pipeline's
  order: no interpreter start-up and no per-step MLflow runs (about 3-5 s saved per step on two
  cores). ``ctloop replay`` uses it for the trigger policy, whose retrains are many.
* :class:`AzureRetrainer` submits it to the stack's Azure ML workspace (``ctloop loop --target
  azure --stack S``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import os
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctloop import modeling


class RetrainError(RuntimeError):
    """The pipeline failed; names the step and the reason."""


@dataclass
class RetrainResult:
    """What one retrain did."""

    status: str  # completed | failed
    promoted: bool = False
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    fit_seconds: float = 0.0  # the trainer's own fit time (training compute)
    wall_seconds: float = 0.0
    challenger_metric: float | None = None
    champion_metric: float | None = None
    reason: str = ""
    run_dir: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    deployment: dict[str, Any] | None = None  # the deploy step's deployment.json, when the pipeline has one

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


#: The training pipeline's input that carries the fired triggers (prep's recent-window candidate).
TRIGGERS_INPUT = "triggers"


def triggers_input(pipeline: str | Path) -> str | None:
    """:data:`TRIGGERS_INPUT` when the pipeline declares it (training.yml does), else None."""
    import yaml

    try:
        spec = yaml.safe_load(Path(pipeline).read_text())
    except (OSError, yaml.YAMLError):
        return None
    inputs = spec.get("inputs") if isinstance(spec, dict) else None
    return TRIGGERS_INPUT if isinstance(inputs, dict) and TRIGGERS_INPUT in inputs else None


def read_outcome(outputs: Mapping[str, Path], result: RetrainResult) -> RetrainResult:
    """Fill ``result`` from the train/evaluate/register outputs of a finished run."""
    for key in ("train.model", "train_recent.model"):  # training compute of every candidate
        model = outputs.get(key)
        if model is not None and model.is_dir():
            info = modeling.read_training_info(model)
            result.fit_seconds += float(info.get("fit_seconds") or 0.0)
    decision = outputs.get("evaluate.decision")
    if decision is not None and (decision / "decision.json").is_file():
        data = json.loads((decision / "decision.json").read_text())
        gate = data.get("gate") or {}
        result.challenger_metric = gate.get("challenger")
        result.champion_metric = gate.get("champion")
        result.reason = str(data.get("reason", ""))
    registration = outputs.get("register.registration")
    if registration is not None and (registration / "registration.json").is_file():
        data = json.loads((registration / "registration.json").read_text())
        result.version = str(data.get("version"))
        result.promoted = bool(data.get("promoted"))
        result.champion_before = data.get("champion_before")
        result.champion_after = data.get("champion_after")
    deployment = outputs.get("deploy.deployment")
    if deployment is not None and (deployment / "deployment.json").is_file():
        result.deployment = json.loads((deployment / "deployment.json").read_text())
    return result


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@functools.lru_cache(maxsize=8)
def load_spec(pipeline: Path) -> Any:
    """The checked pipeline spec (loaded once per process: the Azure ML loader takes seconds)."""
    from ctloop.engine.spec import load_pipeline

    return load_pipeline(pipeline)


class InProcessRetrainer:
    """The pipeline's jobs, in order, as in-process ``ctloop.steps.<step>.main(argv)`` calls."""

    def __init__(self, pipeline: str | Path, skip: Sequence[str] = ("deploy",)) -> None:
        self.pipeline = Path(pipeline).absolute()
        self.spec = load_spec(self.pipeline)
        self.skip = tuple(skip)

    def _literal(self, port: Any, value: Any) -> str:
        from ctloop.engine.spec.literals import coerce_literal, render_literal

        return render_literal(
            coerce_literal(value, port.type, enum=port.enum, minimum=port.min, maximum=port.max)
        )

    def _render(
        self, name: str, inputs: Mapping[str, Any], outputs: dict[str, Path], work: Path
    ) -> list[str]:
        from ctloop.engine.command import quote_path, render

        job = self.spec.jobs[name]
        text: dict[str, str | None] = {}
        for port_name, port in job.component.inputs.items():
            binding = job.inputs[port_name]
            value: Any = None
            if binding.kind == "job":
                value = outputs[f"{binding.ref}.{binding.port}"]
            elif binding.kind == "parent":
                value = inputs.get(binding.ref or "", self.spec.resolve(binding))
            elif binding.kind in ("literal", "path"):
                value = self.spec.resolve(binding)
            if value is None and port.default is not None and not port.is_path:
                value = port.default
            if value is None:
                text[port_name] = None
            elif port.is_path:
                text[port_name] = quote_path(Path(value).absolute())
            else:
                text[port_name] = self._literal(port, value)
        outs = {}
        for port_name in job.component.outputs:
            path = work / name / port_name
            outputs[f"{name}.{port_name}"] = path
            outs[port_name] = quote_path(path)
        return shlex.split(render(job.component.command, text, outs))

    def __call__(self, inputs: Mapping[str, Any], work: str | Path) -> RetrainResult:
        """Run every job but ``skip``, ``inputs`` overriding the pipeline's; outputs under ``work``."""
        work = Path(work)
        work.mkdir(parents=True, exist_ok=True)
        outputs: dict[str, Path] = {}
        result = RetrainResult(status="completed", run_dir=str(work))
        started = time.perf_counter()
        with _environment({"MLFLOW_TRACKING_URI": None, "MLFLOW_RUN_ID": None}):
            for name in self.spec.order:
                if name in self.skip:
                    continue
                argv = self._render(name, inputs, outputs, work)
                if argv[:2] != ["python", "-m"] or len(argv) < 3:
                    raise RetrainError(
                        f"{name}: command is not 'python -m <module> ...': {' '.join(argv[:4])}"
                    )
                module = importlib.import_module(argv[2])
                log = io.StringIO()
                step_start = time.perf_counter()
                with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                    code = module.main(argv[3:])
                result.steps[name] = round(time.perf_counter() - step_start, 3)
                (work / f"{name}.log").write_text(log.getvalue())
                if code != 0:
                    result.status = "failed"
                    result.reason = f"{name}: exit {code}: {log.getvalue().strip()[-2000:]}"
                    break
        result.wall_seconds = time.perf_counter() - started
        return read_outcome(outputs, result)


class EngineRetrainer:
    """The whole pipeline through the local engine (subprocess steps, MLflow, run record)."""

    def __init__(self, pipeline: str | Path, echo: Any = None) -> None:
        self.pipeline = Path(pipeline)
        self.echo = echo or (lambda line: None)

    def __call__(self, inputs: Mapping[str, Any], work: str | Path | None = None) -> RetrainResult:
        from ctloop.engine.runner import RunOptions, run_pipeline
        from ctloop.engine.spec import load_pipeline

        spec = load_pipeline(self.pipeline, {k: str(v) for k, v in inputs.items()})
        started = time.perf_counter()
        summary = run_pipeline(spec, RunOptions(echo=self.echo))
        result = RetrainResult(status=summary.status, run_dir=str(summary.run_dir))
        result.wall_seconds = time.perf_counter() - started
        outputs = {
            f"{step}.{port}": Path(path)
            for step, res in summary.results.items()
            for port, path in (getattr(res, "outputs", {}) or {}).items()
        }
        result.steps = {s: float(getattr(r, "duration_s", 0.0)) for s, r in summary.results.items()}
        if summary.status != "completed":
            failed = [
                s
                for s, r in summary.results.items()
                if getattr(r, "status", "") not in ("completed", "cached")
            ]
            result.reason = (
                f"pipeline run {summary.run_id} {summary.status} (steps: {', '.join(failed) or '?'})"
            )
        return read_outcome(outputs, result)


class AzureRetrainer:
    """The pipeline as an Azure ML job in the stack's workspace (``ctloop run --target azure``).

    The job runs the same components; the registry read before and after is the workspace's, so
    the champion change is what Azure ML's register step did.
    """

    def __init__(self, pipeline: str | Path, stack: str, model_name: str, echo: Any = None) -> None:
        self.pipeline = Path(pipeline)
        self.stack = stack
        self.model_name = model_name
        self.echo = echo or (lambda line: None)

    def _champion(self) -> str | None:
        from ctloop.registry import open_registry

        champion = open_registry(self.model_name, "azure").champion()
        return champion.version if champion is not None else None

    def __call__(self, inputs: Mapping[str, Any], work: str | Path | None = None) -> RetrainResult:
        import argparse

        from ctloop.engine.commands import submitter_for

        before = self._champion()
        args = argparse.Namespace(pipeline=str(self.pipeline), stack=self.stack)
        started = time.perf_counter()
        code = submitter_for("azure").submit(args, {k: str(v) for k, v in inputs.items()})
        result = RetrainResult(status="completed" if code == 0 else "failed")
        result.wall_seconds = time.perf_counter() - started
        result.champion_before = before
        result.champion_after = self._champion()
        result.promoted = result.champion_after not in (None, before)
        result.version = result.champion_after if result.promoted else None
        if code != 0:
            result.reason = f"Azure ML pipeline job exited {code} (stack {self.stack})"
        return result
