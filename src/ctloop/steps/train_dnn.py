"""Step ``train_dnn``: train the PyTorch MLP, checkpointing so a preempted job resumes exactly.

    python -m ctloop.steps.train_dnn --train DIR [--eval DIR] --policies DIR --model DIR \
        [--checkpoints DIR]

Runs as one process, or as one of several under torchrun / Azure ML ``distribution: pytorch``
(RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): DDP over NCCL on GPUs, gloo on CPU.
Settings come from ``<policies>/dnn.yml``. Rank 0 writes the checkpoints and the model folder.
A ``--train`` folder holding prep's ``no_candidate.json`` (no recent-window candidate is due) is
not an error: the model folder gets the same file and nothing is trained.
Exit 0 on success; on bad input one line ``train_dnn: <file>: <field>: <reason>`` and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STEP = "train_dnn"


@dataclass(frozen=True)
class TrainDnnConfig:
    """The step's arguments."""

    train: Path
    policies: Path
    model: Path
    eval: Path | None = None
    checkpoints: Path | None = None


def parse_args(argv: Sequence[str] | None) -> TrainDnnConfig:
    p = argparse.ArgumentParser(prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0])
    p.add_argument(
        "--train", required=True, type=Path, help="prepared training dataset folder (data.parquet + manifest)"
    )
    p.add_argument(
        "--eval", default=None, type=Path, help="optional eval dataset folder (per-epoch eval metrics)"
    )
    p.add_argument(
        "--policies", required=True, type=Path, help="policies folder holding dnn.yml and schemas/"
    )
    p.add_argument("--model", required=True, type=Path, help="output: the MLflow model folder")
    p.add_argument(
        "--checkpoints", default=None, type=Path, help="output (rw_mount): checkpoint folder; resumes from it"
    )
    args = p.parse_args(argv)
    return TrainDnnConfig(
        train=args.train,
        policies=args.policies,
        model=args.model,
        eval=args.eval,
        checkpoints=args.checkpoints,
    )


def configure_logging() -> None:
    """One prefix per process so interleaved torchrun output stays readable."""
    rank, world = os.environ.get("RANK", "0"), os.environ.get("WORLD_SIZE", "1")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{STEP} [rank {rank}/{world}]: %(message)s"))
    logger = logging.getLogger("ctloop.dnn")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    configure_logging()
    from ctloop.steps import NO_CANDIDATE_FILE, pass_on_no_candidate

    if os.environ.get("RANK", "0") != "0" and (config.train / NO_CANDIDATE_FILE).is_file():
        return 0  # rank 0 alone writes the model folder
    skipped = pass_on_no_candidate(STEP, config.train, config.model)
    if skipped is not None:
        return skipped
    from ctloop.dnn.config import load_config
    from ctloop.dnn.errors import DnnError
    from ctloop.dnn.tracking import Tracker
    from ctloop.dnn.train import fit_from_dataset
    from ctloop.policies import PolicyError

    is_main = os.environ.get("RANK", "0") == "0"
    try:
        cfg = load_config(config.policies)
        with Tracker(enabled=is_main) as tracker:
            tracker.log_params({"trainer": "dnn"} | cfg.params())
            result = fit_from_dataset(
                config.train,
                config.model,
                cfg,
                eval_dir=config.eval,
                checkpoint_dir=config.checkpoints,
                distributed=True,
                on_epoch=tracker.log_epoch,
            )
            tracker.log_tags(
                {
                    "ctloop.trainer": "dnn",
                    "ctloop.world_size": result.world_size,
                    "ctloop.device": result.device,
                    "ctloop.precision": result.precision,
                    "ctloop.resumed_from": result.resumed_from or "",
                }
            )
    except (DnnError, PolicyError) as exc:
        print(f"{STEP}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
