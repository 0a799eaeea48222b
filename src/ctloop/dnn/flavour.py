"""The ``ctloop_torch`` MLflow flavour: load a trained MLP without arbitrary pickle.

A model folder holds ``MLmodel`` (flavours ``ctloop_torch`` and ``python_function``),
``data/weights.pt`` (``torch.save`` of a state_dict, read back with ``weights_only=True``),
``data/architecture.json`` and ``data/preprocessing.json`` (feature names, standardisation
statistics, label). :func:`load` returns an object whose ``predict_proba(frame)`` gives the
probability of the positive class, the same interface as the tabular trainer's models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from ctloop.dnn import FLAVOUR
from ctloop.dnn.data import Standardizer, feature_matrix
from ctloop.dnn.errors import DnnError
from ctloop.dnn.model import MLP, Architecture

FLAVOUR_FORMAT = 1
WEIGHTS = "data/weights.pt"
ARCHITECTURE = "data/architecture.json"
PREPROCESSING = "data/preprocessing.json"
_CHUNK = 65536


def flavour_config(model_dir: str | Path) -> dict[str, Any]:
    """The ``ctloop_torch`` section of ``MLmodel``; DnnError if the folder is not such a model."""
    path = Path(model_dir) / "MLmodel"
    if not path.is_file():
        raise DnnError(path, "<file>", "MLmodel not found (not an MLflow model folder)")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DnnError(path, "<yaml>", f"invalid YAML: {exc}") from None
    flavours = spec.get("flavors") if isinstance(spec, dict) else None
    if not isinstance(flavours, dict) or FLAVOUR not in flavours:
        raise DnnError(
            path, f"flavors.{FLAVOUR}", f"not a {FLAVOUR} model (flavours: {sorted(flavours or {})})"
        )
    conf = flavours[FLAVOUR]
    if not isinstance(conf, dict) or conf.get("format") != FLAVOUR_FORMAT:
        raise DnnError(path, f"flavors.{FLAVOUR}.format", f"unsupported format {conf!r}")
    return conf


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DnnError(path, "<file>", "missing from the model folder") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DnnError(path, "<json>", f"unreadable: {exc}") from None
    if not isinstance(data, dict):
        raise DnnError(path, "<root>", "not a JSON object")
    return data


class TorchClassifier:
    """A loaded MLP with its preprocessing: ``predict_proba(frame) -> ndarray`` (positive class)."""

    def __init__(self, net: MLP, standardizer: Standardizer, label: str | None, source: Path) -> None:
        self.net = net.eval()
        self.standardizer = standardizer
        self.features = list(standardizer.features)
        self.label = label
        self.source = source

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class for each row (1-D float64 array)."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"predict_proba expects a pandas DataFrame, got {type(frame).__name__}")
        x = self.standardizer.transform(feature_matrix(frame, self.features, "<input frame>"))
        out = np.empty(len(x), dtype=np.float64)
        with torch.inference_mode():
            for start in range(0, len(x), _CHUNK):
                logits = self.net(torch.from_numpy(x[start : start + _CHUNK]))
                out[start : start + _CHUNK] = torch.sigmoid(logits.float()).numpy()
        return out


def load(path: str | Path) -> TorchClassifier:
    """Load a ``ctloop_torch`` model folder (weights with ``weights_only=True``, on CPU)."""
    root = Path(path)
    conf = flavour_config(root)
    arch_path = root / conf.get("architecture", ARCHITECTURE)
    try:
        arch = Architecture.from_dict(_read_json(arch_path))
    except (KeyError, TypeError, ValueError) as exc:
        raise DnnError(arch_path, "architecture", str(exc)) from None
    pre_path = root / conf.get("preprocessing", PREPROCESSING)
    pre = _read_json(pre_path)
    standardizer = Standardizer.from_dict(pre, pre_path)
    if len(standardizer.features) != arch.input_dim:
        raise DnnError(
            pre_path, "features", f"{len(standardizer.features)} features, network expects {arch.input_dim}"
        )
    weights = root / conf.get("weights", WEIGHTS)
    if not weights.is_file():
        raise DnnError(weights, "<file>", "weights missing from the model folder")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # damaged archive, or an object outside the weights-only allowlist
        raise DnnError(weights, "<weights>", f"cannot be loaded with weights_only=True: {exc}") from None
    net = MLP(arch)
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise DnnError(weights, "state_dict", f"does not match the architecture: {exc}") from None
    return TorchClassifier(net, standardizer, pre.get("label"), root)


class _PyFunc:
    """``mlflow.pyfunc`` wrapper: ``predict`` returns the positive-class probability."""

    def __init__(self, model: TorchClassifier) -> None:
        self.model = model

    def get_raw_model(self) -> TorchClassifier:
        return self.model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return self.model.predict_proba(pd.DataFrame(model_input))


def _load_pyfunc(path: str) -> _PyFunc:
    """Entry point named in MLmodel's python_function flavour (``path`` is the model's data folder)."""
    p = Path(path)
    root = p if (p / "MLmodel").is_file() else p.parent
    return _PyFunc(load(root))
