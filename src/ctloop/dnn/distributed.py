"""Process-group setup from the torchrun / Azure ML environment, and the few collectives used.

``torchrun`` and Azure ML's ``distribution: type: pytorch`` both set RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT. Without them (or with WORLD_SIZE=1) the trainer runs as one process
with no process group. The backend is NCCL on CUDA and gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the job and which device it trains on."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None

    def describe(self) -> str:
        return f"rank {self.rank}/{self.world_size}"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None


def pick_device(preference: str, local_rank: int) -> torch.device:
    """``auto``: CUDA (this process's LOCAL_RANK device) when available, else CPU."""
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("device: cuda requested but torch sees no CUDA device")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def setup(device_preference: str, *, use_env: bool = True) -> DistContext:
    """Read the launcher's environment and join the process group when WORLD_SIZE > 1."""
    world = _env_int("WORLD_SIZE", 1) if use_env else 1
    rank = _env_int("RANK", 0) if use_env else 0
    local_rank = _env_int("LOCAL_RANK", 0) if use_env else 0
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"RANK={rank} and WORLD_SIZE={world} are inconsistent")
    device = pick_device(device_preference, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = None
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            kwargs: dict[str, Any] = {"backend": backend, "init_method": "env://"}
            if device.type == "cuda":
                kwargs["device_id"] = device
            dist.init_process_group(**kwargs)
    return DistContext(rank, local_rank, world, device, backend)


def teardown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_object(ctx: DistContext, obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=ctx.device if ctx.backend == "nccl" else None)
    return box[0]


def gather_objects(ctx: DistContext, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def any_rank0_flag(ctx: DistContext, flag: bool) -> bool:
    """Rank 0's boolean, agreed by all ranks (one tiny broadcast)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=ctx.device)
    dist.broadcast(t, src=0)
    return bool(t.item())


def all_mean(ctx: DistContext, total: torch.Tensor, count: torch.Tensor) -> float:
    """Global mean of per-rank sums and counts."""
    if ctx.distributed:
        both = torch.stack([total.double(), count.double()]).to(ctx.device)
        dist.all_reduce(both)
        total, count = both[0], both[1]
    return float(total.item() / max(count.item(), 1.0))
