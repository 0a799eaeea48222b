"""The rollout's only contact with the model registry (``ctloop.registry``): fetch a version's
folder, record that it serves, or mark it rejected with the reason.

The registry keeps one truth about what serves: recording a promoted rollout makes its version
the serving version and the champion; rejecting the champion returns the champion pointer to the
serving version (see ``ctloop.registry.mlflow_common``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEPLOYMENT_TAG = "ctloop.deployment"
ENDPOINT_TAG = "ctloop.endpoint"


class RolloutRegistry:
    """Registry operations the rollout needs, for one model name."""

    def __init__(self, model_name: str, registry: Any | None = None) -> None:
        self.model_name = model_name
        self._registry = registry

    @property
    def registry(self) -> Any:
        if self._registry is None:
            from ctloop.registry import open_registry

            self._registry = open_registry(self.model_name)
        return self._registry

    def champion_version(self) -> str | None:
        champion = self.registry.champion()
        return champion.version if champion is not None else None

    def serving_version(self) -> str | None:
        serving = self.registry.serving()
        return serving.version if serving is not None else None

    def fetch(self, version: str, dest: Path) -> Path:
        """Download ``version`` under ``dest``; return the folder holding its ``MLmodel``."""
        from ctloop.serving.model import find_model_dir

        return find_model_dir(self.registry.download(version, dest))

    def record_deployed(self, version: str, endpoint: str, deployment: str) -> None:
        """``version`` serves 100%: it becomes the serving version and the champion."""
        self.registry.record_deployed(version)
        self.registry.set_tags(version, {ENDPOINT_TAG: endpoint, DEPLOYMENT_TAG: deployment})

    def mark_rejected(self, version: str, reason: str) -> None:
        """``version`` was rolled back; a champion pointer on it returns to the serving version."""
        self.registry.mark_rejected(version, reason)

    def mark_retired(self, version: str) -> None:
        """The version no longer serves (its slot was replaced by a promotion)."""
        self.registry.set_tags(version, {DEPLOYMENT_TAG: "retired"})
