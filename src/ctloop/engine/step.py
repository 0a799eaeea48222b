"""Execute one step: resolve its inputs, reuse a cached result or run the command, record outputs."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctloop.engine import assets, command, datastores, environments, launch, sandbox
from ctloop.engine.cache import CacheEntry, step_key
from ctloop.engine.context import RunContext
from ctloop.engine.hashing import tree_hash
from ctloop.engine.process import Outcome
from ctloop.engine.records import now, tail
from ctloop.engine.spec import JobSpec, Port
from ctloop.engine.spec.literals import coerce_literal, render_literal
from ctloop.engine.spec.semantics import count_value

#: Lines of a failed step's log quoted in the run record and on the terminal.
TAIL_LINES = 15
METRICS_FILE = "metrics.json"


@dataclass
class StepResult:
    """How a step ended and, when it succeeded, where its outputs are."""

    name: str
    status: str  # completed | cached | failed | killed | timeout | interrupted
    duration_s: float = 0.0
    outputs: dict[str, Path] = field(default_factory=dict)
    output_hashes: dict[str, str] = field(default_factory=dict)
    reason: str | None = None
    reused_from: str | None = None
    log: str | None = None


@dataclass
class Resolved:
    """A step's inputs: rendered text for the command, literals and content hashes for the cache."""

    text: dict[str, str | None] = field(default_factory=dict)
    literals: dict[str, Any] = field(default_factory=dict)
    hashes: dict[str, str | None] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def _literal(port: Port, value: Any, out: Resolved) -> None:
    value = coerce_literal(value, port.type, enum=port.enum, minimum=port.min, maximum=port.max)
    out.literals[port.name] = value
    out.text[port.name] = render_literal(value)


def resolve_inputs(ctx: RunContext, job: JobSpec, upstream: dict[str, StepResult]) -> Resolved:
    out = Resolved()
    for name, port in job.component.inputs.items():
        binding = job.inputs[name]
        path: Path | None = None
        content: str | None = None
        if binding.kind == "job":
            result = upstream[binding.ref or ""]
            path = result.outputs[binding.port or ""]
            content = result.output_hashes.get(binding.port or "")
        elif binding.kind in ("parent", "path") and port.is_path:
            value = ctx.spec.resolve(binding)
            path = Path(value) if value is not None else None
        elif binding.kind in ("literal", "parent"):
            value = ctx.spec.resolve(binding)
            if value is not None:
                _literal(port, value, out)
                continue
        elif port.default is not None and not port.is_path:
            _literal(port, port.default, out)
            continue
        if path is None:
            out.text[name] = None
            out.literals[name] = None
            continue
        out.text[name] = command.quote_path(path)
        out.paths[name] = str(path)
        out.hashes[name] = content or ctx.content_hash(path)
    return out


def _layout(ctx: RunContext, job: JobSpec) -> launch.Layout:
    """Nodes and processes per node; every node is this machine (see launch.py)."""
    nodes = count_value(ctx.spec, job.instance_count or 1)
    per_node = (
        count_value(ctx.spec, 1 if job.process_count is None else job.process_count)
        if job.distribution_type
        else 1
    )
    extra = {"worker_count": job.worker_count, "parameter_server_count": job.parameter_server_count}
    return launch.layout_of(job.distribution_type, nodes, per_node, extra)


def _cache_key(ctx: RunContext, job: JobSpec, inputs: Resolved, layout: launch.Layout) -> str:
    comp = job.component
    settings = {
        "layout": layout.describe(),
        "modes": {k: b.mode for k, b in job.inputs.items() if b.mode},
        "env": dict(job.environment_variables),
        "outputs": {p: o.type for p, o in comp.outputs.items()},
    }
    if (built := environments.identity(ctx.spec, job, ctx.options.environments)) is not None:
        settings["environment"] = built  # a result from ctloop's own environment is not reused
    return step_key(
        spec_hash=comp.spec_hash,
        code_hash=ctx.content_hash(comp.code) if comp.code else None,
        literals=inputs.literals,
        input_hashes=inputs.hashes,
        layout=settings,
    )


def _output_metrics(outputs: dict[str, Path]) -> dict[str, Any]:
    found = {}
    for port, path in outputs.items():
        file = path / METRICS_FILE if path.is_dir() else None
        if file is not None and file.is_file():
            try:
                found[port] = json.loads(file.read_text(encoding="utf-8"))
            except ValueError as exc:
                found[port] = {"error": f"{METRICS_FILE} is not valid JSON: {exc}"}
    return found


