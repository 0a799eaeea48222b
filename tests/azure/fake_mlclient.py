"""A recording stand-in for azure-ai-ml's MLClient at the SDK boundary (same method names).

Assets live in dicts; every call is appended to ``calls`` as ``(operation, detail)``. Missing
assets raise azure-core's ResourceNotFoundError, exactly like the real client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from azure.core.exceptions import ResourceNotFoundError


@dataclass
class _Assets:
    kind: str
    client: FakeMLClient
    store: dict[tuple[str, str], Any] = field(default_factory=dict)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.client.calls.append((f"{self.kind}.get", f"{name}:{version}"))
        if (name, str(version)) not in self.store:
            raise ResourceNotFoundError(f"{self.kind} {name}:{version} not found")
        return self.store[(name, str(version))]

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        self.client.calls.append((f"{self.kind}.create_or_update", f"{entity.name}:{entity.version}"))
        self.store[(entity.name, str(entity.version))] = entity
        return entity


class _Poller:
    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class _Jobs:
    def __init__(self, client: FakeMLClient, final_status: str, children: list[Any]) -> None:
        self.client = client
        self.final_status = final_status
        self.children = children
        self.submitted: list[Any] = []

    def create_or_update(self, job: Any, **kwargs: Any) -> Any:
        self.client.calls.append(("jobs.create_or_update", kwargs.get("experiment_name")))
        self.submitted.append(job)
        return SimpleNamespace(name="quiet_tree_123", studio_url="https://ml.azure.com/runs/quiet_tree_123")

    def stream(self, name: str) -> None:
        self.client.calls.append(("jobs.stream", name))
        if self.final_status != "Completed":
            raise RuntimeError("Exception : \n {'code': 'UserError'} ")

    def get(self, name: str) -> Any:
        self.client.calls.append(("jobs.get", name))
        return SimpleNamespace(
            name=name, status=self.final_status, studio_url=f"https://ml.azure.com/runs/{name}"
        )

    def list(self, parent_job_name: str | None = None, **kwargs: Any) -> list[Any]:
        self.client.calls.append(("jobs.list", parent_job_name))
        return list(self.children)


class _Schedules:
    def __init__(self, client: FakeMLClient) -> None:
        self.client = client
        self.applied: list[Any] = []

    def begin_create_or_update(self, schedule: Any, **kwargs: Any) -> _Poller:
        self.client.calls.append(("schedules.begin_create_or_update", schedule.name))
        self.applied.append(schedule)
        return _Poller(schedule)


class FakeMLClient:
    """components, environments, jobs, schedules, models: the operations ctloop.azure uses."""

    def __init__(self, final_status: str = "Completed", children: list[Any] | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.components = _Assets("components", self)
        self.environments = _Assets("environments", self)
        self.jobs = _Jobs(self, final_status, children or [])
        self.schedules = _Schedules(self)
        self.models = _Assets("models", self)

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]
