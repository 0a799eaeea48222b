"""The network: a small MLP that maps standardised features to one logit (positive class)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

ARCHITECTURE_TYPE = "mlp"


@dataclass(frozen=True)
class Architecture:
    """Everything needed to rebuild the network before loading its state_dict."""

    input_dim: int
    hidden_units: tuple[int, ...]
    dropout: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": ARCHITECTURE_TYPE,
            "input_dim": self.input_dim,
            "hidden_units": list(self.hidden_units),
            "dropout": self.dropout,
            "activation": "relu",
            "output": "logit",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        if data.get("type") != ARCHITECTURE_TYPE:
            raise ValueError(f"type: unsupported architecture {data.get('type')!r}")
        return cls(
            int(data["input_dim"]), tuple(int(h) for h in data["hidden_units"]), float(data["dropout"])
        )


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout blocks, then a single-logit head."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = arch.input_dim
        for units in arch.hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(arch.dropout)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)
