"""Helpers for the rollout tests: an in-memory registry and a client that watches the endpoint."""

from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ctloop.registry.base import ModelVersion, Registry, RegistryError
from ctloop.rollout.endpoint import DEPLOYMENT_HEADER


class MemoryRegistry(Registry):
    """The Registry interface in memory (its record_deployed / mark_rejected are the real ones)."""

    def __init__(self, name: str = "rainfall-classifier") -> None:
        self.name = name
        self.versions: dict[str, ModelVersion] = {}
        self.folders: dict[str, Path] = {}
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self._champion: str | None = None

    @classmethod
    def model_names(cls) -> list[str]:
        return []

    def add(self, version: str, folder: Path) -> None:
        self.versions[version] = ModelVersion(self.name, version, str(folder))
        self.folders[version] = folder

    def register(self, model_dir: str | Path, tags: dict[str, str]) -> ModelVersion:
        version = str(len(self.versions) + 1)
        self.add(version, Path(model_dir))
        return self.set_tags(version, tags)

    def get(self, version: str) -> ModelVersion:
        if version not in self.versions:
            raise RegistryError(f"{self.name}: version {version} does not exist")
        return self.versions[version]

    def champion(self) -> ModelVersion | None:
        return self.versions.get(self._champion or "")

    def set_champion(self, version: str, expected: str | None) -> bool:
        if self._champion != expected:
            return False
        self._champion = version
        return True

    def list_versions(self) -> list[ModelVersion]:
        return list(self.versions.values())

    def set_tags(self, version: str, tags: dict[str, str]) -> ModelVersion:
        mv = self.get(version)
        self.calls.append(("set_tags", version, dict(tags)))
        merged = {**mv.tags, **tags}
        self.versions[version] = ModelVersion(
            mv.name, version, mv.source, merged, status=merged.get("ctloop.status", "")
        )
        return self.versions[version]

    def download(self, version: str, dest: str | Path) -> Path:
        target = Path(dest) / "model"
        shutil.copytree(self.folders[version], target)
        return target

    def status(self, version: str) -> str:
        return self.versions[version].tags.get("ctloop.status", "")


@dataclass
class Seen:
    time: float
    status: int
    deployment: str


@dataclass
class Watcher:
    """A client sending one-row requests through the endpoint every ``interval_s`` in a thread."""

    url: str
    body: bytes
    interval_s: float = 0.03
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=30, headers={"content-type": "application/json"}) as client:
            while not self._stop.is_set():
                try:
                    resp = client.post(self.url, content=self.body)
                    self.seen.append(
                        Seen(time.time(), resp.status_code, resp.headers.get(DEPLOYMENT_HEADER, ""))
                    )
                except httpx.HTTPError:
                    self.seen.append(Seen(time.time(), 0, ""))
                self._stop.wait(self.interval_s)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def errors(self) -> list[Seen]:
        return [s for s in self.seen if s.status == 0 or s.status >= 500]

    def by_deployment(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.seen:
            out[s.deployment] = out.get(s.deployment, 0) + 1
        return out


def one_row_body(rows: object) -> bytes:
    from serving_helpers import row_payload

    return json.dumps(row_payload(rows, 1)).encode()
