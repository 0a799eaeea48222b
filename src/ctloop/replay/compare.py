"""``ctloop replay``: stream a dataset through the loop under the trigger policy and the baselines.

Policies: ``trigger`` (retraining.yml, real loop), ``never``, ``every`` (every batch) and
``fixed`` (every ``replay.baselines.fixed_every_batches`` batches). With ``workers=2`` the trigger
policy runs in one process and the baselines in another (each single-threaded: two processes on
two cores beat OpenMP threads fighting for them). Results go to ``<out>/replay.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import yaml

from ctloop import gate
from ctloop.contracts import load_data_policy
from ctloop.engine.spec.model import PARENT_INPUT
from ctloop.monitor.settings import load_settings
from ctloop.policies import load_policy
from ctloop.replay.policies import FitCache, PolicyResult, ReplayConfig, run_baseline, run_trigger_policy
from ctloop.replay.stream import make_stream


class ReplayError(ValueError):
    """The replay cannot start; the message names the file or option and the reason."""


POLICIES = ("trigger", "never", "every", "fixed")
RESULT_FILE = "replay.json"


def train_settings(pipeline: Path) -> tuple[str, dict[str, Any]]:
    """The train job's trainer and hyperparameter defaults, read from the pipeline and component YAML
    (the baselines train exactly as the pipeline's train step does, without loading Azure ML)."""
    from ctloop.steps.train import HYPERPARAMETERS

    data = yaml.safe_load(pipeline.read_text())
    job = data["jobs"]["train"]
    component = yaml.safe_load((pipeline.parent / job["component"]).read_text())
    ports = component.get("inputs") or {}
    options = {
        name: ports[name]["default"]
        for name in HYPERPARAMETERS
        if isinstance(ports.get(name), dict) and ports[name].get("default") is not None
    }
    trainer = str((job.get("inputs") or {}).get("trainer", "hgb"))
    bound = PARENT_INPUT.fullmatch(trainer.strip())
    if bound:
        value = (data.get("inputs") or {}).get(bound.group(1), "hgb")
        trainer = str(value.get("default", "hgb") if isinstance(value, dict) else value)
    return trainer, options


def _config(
    policies: Path, pipeline: Path, batch_days: int | None
) -> tuple[ReplayConfig, Any, dict[str, Any]]:
    settings = load_settings(policies, replay=True)
    replay = settings.raw["replay"]
    data_policy = load_data_policy(policies)
    trainer, options = train_settings(pipeline)
    config = ReplayConfig(
        split=data_policy["split"],
        trainer=trainer,
        trainer_options=options,
        gate_policy=gate.GatePolicy.from_dict(load_policy("promotion", policies)),
        decision_threshold=float(load_policy("rollout", policies)["serving"]["decision_threshold"]),
        primary_metric=settings.monitor.primary_metric,
        batch_days=int(batch_days or replay["batch_days"]),
        label_delay_days=int(replay["label_delay_days"]),
    )
    return config, settings, data_policy


_LIMITS: list[Any] = []


def _limit_threads() -> None:
    """One OpenMP/BLAS thread in this process. threadpoolctl only reaches libraries already
    loaded, so scikit-learn's OpenMP runtime is loaded first (and OMP_NUM_THREADS covers the rest)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime)
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(1))


def _run(
    names: tuple[str, ...],
    dataset: str,
    policies: Path,
    pipeline: Path,
    out: Path,
    batch_days: int | None,
    max_batches: int | None,
    model_name: str,
    limit_threads: bool,
) -> list[PolicyResult]:
    """Run some policies in this process (a worker or the caller)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if limit_threads:
        _limit_threads()
    config, settings, data_policy = _config(policies, pipeline, batch_days)
    stream = make_stream(dataset, data_policy)
    batches = stream.batches(config.batch_days)[:max_batches]
    fixed_every = int(settings.raw["replay"]["baselines"]["fixed_every_batches"])
    cache = FitCache()
    results = []
    for name in names:
        if name == "trigger":
            home = out / "trigger"
            results.append(
                run_trigger_policy(stream, batches, config, settings, home, pipeline, policies, model_name)
            )
        elif name == "never":
            results.append(run_baseline("never", lambda _i: False, stream, batches, config, cache))
        elif name == "every":
            results.append(run_baseline("every", lambda _i: True, stream, batches, config, cache))
        elif name == "fixed":
            results.append(
                run_baseline("fixed", lambda i: (i + 1) % fixed_every == 0, stream, batches, config, cache)
            )
        else:
            raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}")
    return results


