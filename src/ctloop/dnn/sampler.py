"""Which rows each process trains on at every step: a seeded permutation per epoch.

Epoch ``e`` shuffles the rows with ``torch.randperm`` seeded by ``seed + e``, so the order is the
same on every process and after every restart. Step ``s`` takes the global batch
``order[s*B:(s+1)*B]`` and process ``r`` of ``W`` takes its contiguous ``B/W`` share, so the
trajectory does not depend on the process count and resuming at (epoch, step) skips exactly the
batches already consumed. The rows past the last full batch are left out of that epoch (a different
handful every epoch).
"""

from __future__ import annotations

import torch


class EpochBatches:
    """Reproducible per-epoch batches, sharded over ``world_size`` processes."""

    def __init__(self, rows: int, batch_size: int, world_size: int, rank: int, seed: int) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
        if rows < batch_size:
            raise ValueError(f"batch_size {batch_size} is larger than the {rows} training rows")
        self.rows = rows
        self.batch_size = batch_size
        self.per_rank = batch_size // world_size
        self.rank = rank
        self.seed = seed
        self.steps_per_epoch = rows // batch_size
        self._epoch = -1
        self._order = torch.empty(0, dtype=torch.long)

    def order(self, epoch: int) -> torch.Tensor:
        """The permutation of all rows for ``epoch`` (cached for the current epoch)."""
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            self._order = torch.randperm(self.rows, generator=gen)
            self._epoch = epoch
        return self._order

    def indices(self, epoch: int, step: int) -> torch.Tensor:
        """This process's row indices for ``step`` (0-based) of ``epoch``."""
        if not 0 <= step < self.steps_per_epoch:
            raise IndexError(f"step {step} outside epoch of {self.steps_per_epoch} steps")
        start = step * self.batch_size + self.rank * self.per_rank
        return self.order(epoch)[start : start + self.per_rank]
