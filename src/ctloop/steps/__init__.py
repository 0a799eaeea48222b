"""Pipeline steps: ``python -m ctloop.steps.<step> --flag value ...`` inside a job.

Steps import only pure modules, ``ctloop.registry`` and data libraries (an import-linter contract
forbids the engine, Azure glue, rollout, the CLI, azure-ai-ml and pulumi). The helpers here give
every step the same failure format and optional MLflow logging.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The file validate_data writes into its ``report`` output and prep reads.
REPORT_FILE = "report.json"
VERDICT_FILE = "verdict.json"  # validate_data's status-only output, what prep depends on
#: Written by prep into ``recent`` (and by a trainer into its model folder) when no recent-window
#: candidate is due.
NO_CANDIDATE_FILE = "no_candidate.json"


def fail(step: str, problems: Iterable[tuple[str, str]]) -> int:
    """Print one ``<step>: <field>: <reason>`` line per problem to stderr; return exit code 1."""
    for field, reason in problems:
        print(f"{step}: {field}: {reason}", file=sys.stderr)
    return 1


def pass_on_no_candidate(step: str, train: Path, model: Path) -> int | None:
    """When ``train`` holds prep's ``no_candidate.json``, copy it into an empty ``model`` folder and
    return the step's exit code (0, or 1 when ``model`` is not empty); None when there is data."""
    if not (train / NO_CANDIDATE_FILE).is_file():
        return None
    if model.exists() and any(model.iterdir()):
        return fail(step, [(str(model), "output folder is not empty")])
    model.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(train / NO_CANDIDATE_FILE, model / NO_CANDIDATE_FILE)
    print(f"{step}: nothing to train: {train / NO_CANDIDATE_FILE}")
    return 0


def mlflow_enabled() -> bool:
    """MLflow logging happens only when a tracking URI is configured (the engine or Azure ML)."""
    return bool(os.environ.get("MLFLOW_TRACKING_URI"))


def log_mlflow(
    metrics: Mapping[str, float] | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    *,
    failed: bool = False,
) -> bool:
    """Log to the step's MLflow run (``start_run`` resumes ``$MLFLOW_RUN_ID``) and end it, FAILED
    when ``failed``; skipped without a tracking URI. Returns whether anything was logged."""
    if not mlflow_enabled():
        return False
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    active = mlflow.active_run()
    run = active or mlflow.start_run()
    try:
        if params:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        if metrics:
            clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
            if clean:
                mlflow.log_metrics(clean)
        if tags:
            mlflow.set_tags(dict(tags))
    finally:
        if active is None:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")
    return run is not None
