"""The rollout policy (``policies/rollout.yml``): schema-checked, plus the checks a schema cannot express."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctloop.policies import PolicyError, load_policy, policies_dir


@dataclass(frozen=True)
class CanaryStep:
    weight: int
    bake_s: float


@dataclass(frozen=True)
class RolloutPolicy:
    """The validated ``rollout`` policy; ``raw`` keeps the file's mapping (sections as read)."""

    raw: dict[str, Any]
    path: Path

    @property
    def serving(self) -> dict[str, Any]:
        return self.raw["serving"]

    @property
    def smoke(self) -> dict[str, Any]:
        return self.raw["smoke"]

    @property
    def mirror(self) -> dict[str, Any]:
        return self.raw["mirror"]

    @property
    def health(self) -> dict[str, Any]:
        return self.raw["health"]

    @property
    def traffic(self) -> dict[str, Any]:
        return self.raw["traffic"]

    @property
    def router(self) -> dict[str, Any]:
        return self.raw["router"]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.raw["deployment"]

    @property
    def steps(self) -> list[CanaryStep]:
        return [CanaryStep(int(s["weight"]), float(s["bake_s"])) for s in self.raw["canary"]["steps"]]


def load_rollout_policy(directory: str | Path | None = None) -> RolloutPolicy:
    """Load ``<dir>/rollout.yml``; canary weights must rise strictly and end at 100."""
    base = policies_dir(directory)
    raw = load_policy("rollout", base)
    path = base / "rollout.yml"
    weights = [int(s["weight"]) for s in raw["canary"]["steps"]]
    if any(b <= a for a, b in itertools.pairwise(weights)):
        raise PolicyError(path, "canary.steps", f"weights must rise strictly, got {weights}")
    if weights[-1] != 100:
        raise PolicyError(path, "canary.steps", f"the last step must move 100% of traffic, got {weights[-1]}")
    smoke = raw["smoke"]
    if (
        smoke["batch_rows"] > raw["serving"]["max_rows"]
        or raw["traffic"]["batch_rows"] > raw["serving"]["max_rows"]
    ):
        raise PolicyError(path, "smoke.batch_rows", "smoke and traffic batches must fit serving.max_rows")
    return RolloutPolicy(raw=raw, path=path)
