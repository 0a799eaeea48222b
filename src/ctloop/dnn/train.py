"""The training loop: DDP over NCCL/gloo, mixed precision on CUDA, checkpoints, exact resume.

``fit_from_dataset`` is the one entry point: the distributed ``train_dnn`` step calls it under
torchrun / Azure ML (``distributed=True``) and the tabular ``train`` step calls it for
``trainer: dnn`` as a single process. A run resumed from a checkpoint ends with the same weights as
an uninterrupted one (bitwise on CPU with deterministic algorithms and a fixed thread count): the
checkpoint holds the model, optimizer, scheduler and gradient-scaler states, the position (epoch and
step within it; the per-epoch row order is a pure function of the seed), every process's RNG
states and its running loss, and the per-epoch history.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from ctloop import metrics
from ctloop.dnn import rng
from ctloop.dnn.checkpoint import CheckpointStore
from ctloop.dnn.config import DnnConfig, load_config
from ctloop.dnn.data import Dataset, Standardizer, feature_matrix, label_vector, read_dataset
from ctloop.dnn.distributed import (
    DistContext,
    all_mean,
    any_rank0_flag,
    broadcast_object,
    gather_objects,
    setup,
    teardown,
)
from ctloop.dnn.errors import DnnError
from ctloop.dnn.model import MLP, Architecture
from ctloop.dnn.result import FitResult
from ctloop.dnn.sampler import EpochBatches

log = logging.getLogger("ctloop.dnn")

CHECKPOINT_FORMAT = 1
# Test and demo hook: seconds to sleep after every optimizer step, so that a kill lands mid-epoch.
STEP_SLEEP_ENV = "CTLOOP_DNN_STEP_SLEEP"
_REQUIRED = ("model", "optimizer", "scheduler", "scaler", "epoch", "step_in_epoch", "global_step")

EpochCallback = Callable[[dict[str, Any]], None]


def amp_settings(precision: str, device: torch.device) -> tuple[torch.dtype | None, bool]:
    """(autocast dtype or None, use a GradScaler). CPU always trains in fp32."""
    if device.type != "cuda" or precision == "fp32":
        return None, False
    if precision == "bf16":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, False
        log.warning(
            "bf16 is not supported on %s: using fp16 with a gradient scaler",
            torch.cuda.get_device_name(device),
        )
    return torch.float16, True


def configure_torch(cfg: DnnConfig) -> None:
    """Threads and determinism, before any CUDA work."""
    if cfg.training.threads > 0:
        torch.set_num_threads(cfg.training.threads)
    if cfg.training.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


class Trainer:
    """One training run on one process of the job."""

    def __init__(
        self,
        cfg: DnnConfig,
        ctx: DistContext,
        train: Dataset,
        evaluation: Dataset | None = None,
        store: CheckpointStore | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> None:
        self.cfg, self.ctx, self.store, self.on_epoch = cfg, ctx, store, on_epoch
        t = cfg.training
        dev = ctx.device
        x_raw = feature_matrix(train.frame, train.features, train.path)
        self.standardizer = Standardizer.fit(x_raw, train.features)
        self.x = torch.from_numpy(self.standardizer.transform(x_raw)).to(dev)
        self.y = torch.from_numpy(label_vector(train)).to(dev)
        self.eval_xy: tuple[torch.Tensor, np.ndarray] | None = None
        if evaluation is not None:
            xe = feature_matrix(evaluation.frame, train.features, evaluation.path)
            self.eval_xy = (
                torch.from_numpy(self.standardizer.transform(xe)).to(dev),
                label_vector(evaluation),
            )
        try:
            self.batches = EpochBatches(len(self.x), t.batch_size, ctx.world_size, ctx.rank, t.seed)
        except ValueError as exc:
            raise DnnError(cfg.source, "training.batch_size", str(exc)) from None
        self.total_steps = t.epochs * self.batches.steps_per_epoch
        self.fingerprint = (
            f"{cfg.fingerprint()}:{train.content_hash}:{','.join(train.features)}:{train.label}"
        )

        self.arch = Architecture(len(train.features), cfg.model.hidden_units, cfg.model.dropout)
        rng.seed_all(t.seed)  # identical initial weights on every process
        self.net = MLP(self.arch).to(dev)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=t.learning_rate, weight_decay=t.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(self.total_steps, 1))
        self.amp_dtype, use_scaler = amp_settings(t.precision, dev)
        self.scaler = torch.amp.GradScaler(dev.type, enabled=use_scaler)
        rng.seed_all(t.seed + 1 + ctx.rank)  # each process its own dropout stream

        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        self.loss_batches = 0
        self.history: list[dict[str, Any]] = []
        self.resumed_from: str | None = None
        self.resumed_complete = False
        self.skipped: list[tuple[str, str]] = []
        self.written = 0
        self.sleep = float(os.environ.get(STEP_SLEEP_ENV, "0") or 0)

    # ----- checkpoints -----

    def _accept(self, state: dict[str, Any]) -> str:
        missing = [k for k in _REQUIRED if k not in state]
        return f"missing entries {missing}" if missing else ""

    def resume(self) -> None:
        """Restore the newest intact checkpoint, if any (rank 0 picks it; every rank loads it)."""
        if self.store is None:
            return
        choice, state = None, None
        if self.ctx.is_main:
            loaded = self.store.load_latest("cpu", accept=self._accept)
            if loaded is None:
                log.info("no usable checkpoint in %s: starting from scratch", self.store.dir)
            else:
                choice, state, self.skipped = loaded.entry.file, loaded.state, loaded.skipped
        choice = broadcast_object(self.ctx, choice)
        if choice is None:
            return
        if state is None:  # the other ranks read the file rank 0 verified
            state = self.store.load_file(choice, "cpu")
        if state.get("fingerprint") != self.fingerprint:
            raise DnnError(
                self.store.dir / choice,
                "fingerprint",
                "written by a run with other settings or data; use an empty checkpoint folder",
            )
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state["step_in_epoch"])
        self.global_step = int(state["global_step"])
        self.history = list(state.get("history", []))
        ranks = state.get("rank_states", [])
        if len(ranks) == self.ctx.world_size:
            mine = ranks[self.ctx.rank]
            rng.restore(mine["rng"], self.ctx.device)
            self.loss_sum.fill_(float(mine["loss_sum"]))
            self.loss_batches = int(mine["loss_batches"])
        else:
            if self.ctx.is_main:
                log.warning(
                    "%s was written by %d processes, this run has %d: RNG streams reseeded",
                    choice,
                    len(ranks),
                    self.ctx.world_size,
                )
            rng.seed_all(self.cfg.training.seed + 1 + self.ctx.rank + 7919 * self.global_step)
            if self.ctx.is_main:
                self.loss_sum.fill_(sum(float(r["loss_sum"]) for r in ranks))
                self.loss_batches = sum(int(r["loss_batches"]) for r in ranks)
        self.resumed_from = choice
        self.resumed_complete = bool(state.get("complete", False))
        if self.ctx.is_main:
            log.info(
                "resumed from %s: epoch %d, step %d of %d (global step %d of %d)",
                self.store.dir / choice,
                self.epoch,
                self.step_in_epoch,
                self.batches.steps_per_epoch,
                self.global_step,
                self.total_steps,
            )

    def checkpoint(self, complete: bool = False) -> None:
        """Collect every rank's RNG and loss state; rank 0 writes (a collective: all ranks call it).

        Periodic checkpoints are written in the background; the final one is written before
        returning."""
        mine = {
            "rng": rng.capture(self.ctx.device),
            "loss_sum": float(self.loss_sum.item()),
            "loss_batches": self.loss_batches,
        }
        ranks = gather_objects(self.ctx, mine)
        if not self.ctx.is_main or self.store is None:
            return
        state = {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": self.fingerprint,
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "steps_per_epoch": self.batches.steps_per_epoch,
            "world_size": self.ctx.world_size,
            "rank_states": ranks,
            "history": self.history,
            "complete": complete,
        }
        meta = {
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "of": self.batches.steps_per_epoch,
            "complete": complete,
        }
        if complete:
            self.store.wait()
            self.store.save(state, self.global_step, meta)
        else:
            self.store.save_async(state, self.global_step, meta)
        self.written += 1

    # ----- training -----

    def _evaluate(self) -> dict[str, float]:
        if self.eval_xy is None or len(self.eval_xy[1]) == 0:
            return {}
        x, y = self.eval_xy
        self.net.eval()
        with torch.inference_mode():
            logits = self.net(x).float()
            loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y).to(logits.device))
            prob = torch.sigmoid(logits).cpu().numpy()
        self.net.train()
        out = {"eval_loss": float(loss.item())}
        if metrics.has_both_classes(y):
            out["eval_roc_auc"] = metrics.roc_auc(y, prob)
        return out

    def _end_epoch(self) -> None:
        count = torch.tensor(float(self.loss_batches), dtype=torch.float64, device=self.ctx.device)
        train_loss = all_mean(self.ctx, self.loss_sum, count)
        if self.ctx.is_main:
            record: dict[str, Any] = {"epoch": self.epoch, "step": self.global_step, "train_loss": train_loss}
            record |= self._evaluate()
            self.history.append(record)
            log.info(
                "epoch %d: %s",
                self.epoch,
                ", ".join(f"{k}={v:.5g}" for k, v in record.items() if k != "epoch"),
            )
            if self.on_epoch is not None:
                self.on_epoch(record)
        self.loss_sum.zero_()
        self.loss_batches = 0
        self.epoch += 1
        self.step_in_epoch = 0

    def _due(self, last_save: float) -> bool:
        c = self.cfg.checkpoint
        if self.store is None or self.global_step >= self.total_steps:
            return False
        if c.every_steps and self.global_step % c.every_steps == 0:
            return True
        if not c.every_minutes:
            return False
        late = self.ctx.is_main and time.monotonic() - last_save >= 60.0 * c.every_minutes
        return any_rank0_flag(self.ctx, late)

    def fit(self) -> FitResult:
        """Train to the configured number of epochs, resuming first when a checkpoint exists."""
        self.resume()
        ddp: torch.nn.Module = self.net
        if self.ctx.distributed:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            ddp = DistributedDataParallel(self.net, device_ids=ids)
        self.net.train()
        spe = self.batches.steps_per_epoch
        last_save = time.monotonic()
        autocast = self.amp_dtype is not None
        while self.epoch < self.cfg.training.epochs:
            while self.step_in_epoch < spe:
                idx = self.batches.indices(self.epoch, self.step_in_epoch).to(
                    self.ctx.device, non_blocking=True
                )
                xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
                with torch.autocast(self.ctx.device.type, dtype=self.amp_dtype, enabled=autocast):
                    logits = ddp(xb)
                loss = F.binary_cross_entropy_with_logits(logits.float(), yb)
                self.opt.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.opt)
                self.scaler.update()
                self.sched.step()
                self.loss_sum += loss.detach()
                self.loss_batches += 1
                self.step_in_epoch += 1
                self.global_step += 1
                if self._due(last_save):
                    self.checkpoint()
                    last_save = time.monotonic()
                if self.sleep:
                    time.sleep(self.sleep)
            self._end_epoch()
        if self.store is not None and not self.resumed_complete:
            self.checkpoint(complete=True)
        return self._result()

    @property
    def precision(self) -> str:
        """The precision actually used: bf16 / fp16 autocast on CUDA, else fp32."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32")  # type: ignore[arg-type]

    def _result(self) -> FitResult:
        last = self.history[-1] if self.history else {}
        metrics = {k: float(v) for k, v in last.items() if k not in ("epoch", "step")}
        precision = self.precision
        return FitResult(
            net=self.net,
            architecture=self.arch,
            standardizer=self.standardizer,
            metrics=metrics,
            history=self.history,
            steps=self.global_step,
            world_size=self.ctx.world_size,
            device=str(self.ctx.device),
            precision=precision,
            resumed_from=self.resumed_from,
            checkpoints_written=self.written,
            skipped_checkpoints=self.skipped,
            is_main=self.ctx.is_main,
        )


