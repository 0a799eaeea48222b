"""Typed settings of the DNN trainer, read from ``policies/dnn.yml`` (validated by its schema)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import ctloop
from ctloop.policies import POLICIES_ENV, PolicyError, load_policy

POLICY = "dnn"


@dataclass(frozen=True)
class ModelConfig:
    hidden_units: tuple[int, ...]
    dropout: float


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    seed: int
    precision: str
    deterministic: bool
    threads: int
    device: str


@dataclass(frozen=True)
class CheckpointConfig:
    every_steps: int
    every_minutes: float
    keep_last: int


@dataclass(frozen=True)
class DnnConfig:
    model: ModelConfig
    training: TrainingConfig
    checkpoint: CheckpointConfig
    reference_rows: int
    source: str = "dnn.yml"  # the file the settings came from (named in errors)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "dnn.yml") -> DnnConfig:
        """Build from the (already schema-validated) policy mapping."""
        model = dict(data["model"])
        model["hidden_units"] = tuple(int(h) for h in model["hidden_units"])
        return cls(
            model=ModelConfig(**model),
            training=TrainingConfig(**data["training"]),
            checkpoint=CheckpointConfig(**data["checkpoint"]),
            reference_rows=int(data["reference"]["rows"]),
            source=source,
        )

    def params(self) -> dict[str, Any]:
        """The settings that shape the model (recorded in training.json and logged to MLflow)."""
        return {"model": {**asdict(self.model), "hidden_units": list(self.model.hidden_units)}} | {
            "training": asdict(self.training)
        }

    def fingerprint(self) -> str:
        """Hash of everything that changes the training trajectory (not checkpoint cadence, threads)."""
        t = asdict(self.training)
        for key in ("threads", "deterministic", "device"):
            t.pop(key)
        blob = json.dumps({"model": self.params()["model"], "training": t}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def find_policies(explicit: str | Path | None = None) -> Path:
    """The policies folder holding dnn.yml: ``explicit``, else ``$CTLOOP_POLICIES``, ``./policies``, or
    the repository's ``policies/`` beside ``src/`` (a local checkout); PolicyError when none has it."""
    if explicit:
        return Path(explicit)
    candidates = [Path(p) for p in (os.environ.get(POLICIES_ENV), "policies") if p]
    candidates.append(Path(ctloop.__file__).resolve().parents[2] / "policies")
    for folder in candidates:
        if (folder / f"{POLICY}.yml").is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise PolicyError(f"{POLICY}.yml", "<file>", f"not found in {tried}; pass the policies folder explicitly")


def load_config(directory: str | Path | None = None) -> DnnConfig:
    """Read and validate ``dnn.yml`` from :func:`find_policies`; PolicyError if missing or invalid."""
    folder = find_policies(directory)
    return DnnConfig.from_dict(load_policy(POLICY, folder), str(folder / f"{POLICY}.yml"))
