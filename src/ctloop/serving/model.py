"""Find and load the served model: the one place a model folder becomes a classifier.

Loading goes through ``ctloop.modeling.load_classifier`` (skops with ctloop's fixed trusted-types
allow-list for sklearn; other flavours register there), so a model folder is never unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctloop.modeling import Classifier, load_classifier

MODEL_VERSION_ENV = "CTLOOP_MODEL_VERSION"


class ModelError(RuntimeError):
    """A model folder that cannot be served; the message names the file and the reason."""


def find_model_dir(root: str | Path) -> Path:
    """The folder holding ``MLmodel``: ``root`` itself or the single one below it (Azure ML nests it)."""
    root = Path(root)
    if (root / "MLmodel").is_file():
        return root
    found = sorted(p.parent for p in root.glob("*/MLmodel")) + sorted(
        p.parent for p in root.glob("*/*/MLmodel")
    )
    if len(found) != 1:
        what = "no MLmodel file" if not found else f"{len(found)} MLmodel files"
        raise ModelError(f"{root}: expected one MLflow model folder, found {what}")
    return found[0]


def model_version(model_root: str | Path) -> str:
    """``$CTLOOP_MODEL_VERSION``, else the version in an Azure ML model path, else ``unknown``."""
    explicit = os.environ.get(MODEL_VERSION_ENV)
    if explicit:
        return explicit
    parts = Path(model_root).parts
    if "azureml-models" in parts:
        i = parts.index("azureml-models")
        if len(parts) > i + 2:
            return parts[i + 2]
    return "unknown"


def load_model(model_dir: str | Path) -> Classifier:
    """Load a model folder for scoring (every flavour ``ctloop.modeling`` knows)."""
    return load_classifier(model_dir)
