"""train: the training-window dataset folder -> a challenger model folder (mlflow_model).

``python -m ctloop.steps.train --train DIR --trainer hgb --model OUT [--max_iter N] [--learning_rate X]
[--max_depth N] [--n_estimators N] [--seed N] [--reference_rows N]``

A ``--train`` folder holding prep's ``no_candidate.json`` (no recent-window candidate is due) is
not an error: the model folder gets the same file and nothing is trained.

Features and label come from the dataset's manifest. The trainer (``ctloop.trainers.TRAINERS``)
fits a binary classifier; the model folder gets the MLflow files (skops, signature, pinned pip
requirements), ``ctloop/training.json`` and ``ctloop/reference.parquet`` (at most
``--reference_rows`` rows sampled from the training window, in time order: the drift reference).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import ctloop
from ctloop import lineage, metrics, modeling, trainers
from ctloop.policies import POLICIES_ENV
from ctloop.steps import fail, log_mlflow, pass_on_no_candidate
from ctloop.tabular import DataError, read_dataset

STEP = "train"
#: Hyperparameter flags passed through to the trainer when given.
HYPERPARAMETERS: dict[str, type] = {
    "max_iter": int,
    "learning_rate": float,
    "max_depth": int,
    "n_estimators": int,
    "seed": int,
}


@dataclass(frozen=True)
class TrainConfig:
    """The step's arguments."""

    train: Path
    model: Path
    reference_rows: int
    trainer: str = "hgb"
    options: dict[str, Any] = field(default_factory=dict)  # hyperparameters given (HYPERPARAMETERS)
    policies: Path | None = None


def labelled_frame(frame: pd.DataFrame, manifest: dict[str, Any], folder: Path) -> tuple[list[str], str]:
    """The manifest's features and label, checked against the frame; DataError names the problem."""
    features = [str(f) for f in manifest.get("features") or []]
    label = manifest.get("label")
    manifest_file = folder / "manifest.json"
    if not features:
        raise DataError(manifest_file, "features", "the manifest lists no features")
    if not label:
        raise DataError(manifest_file, "label", "the manifest names no label")
    missing = [c for c in [*features, label] if c not in frame.columns]
    if missing:
        raise DataError(folder / "data.parquet", ",".join(missing), "column(s) missing")
    values = frame[label]
    if values.isna().any():
        raise DataError(folder / "data.parquet", label, f"{int(values.isna().sum())} row(s) without a label")
    if not set(np.unique(values)).issubset({0, 1}):
        raise DataError(folder / "data.parquet", label, "label values must be 0/1")
    return features, str(label)


def reference_sample(
    frame: pd.DataFrame, columns: list[str], time_column: str | None, rows: int, seed: int
) -> pd.DataFrame:
    """At most ``rows`` rows drawn uniformly from the window, kept in time order."""
    sample = frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed).sort_index()
    keep = [c for c in [time_column, *columns] if c and c in frame.columns]
    return sample[list(dict.fromkeys(keep))].reset_index(drop=True)


def train(args: TrainConfig) -> int:
    """Fit the trainer on the training window; write the model folder."""
    skipped = pass_on_no_candidate(STEP, args.train, args.model)
    if skipped is not None:
        return skipped
    try:
        frame, manifest = read_dataset(args.train)
        features, label = labelled_frame(frame, manifest, args.train)
        trainer = trainers.get_trainer(args.trainer)
    except DataError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    except KeyError as exc:
        return fail(STEP, [("--trainer", str(exc.args[0]))])
    if args.reference_rows < 1:
        return fail(STEP, [("--reference_rows", f"must be at least 1, got {args.reference_rows}")])
    if args.model.exists() and any(args.model.iterdir()):
        return fail(STEP, [(str(args.model), "output folder is not empty")])

    options = dict(args.options)
    x, y = frame[features], frame[label].to_numpy().astype(int)
    start = time.perf_counter()
    fitted = trainer(x, y, options)
    fit_seconds = time.perf_counter() - start
    report = metrics.report(y, fitted.predict_proba(x))

    fitted.save(args.model, x.head(5))
    time_column = manifest.get("time_column")
    seed = int(options.get("seed", 0))
    reference = reference_sample(frame, [*features, label], time_column, args.reference_rows, seed)
    info = {
        "trainer": args.trainer,
        "options": options,
        "params": fitted.params,
        "ignored_options": fitted.ignored,
        "features": features,
        "label": label,
        "time_column": time_column,
        "training_window": manifest.get("time_range"),
        "candidate": str(manifest.get("candidate") or "window"),
        "rows": len(frame),
        "data": {k: manifest.get(k) for k in ("name", "content_hash", "source")},
        "metrics": {f"train_{k}": v for k, v in report.items()},
        "fit_seconds": round(fit_seconds, 3),
        "reference_rows": len(reference),
        "code_hash": lineage.code_snapshot_hash(),
        "ctloop_version": ctloop.__version__,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    modeling.write_training_info(args.model, info, reference)

    log_mlflow(
        metrics={**info["metrics"], "fit_seconds": fit_seconds, "reference_rows": len(reference)},
        params={
            "trainer": args.trainer,
            **{f"param_{k}": v for k, v in fitted.params.items()},
            "features": len(features),
            "train_content_hash": manifest.get("content_hash"),
        },
    )
    window = manifest.get("time_range") or [None, None]
    print(
        f"{STEP}: {args.trainer} on {len(frame)} rows ({window[0]} .. {window[1]}), "
        f"train roc_auc {report['roc_auc']:.4f}, fit {fit_seconds:.2f}s"
        + (f", ignored options: {', '.join(fitted.ignored)}" if fitted.ignored else "")
    )
    return 0


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """The command line as a :class:`TrainConfig`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--train", required=True, type=Path, help="training-window dataset folder")
    parser.add_argument("--trainer", default="hgb", help=f"one of: {', '.join(sorted(trainers.TRAINERS))}")
    parser.add_argument("--model", required=True, type=Path, help="output model folder")
    for name, kind in HYPERPARAMETERS.items():
        parser.add_argument(f"--{name}", type=kind, default=None, help=f"{name} (trainers that use it)")
    parser.add_argument("--reference_rows", type=int, required=True, help="cap on the drift reference sample")
    parser.add_argument(
        "--policies", type=Path, default=None, help="policies folder (trainers with settings there, e.g. dnn)"
    )
    args = parser.parse_args(argv)
    options = {k: getattr(args, k) for k in HYPERPARAMETERS if getattr(args, k) is not None}
    return TrainConfig(args.train, args.model, args.reference_rows, args.trainer, options, args.policies)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    if config.policies is not None:
        # Trainers read their reviewed settings through ctloop.policies (e.g. dnn.yml).
        os.environ[POLICIES_ENV] = str(config.policies)
    return train(config)


if __name__ == "__main__":
    sys.exit(main())