def _register_assets(ctx: RunContext, job: JobSpec, result: StepResult) -> list[dict[str, Any]]:
    refs = []
    for port, out in job.outputs.items():
        if not out.asset_name:
            continue
        path = result.outputs[port]
        ref = assets.register_output(
            ctx.assets_root,
            out.asset_name,
            out.asset_version,
            path,
            result.output_hashes[port],
            {"run_id": result.reused_from or ctx.run_id, "step": job.name, "port": port},
        )
        assets.write_marker(path if path.is_dir() else path.parent, ref)
        ctx.events.emit(
            "data asset registered" if not ref.reused else "data asset version reused",
            step=job.name,
            port=port,
            name=ref.name,
            version=ref.version,
            path=ref.path,
        )
        refs.append({"port": port, **ref.contract(), "reused": ref.reused})
    return refs


def _reuse(ctx: RunContext, job: JobSpec, entry: CacheEntry, key: str) -> StepResult:
    result = StepResult(
        job.name,
        "cached",
        outputs={p: Path(v) for p, v in entry.outputs.items()},
        output_hashes=dict(entry.output_hashes),
        reused_from=entry.run_id,
    )
    registered = _register_assets(ctx, job, result)
    published = publish(ctx, job, result.outputs, entry.run_id)
    ctx.record.step(
        job.name,
        status="cached",
        datastore_outputs=published,
        finished=now(),
        duration_s=0.0,
        cache="hit",
        cache_key=key,
        reused_from=entry.run_id,
        outputs=entry.outputs,
        metrics=entry.metrics,
        output_metrics=entry.output_metrics,
        assets=registered,
        log=None,
        mlflow_run_id=entry.mlflow_run_id,  # the run that logged these metrics
    )
    ctx.events.emit("step reused from cache", step=job.name, reused_from=entry.run_id, cache_key=key)
    return result


def _environment(ctx: RunContext, job: JobSpec, tags: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ctx.tracker.start_step(job.name, tags))
    env.update(
        CTLOOP_HOME=str(ctx.state_dir),
        CTLOOP_RUN_ID=ctx.run_id,
        CTLOOP_STEP=job.name,
        PYTHONUNBUFFERED="1",
        PATH=os.pathsep.join([str(ctx.run_dir / "bin"), env.get("PATH", "")]),
    )
    mode, echo = ctx.options.environments, ctx.options.echo
    env.update(environments.step_environment(ctx.spec, job, mode, env["PATH"], echo))
    env.update(job.environment_variables)
    return env


def _outputs(ctx: RunContext, job: JobSpec) -> dict[str, Path]:
    paths = {}
    for port, spec in job.component.outputs.items():
        folder = ctx.output_dir(job.name, port)
        folder.mkdir(parents=True, exist_ok=True)
        paths[port] = folder / port if spec.is_file else folder
    return paths


def _fail(
    ctx: RunContext, job: JobSpec, status: str, reason: str, log: Path, duration: float, **extra: Any
) -> StepResult:
    lines = tail(log, TAIL_LINES)
    ctx.record.step(
        job.name,
        status=status,
        finished=now(),
        duration_s=round(duration, 3),
        reason=reason,
        log_tail=lines,
        **extra,
    )
    ctx.events.emit("step failed", step=job.name, level="error", status=status, reason=reason, log=str(log))
    return StepResult(job.name, status, duration, reason=reason, log=str(log))


