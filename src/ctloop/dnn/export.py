"""Write the model folder: the ``ctloop_torch`` flavour plus ctloop's lineage files.

Same contract as the tabular trainer (docs/architecture.md, ``ctloop.modeling``): MLflow files at
the top, ``ctloop/training.json`` (trainer, params, features, label, training window, metrics) and
``ctloop/reference.parquet`` (a seeded sample of the training window in time order, the drift
reference). ``MLmodel`` is written last, so a folder without it is an unfinished write.
"""

from __future__ import annotations

import json
import platform
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml

import ctloop
from ctloop import lineage, metrics, modeling
from ctloop.dnn import FLAVOUR, TRAINER
from ctloop.dnn.checkpoint import atomic_write_bytes, serialise
from ctloop.dnn.config import DnnConfig
from ctloop.dnn.data import Dataset, Standardizer, label_vector
from ctloop.dnn.flavour import ARCHITECTURE, FLAVOUR_FORMAT, PREPROCESSING, WEIGHTS, TorchClassifier
from ctloop.dnn.model import Architecture
from ctloop.dnn.result import FitResult

#: What a served ctloop_torch model needs besides ctloop itself, pinned to the installed versions.
RUNTIME_PACKAGES: tuple[str, ...] = ("torch", "numpy", "pandas", "pyyaml")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def pip_requirements() -> list[str]:
    pins = []
    for name in RUNTIME_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name).split('+')[0]}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def _write_payload(
    out: Path, net: torch.nn.Module, arch: Architecture, standardizer: Standardizer, label: str | None
) -> None:
    (out / "data").mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(out / WEIGHTS, serialise(state))
    _write_json(out / ARCHITECTURE, arch.to_dict())
    _write_json(out / PREPROCESSING, standardizer.to_dict() | {"label": label, "positive": 1})
    atomic_write_bytes(out / "requirements.txt", ("\n".join(pip_requirements()) + "\n").encode())
    env = f"python: {platform.python_version()}\nbuild_dependencies:\n- pip\n"
    env += "dependencies:\n- -r requirements.txt\n"
    atomic_write_bytes(out / "python_env.yaml", env.encode())


def _mlflow_version() -> str | None:
    for dist in ("mlflow-skinny", "mlflow"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def mlmodel(features: list[str]) -> dict[str, Any]:
    """The ``MLmodel`` document (MLflow's format, written without importing MLflow: the step
    stays light; tests read it back with ``mlflow.pyfunc.load_model``)."""
    column = [{"type": "double", "name": f, "required": True} for f in features]
    output = [{"type": "double", "name": "probability", "required": True}]
    return {
        "flavors": {
            FLAVOUR: {
                "format": FLAVOUR_FORMAT,
                "weights": WEIGHTS,
                "architecture": ARCHITECTURE,
                "preprocessing": PREPROCESSING,
                "torch_version": str(torch.__version__),
                "loader": "ctloop.dnn.flavour:load",
            },
            "python_function": {
                "loader_module": "ctloop.dnn.flavour",
                "data": "data",
                "env": {"virtualenv": "python_env.yaml"},
                "python_version": platform.python_version(),
            },
        },
        "mlflow_version": _mlflow_version(),
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "signature": {"inputs": json.dumps(column), "outputs": json.dumps(output), "params": None},
    }


def _write_mlmodel(out: Path, features: list[str]) -> None:
    text = yaml.safe_dump(mlmodel(features), default_flow_style=False, sort_keys=True)
    atomic_write_bytes(out / "MLmodel", text.encode())


def write_flavour(
    out: Path, net: torch.nn.Module, arch: Architecture, standardizer: Standardizer, label: str | None
) -> Path:
    """An MLflow model folder with the ``ctloop_torch`` flavour only (no lineage files)."""
    out.mkdir(parents=True, exist_ok=True)
    _write_payload(out, net, arch, standardizer, label)
    _write_mlmodel(out, standardizer.features)
    return out


def reference_sample(ds: Dataset, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows drawn uniformly from the window, kept in time order (time, features, label)."""
    frame = ds.frame
    sample = frame if len(frame) <= rows else frame.sample(n=rows, random_state=seed % 2**32).sort_index()
    keep = [c for c in [ds.manifest.get("time_column"), *ds.features, ds.label] if c and c in frame.columns]
    return sample[list(dict.fromkeys(keep))].reset_index(drop=True)


def training_info(
    result: FitResult, cfg: DnnConfig, train: Dataset, evaluation: Dataset | None, reference_rows: int
) -> dict[str, Any]:
    """The content of ``ctloop/training.json`` (same keys as the tabular trainer, plus the run)."""
    m = train.manifest
    classifier = TorchClassifier(result.net.to("cpu"), result.standardizer, train.label, train.path)
    report = metrics.report(label_vector(train), classifier.predict_proba(train.frame))
    return {
        "trainer": TRAINER,
        "flavour": FLAVOUR,
        "options": {},
        "params": cfg.params(),
        "ignored_options": [],
        "features": train.features,
        "label": train.label,
        "time_column": m.get("time_column"),
        "training_window": m.get("time_range"),
        "rows": len(train.frame),
        "data": {k: m.get(k) for k in ("name", "content_hash", "source")},
        "eval_window": None if evaluation is None else evaluation.manifest.get("time_range"),
        "metrics": {f"train_{k}": v for k, v in report.items()} | result.metrics,
        "history": result.history,
        "fit_seconds": round(result.fit_seconds, 3),
        "reference_rows": reference_rows,
        "run": {
            "steps": result.steps,
            "world_size": result.world_size,
            "device": result.device,
            "precision": result.precision,
            "resumed_from": result.resumed_from,
            "checkpoints_written": result.checkpoints_written,
            "torch": str(torch.__version__),
        },
        "code_hash": lineage.code_snapshot_hash(),
        "ctloop_version": ctloop.__version__,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }


def write_model(
    out: Path, result: FitResult, cfg: DnnConfig, train: Dataset, evaluation: Dataset | None
) -> Path:
    """The whole model folder: flavour files, ``ctloop/`` lineage files, then ``MLmodel``."""
    out.mkdir(parents=True, exist_ok=True)
    _write_payload(out, result.net, result.architecture, result.standardizer, train.label)
    reference = reference_sample(train, cfg.reference_rows, cfg.training.seed)
    info = training_info(result, cfg, train, evaluation, len(reference))
    modeling.write_training_info(out, info, reference)
    _write_mlmodel(out, train.features)
    return out
