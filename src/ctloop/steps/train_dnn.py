"""Step ``train_dnn``: train the PyTorch MLP, checkpointing so a preempted job resumes exactly.

    python -m ctloop.steps.train_dnn --train DIR [--eval DIR] --policies DIR --model DIR \
        [--checkpoints DIR]

Runs as one process, or as one of several under torchrun / Azure ML ``distribution: pytorch``
(RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): DDP over NCCL on GPUs, gloo on CPU.
Settings come from ``<policies>/dnn.yml``. Rank 0 writes the checkpoints and the model folder.
Exit 0 on success; on bad input one line ``train_dnn: <file>: <field>: <reason>`` and exit 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

STEP = "train_dnn"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0])
    p.add_argument(
        "--train", required=True, help="prepared training dataset folder (data.parquet + manifest)"
    )
    p.add_argument("--eval", default=None, help="optional eval dataset folder (per-epoch eval metrics)")
    p.add_argument("--policies", required=True, help="policies folder holding dnn.yml and schemas/")
    p.add_argument("--model", required=True, help="output: the MLflow model folder")
    p.add_argument(
        "--checkpoints", default=None, help="output (rw_mount): checkpoint folder; resumes from it"
    )
    return p.parse_args(argv)


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
    args = parse_args(argv)
    configure_logging()
    from ctloop.dnn.config import load_config
    from ctloop.dnn.errors import DnnError
    from ctloop.dnn.tracking import Tracker
    from ctloop.dnn.train import fit_from_dataset
    from ctloop.policies import PolicyError

    is_main = os.environ.get("RANK", "0") == "0"
    try:
        cfg = load_config(args.policies)
        with Tracker(enabled=is_main) as tracker:
            tracker.log_params({"trainer": "dnn"} | cfg.params())
            result = fit_from_dataset(
                args.train,
                args.model,
                cfg,
                eval_dir=args.eval,
                checkpoint_dir=args.checkpoints,
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