def execute(ctx: RunContext, job: JobSpec, upstream: dict[str, StepResult]) -> StepResult:
    """Run (or reuse) ``job``; never raises for a step-level failure."""
    log = ctx.log_path(job.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    ctx.record.step(job.name, status="running", started=now(), log=str(log))
    ctx.events.emit("step started", step=job.name)
    try:
        inputs = resolve_inputs(ctx, job, upstream)
        layout = _layout(ctx, job)
        key = _cache_key(ctx, job, inputs, layout)
        deterministic = job.component.is_deterministic
        if deterministic and not ctx.options.force and (entry := ctx.cache.lookup(key)) is not None:
            return _reuse(ctx, job, entry, key)
        cache_state = "off" if not deterministic else ("forced" if ctx.options.force else "miss")
        return _run(ctx, job, inputs, layout, key, cache_state, log)
    except Exception as exc:  # a step-level problem (bad value, asset conflict, I/O): the step fails
        ctx.tracker.end_step(job.name, "failed")
        return _fail(ctx, job, "failed", f"{exc.__class__.__name__}: {exc}", log, 0.0)


def _stage(ctx: RunContext, job: JobSpec, inputs: Resolved, work: Path) -> list[sandbox.StagedInput]:
    """Copy every data input under ``work/inputs`` (the step never sees the original)."""
    staged = []
    for name, original in inputs.paths.items():
        digest = inputs.hashes.get(name) or ctx.content_hash(Path(original))
        item = sandbox.stage_input(name, Path(original), work / "inputs", job.inputs[name].mode, digest)
        inputs.text[name] = command.quote_path(item.path)
        staged.append(item)
    return staged


def _launch(
    ctx: RunContext, job: JobSpec, text: str, cwd: Path, env: dict[str, str], log: Path, layout: launch.Layout
) -> Outcome:
    """Run the command once per process of ``layout``; the first failure decides the outcome."""
    argv = command.argv(text, None)
    overlays = launch.process_envs(layout) if layout.processes > 1 or layout.distribution else [{}]
    if len(overlays) == 1:
        return ctx.procs.run(argv, cwd, {**env, **overlays[0]}, log, job.timeout)
    outcomes: list[Outcome | None] = [None] * len(overlays)

    def one(i: int) -> None:
        outcomes[i] = ctx.procs.run(argv, cwd, {**env, **overlays[i]}, log, job.timeout)

    threads = [threading.Thread(target=one, args=(i,), name=f"{job.name}-{i}") for i in range(len(overlays))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [o for o in outcomes if o is not None]
    duration = max(o.duration_s for o in done)
    bad = next((o for o in done if o.status != "completed"), None)
    return bad if bad is not None else Outcome("completed", 0, None, duration)


def publish(ctx: RunContext, job: JobSpec, outputs: dict[str, Path], run_id: str) -> dict[str, str]:
    """Copy outputs whose ``path`` is a datastore URI to the local datastore folder."""
    published = {}
    for port, out in job.outputs.items():
        if not out.path:
            continue
        target = datastores.local_path(out.path, run_id=run_id, output_name=port)
        source = outputs[port]
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name if target.is_dir() else target)
        published[port] = str(target)
        ctx.events.emit(
            "output copied to datastore", step=job.name, port=port, uri=out.path, path=str(target)
        )
    return published


def _cleanup(staged: list[sandbox.StagedInput], work: Path) -> None:
    for item in staged:
        sandbox.make_writable(item.path.parent)
    shutil.rmtree(work / "inputs", ignore_errors=True)


def _run(
    ctx: RunContext,
    job: JobSpec,
    inputs: Resolved,
    layout: launch.Layout,
    key: str,
    cache_state: str,
    log: Path,
) -> StepResult:
    outputs = _outputs(ctx, job)
    work = ctx.work_dir(job.name)
    work.mkdir(parents=True, exist_ok=True)
    staged = _stage(ctx, job, inputs, work)
    text = command.render(
        job.component.command, inputs.text, {p: command.quote_path(v) for p, v in outputs.items()}
    )
    cwd = sandbox.snapshot_code(job.component.code, work / "code") if job.component.code else work
    env = _environment(ctx, job, {"ctloop.cache": cache_state})
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"# ctloop step {job.name} (run {ctx.run_id}) in {cwd}\n# $ {text}\n")
    fields = dict(
        cache=cache_state,
        cache_key=key,
        command=text,
        cwd=str(cwd),
        code=str(job.component.code) if job.component.code else None,
        staged_inputs={item.name: str(item.path) for item in staged},
        processes=layout.processes,
        layout=layout.describe(),
        inputs=inputs.paths,
        mlflow_run_id=env.get("MLFLOW_RUN_ID"),
    )
    ctx.record.step(job.name, **fields)
    outcome = _launch(ctx, job, text, cwd, env, log, layout)
    changed = sandbox.changed_inputs(staged)
    _cleanup(staged, work)
    metrics = ctx.tracker.end_step(job.name, outcome.status if not changed else "failed")
    if outcome.status == "completed" and changed:
        names = ", ".join(f"{c.name!r} (mode {c.mode})" for c in changed)
        reason = f"the step changed its read-only input {names}: write to an output, or use mode: rw_mount"
        return _fail(ctx, job, "failed", reason, log, outcome.duration_s, metrics=metrics)
    if outcome.status != "completed":
        return _fail(
            ctx,
            job,
            outcome.status,
            outcome.describe(),
            log,
            outcome.duration_s,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            metrics=metrics,
        )
    if job.component.code:
        shutil.rmtree(cwd, ignore_errors=True)  # a failed step's snapshot stays for inspection
    hashes = {p: tree_hash(v) for p, v in outputs.items()}
    result = StepResult(job.name, "completed", outcome.duration_s, outputs, hashes, log=str(log))
    registered = _register_assets(ctx, job, result)
    published = publish(ctx, job, outputs, ctx.run_id)
    out_metrics = _output_metrics(outputs)
    if job.component.is_deterministic:
        ctx.cache.store(
            CacheEntry(
                key=key,
                run_id=ctx.run_id,
                step=job.name,
                outputs={p: str(v) for p, v in outputs.items()},
                output_hashes=hashes,
                metrics=metrics,
                output_metrics=out_metrics,
                mlflow_run_id=env.get("MLFLOW_RUN_ID"),
                created=now(),
            )
        )
    ctx.record.step(
        job.name,
        status="completed",
        finished=now(),
        duration_s=round(outcome.duration_s, 3),
        exit_code=0,
        outputs={p: str(v) for p, v in outputs.items()},
        metrics=metrics,
        output_metrics=out_metrics,
        assets=registered,
        datastore_outputs=published,
    )
    ctx.events.emit("step completed", step=job.name, duration_s=round(outcome.duration_s, 3), metrics=metrics)
    return result
