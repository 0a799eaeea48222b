"""What a training run produced: shared by the training loop and the model-folder writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ctloop.dnn.data import Standardizer
from ctloop.dnn.model import Architecture


@dataclass
class FitResult:
    """What a training run produced (the model folder is written by rank 0 only)."""

    net: torch.nn.Module
    architecture: Architecture
    standardizer: Standardizer
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    steps: int
    world_size: int
    device: str
    precision: str
    resumed_from: str | None = None
    checkpoints_written: int = 0
    skipped_checkpoints: list[tuple[str, str]] = field(default_factory=list)
    is_main: bool = True
    fit_seconds: float = 0.0