def _as_config(config: DnnConfig | Mapping[str, Any] | None, policies: str | Path | None) -> DnnConfig:
    if isinstance(config, DnnConfig):
        return config
    if config is not None:
        return DnnConfig.from_dict(dict(config))
    return load_config(policies)


def fit(
    cfg: DnnConfig,
    train: Dataset,
    evaluation: Dataset | None = None,
    *,
    checkpoint_dir: str | Path | None = None,
    distributed: bool = False,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train on in-memory datasets; join the launcher's process group when ``distributed``."""
    configure_torch(cfg)
    ctx = setup(cfg.training.device, use_env=distributed)
    start = time.perf_counter()
    try:
        store = None
        if checkpoint_dir is not None:
            store = CheckpointStore(checkpoint_dir, cfg.checkpoint.keep_last, rank=ctx.rank)
        trainer = Trainer(cfg, ctx, train, evaluation, store, on_epoch)
        log.info(
            "%s (pid %d) training on %s (%s, %s): %d rows, %d steps per epoch, %d epochs",
            ctx.describe(),
            os.getpid(),
            ctx.device,
            ctx.backend or "single process",
            trainer.precision,
            len(trainer.x),
            trainer.batches.steps_per_epoch,
            cfg.training.epochs,
        )
        try:
            result = trainer.fit()
        except BaseException:
            if store is not None:
                with contextlib.suppress(Exception):  # keep the original error
                    store.close()
            raise
        if store is not None:
            store.close()
    finally:
        teardown(ctx)
    result.fit_seconds = time.perf_counter() - start
    return result


def fit_from_dataset(
    train_dir: str | Path,
    out_dir: str | Path | None,
    config: DnnConfig | Mapping[str, Any] | None = None,
    *,
    eval_dir: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    policies: str | Path | None = None,
    distributed: bool = False,
    on_epoch: EpochCallback | None = None,
) -> FitResult:
    """Train on a prepared dataset folder and (rank 0) write the model folder to ``out_dir``.

    ``config`` defaults to ``dnn.yml`` in ``policies`` (see :func:`ctloop.dnn.config.find_policies`).
    ``distributed=True`` joins the process group described by the torchrun / Azure ML environment
    (one process when there is none). ``checkpoint_dir`` enables checkpoints and resume.
    Raises DnnError / PolicyError on bad input, before any state changes.
    """
    cfg = _as_config(config, policies)
    train = read_dataset(train_dir)
    evaluation = read_dataset(eval_dir) if eval_dir else None
    result = fit(
        cfg, train, evaluation, checkpoint_dir=checkpoint_dir, distributed=distributed, on_epoch=on_epoch
    )
    if out_dir is not None and result.is_main:
        from ctloop.dnn.export import write_model

        write_model(Path(out_dir), result, cfg, train, evaluation)
        log.info("model written to %s", out_dir)
    return result
