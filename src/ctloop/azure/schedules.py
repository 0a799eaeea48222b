"""``ctloop schedule apply``: create or update the Azure ML schedules in ``pipelines/schedules/``.

Each file is loaded with azure-ai-ml's ``load_schedule`` (not exported from ``azure.ai.ml``; it
lives in ``azure.ai.ml.entities._load_functions``). A job schedule's pipeline is bound to the
registered component versions, exactly as ``ctloop run --target azure`` does, so environments and
components are registered first. Monitor schedules are applied as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ctloop.azure.submit import component_refs
from ctloop.gitops.graph import load_yaml

SCHEDULES_DIR = Path("pipelines") / "schedules"


def schedule_files(root: Path, paths: Sequence[str | Path] = ()) -> list[Path]:
    if paths:
        return [Path(p).resolve() for p in paths]
    folder = root / SCHEDULES_DIR
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])


def load(path: Path, root: Path) -> Any:
    """The schedule entity; a job schedule's pipeline jobs point at registered components."""
    from azure.ai.ml.entities._load_functions import load_schedule

    from ctloop.gitops.azureml_load import quiet_sdk

    with quiet_sdk():
        schedule = load_schedule(str(path))
    data = load_yaml(path) or {}
    create_job = data.get("create_job")
    pipeline_file = create_job if isinstance(create_job, str) else (create_job or {}).get("job")
    job = getattr(schedule, "create_job", None)
    if isinstance(pipeline_file, str) and not pipeline_file.startswith("azureml:") and hasattr(job, "jobs"):
        for name, ref in component_refs((path.parent / pipeline_file).resolve(), root).items():
            if name in job.jobs:
                job.jobs[name]._component = ref
    return schedule


def describe(schedule: Any) -> str:
    trigger = schedule.trigger
    what = (
        getattr(trigger, "expression", None)
        or f"every {getattr(trigger, 'interval', '?')} {getattr(trigger, 'frequency', '?')}"
    )
    return f"{schedule.name}: {what} ({getattr(trigger, 'time_zone', 'UTC')})"
