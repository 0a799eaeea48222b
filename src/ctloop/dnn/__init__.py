"""PyTorch MLP trainer for the prepared tabular data: distributed, checkpointed, resumable.

Import the submodules directly (``ctloop.dnn.train``, ``ctloop.dnn.flavour``); this package
itself imports nothing heavy, so ``ctloop.modeling`` can check for the flavour without torch.
"""

from __future__ import annotations

TRAINER = "dnn"
FLAVOUR = "ctloop_torch"

__all__ = ["FLAVOUR", "TRAINER"]