def replay(
    dataset: str,
    policies: str | Path = "policies",
    pipeline: str | Path = "pipelines/training.yml",
    out: str | Path | None = None,
    compare: bool = True,
    batch_days: int | None = None,
    max_batches: int | None = None,
    model_name: str = "replay-classifier",
    workers: int = 2,
) -> dict[str, Any]:
    """Run the replay and write ``<out>/replay.json``; returns its content."""
    from ctloop import paths

    started = time.perf_counter()
    policies, pipeline = Path(policies).absolute(), Path(pipeline).absolute()
    out = Path(out).absolute() if out else paths.state_dir() / "replay"
    config, settings, data_policy = _config(policies, pipeline, batch_days)
    make_stream(dataset, data_policy)  # a dataset that cannot be streamed fails here, before any change
    if out.exists() and any(out.iterdir()):
        if not (out / RESULT_FILE).is_file():
            raise ReplayError(
                f"{out}: --out: folder is not empty and holds no earlier replay; choose another"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)
    names = POLICIES if compare else ("trigger",)
    groups = [("trigger",), tuple(n for n in names if n != "trigger")] if workers > 1 else [names]
    groups = [g for g in groups if g]
    args = (dataset, policies, pipeline, out, batch_days, max_batches, model_name)
    home = os.environ.get("CTLOOP_HOME")
    try:
        if workers > 1 and len(groups) > 1:
            with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_run, g, *args, True) for g in groups]
                results = [r for f in futures for r in f.result()]
        else:
            results = _run(names, *args, False)
    finally:
        if home is None:
            os.environ.pop("CTLOOP_HOME", None)
        else:
            os.environ["CTLOOP_HOME"] = home
    drifted_from = int(settings.raw["replay"]["drifted_from_row"])
    table = [r.summary(drifted_from) for r in results]
    report = {
        "dataset": dataset,
        "batch_days": config.batch_days,
        "batches": len(results[0].batches) if results else 0,
        "drifted_from_row": drifted_from,
        "primary_metric": config.primary_metric,
        "wall_seconds": round(time.perf_counter() - started, 3),
        "table": table,
        "policies": {r.name: asdict(r) for r in results},
        "trigger_history": str(out / "trigger" / "monitor" / "history.sqlite"),
        "thresholds": settings.raw["triggers"] | {"guards": settings.raw["guards"]},
    }
    (out / RESULT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """The comparison as a fixed-width text table."""
    metric = report["primary_metric"]
    head = (
        f"{'policy':<9} {'mean ' + metric:>14} {'drifted ' + metric:>17} {'retrains':>9} "
        f"{'promoted':>9} {'compute s':>10}"
    )
    lines = [head, "-" * len(head)]
    for row in report["table"]:

        def num(v: Any) -> str:
            return "n/a" if v is None else f"{v:.4f}"

        lines.append(
            f"{row['policy']:<9} {num(row['mean_metric']):>14} {num(row['drifted_metric']):>17} "
            f"{row['retrains']:>9} {row['promotions']:>9} {row['compute_seconds']:>10.2f}"
        )
    lines.append(
        f"{report['batches']} batches of {report['batch_days']} days; drifted period from row "
        f"{report['drifted_from_row']}; replay wall time {report['wall_seconds']:.1f} s"
    )
    return "\n".join(lines)
