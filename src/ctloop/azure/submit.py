"""Submit a pipeline YAML to Azure ML: ``ctloop run <pipeline> --target azure --stack <stack>``.

:func:`submit_pipeline` is what the engine calls for ``--target azure``. In order:

1. offline checks: ``ctloop validate`` on the pipeline, components and environments for the
   stack, and the engine's own check of the ``--set`` overrides (types, paths);
2. an MLClient from ``.azureml/config.json`` and DefaultAzureCredential (clear message if either
   is missing);
3. environments and components registered at their declared versions (``ctloop.azure.assets``);
4. the pipeline loaded with azure-ai-ml, each job pointed at its registered component
   (``azureml:<name>:<version>``), overrides applied, submitted;
5. its logs streamed until it ends; on failure, each failed step is named with its studio link.

Returns the exit code: 0 completed, 1 the job failed or was canceled, 2 invalid spec or setup.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ctloop.gitops.graph import component_of, jobs_of, load_yaml

REMOTE_PREFIXES = ("azureml:", "https://", "http://", "abfss://", "wasbs://", "adl://")
FAILED_STATES = ("Failed", "Canceled", "NotResponding")


def params_override(pipeline_data: Mapping[str, Any], overrides: Mapping[str, str]) -> list[dict[str, str]]:
    """azure-ai-ml ``params_override`` for ``--set NAME=VALUE`` (data inputs get their ``path`` replaced)."""
    inputs = pipeline_data.get("inputs") if isinstance(pipeline_data.get("inputs"), dict) else {}
    result = []
    for name, value in overrides.items():
        current = inputs.get(name) if isinstance(inputs, dict) else None
        key = f"inputs.{name}.path" if isinstance(current, dict) else f"inputs.{name}"
        result.append({key: value})
    return result


def component_refs(pipeline_path: Path, root: Path) -> dict[str, str]:
    """Job name -> ``azureml:<name>:<version>`` of the component file it uses."""
    data = load_yaml(pipeline_path)
    refs = {}
    for job, spec in jobs_of(data).items():
        comp = component_of(pipeline_path, spec, root)
        if comp and isinstance(comp.get("name"), str) and comp.get("version") is not None:
            refs[job] = f"azureml:{comp['name']}:{comp['version']}"
    return refs


def build_job(pipeline_path: Path, overrides: Mapping[str, str], root: Path) -> Any:
    """The pipeline job as azure-ai-ml builds it, its jobs bound to registered component versions."""
    from azure.ai.ml import load_job

    from ctloop.gitops.azureml_load import quiet_sdk

    data = load_yaml(pipeline_path) or {}
    with quiet_sdk():
        job = load_job(str(pipeline_path), params_override=params_override(data, overrides))
    for name, ref in component_refs(pipeline_path, root).items():
        # The YAML names a local file; the service must run the version registered just before.
        job.jobs[name]._component = ref
    return job


def _offline_problems(pipeline_path: Path, overrides: Mapping[str, str], root: Path, stack: str) -> list[str]:
    from ctloop.engine.spec import SpecError, load_pipeline
    from ctloop.gitops.validate import validate

    targets = [pipeline_path, root / "components", root / "environments"]
    problems, _ = validate([t for t in targets if t.exists()], root=root, stack=stack)
    lines = [p.format() for p in problems]
    local = {k: v for k, v in overrides.items() if not str(v).startswith(REMOTE_PREFIXES)}
    if not lines and local:
        try:
            load_pipeline(pipeline_path, local)
        except SpecError as exc:
            lines.append(exc.format())
    return lines


def job_status(job: Any) -> str:
    """The job's status as the service spells it (azure-ai-ml returns a ``JobStatus`` enum)."""
    status = getattr(job, "status", None)
    return str(getattr(status, "value", status) or "")


def failed_steps(client: Any, job_name: str) -> list[tuple[str, str, str]]:
    """(step, status, studio link) of every child job that did not complete."""
    found = []
    for child in client.jobs.list(parent_job_name=job_name):
        status = job_status(child)
        if status in FAILED_STATES:
            step = getattr(child, "display_name", None) or child.name
            found.append((str(step), status, str(getattr(child, "studio_url", "") or "")))
    return found


def submit_pipeline(
    path: str | Path,
    overrides: Mapping[str, str] | None = None,
    stack: str | None = "dev",
    *,
    client: Any = None,
    root: Path | None = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Check, register, submit and follow ``path`` on the stack's workspace; return the exit code."""
    from ctloop.azure.assets import AssetConflictError, register_assets
    from ctloop.azure.workspace import AzureSetupError, ml_client
    from ctloop.gitops.versions import LockError

    stack = stack or "dev"
    root = (root or Path.cwd()).resolve()
    pipeline_path = Path(path).resolve()
    overrides = dict(overrides or {})
    problems = _offline_problems(pipeline_path, overrides, root, stack)
    if problems:
        print(
            f"submit: {pipeline_path.name} is not valid for stack {stack!r}; nothing was submitted:", file=err
        )
        for line in problems:
            print(f"  {line}", file=err)
        return 2
    try:
        client = client or ml_client(root, stack)
        print(f"submit: registering environments and components in stack {stack!r}", file=out)
        register_assets(client, root, out=out)
    except AzureSetupError as exc:
        print(f"submit: {exc}", file=err)
        return 2
    except (AssetConflictError, LockError) as exc:
        for line in getattr(exc, "problems", [str(exc)]):
            print(f"submit: {line}", file=err)
        return 2
    job = build_job(pipeline_path, overrides, root)
    submitted = client.jobs.create_or_update(job, experiment_name=job.experiment_name)
    print(f"submit: {submitted.name} submitted: {getattr(submitted, 'studio_url', '')}", file=out)
    try:
        client.jobs.stream(submitted.name)
    except Exception as exc:
        print(
            f"submit: streaming ended: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}",
            file=err,
        )
    final = client.jobs.get(submitted.name)
    status = job_status(final)
    if status == "Completed":
        print(f"submit: {submitted.name} completed", file=out)
        return 0
    print(f"submit: {submitted.name} ended {status}: {getattr(final, 'studio_url', '')}", file=err)
    for step, step_status, url in failed_steps(client, submitted.name):
        print(f"submit: step {step!r} {step_status.lower()}: {url}", file=err)
    return 1
