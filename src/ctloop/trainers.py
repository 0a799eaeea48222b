"""Trainers: ``TRAINERS[name](features, labels, options) -> FittedModel``.

A trainer fits a binary classifier on a feature frame and 0/1 labels. ``options`` holds only the
hyperparameters the caller set (``seed`` among them); a trainer uses the ones it knows and lists
the rest as ignored. The fitted model scores rows and writes itself as an MLflow model folder.

To add a trainer, add one entry to :data:`TRAINERS`: a callable, or a ``"module:function"``
string imported only when that trainer is chosen (so PyTorch loads only for the ``dnn``
trainer, ``"ctloop.dnn.trainer:train"``). Its model flavour must also be loadable by
:func:`ctloop.modeling.load_classifier` (see ``modeling.FLAVOR_LOADERS``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ctloop import modeling


class FittedModel(Protocol):
    """What a trainer returns."""

    params: dict[str, Any]  # the hyperparameters in effect (logged and written to training.json)
    ignored: list[str]  # options the trainer does not use

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class, one value per row."""
        ...

    def save(self, path: Path, example: pd.DataFrame) -> None:
        """Write an MLflow model folder at ``path`` (which must not exist yet)."""
        ...


Trainer = Callable[[pd.DataFrame, np.ndarray, Mapping[str, Any]], FittedModel]


class SklearnModel:
    """A fitted sklearn estimator, saved with skops."""

    def __init__(self, estimator: Any, params: dict[str, Any], ignored: list[str]) -> None:
        self.estimator = estimator
        self.params = params
        self.ignored = ignored
        self._classifier = modeling.SklearnClassifier(estimator, list(estimator.feature_names_in_))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self._classifier.predict_proba(frame)

    def save(self, path: Path, example: pd.DataFrame) -> None:
        modeling.save_sklearn(self.estimator, path, example)


def _pick(options: Mapping[str, Any], known: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Map option names to estimator parameter names; return (kwargs, ignored option names)."""
    kwargs = {known[k]: v for k, v in options.items() if k in known and v is not None}
    ignored = sorted(k for k, v in options.items() if k not in known and v is not None)
    return kwargs, ignored


def train_hgb(features: pd.DataFrame, labels: np.ndarray, options: Mapping[str, Any]) -> SklearnModel:
    """HistGradientBoostingClassifier: the default (fast on few cores, strong on tabular data)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    known = {
        "max_iter": "max_iter",
        "learning_rate": "learning_rate",
        "max_depth": "max_depth",
        "seed": "random_state",
    }
    kwargs, ignored = _pick(options, known)
    estimator = HistGradientBoostingClassifier(**kwargs).fit(features, labels)
    params = {
        k: v for k, v in estimator.get_params().items() if k in set(known.values()) | {"early_stopping"}
    }
    params["n_iter"] = int(estimator.n_iter_)
    return SklearnModel(estimator, params, ignored)


def train_rf(features: pd.DataFrame, labels: np.ndarray, options: Mapping[str, Any]) -> SklearnModel:
    """RandomForestClassifier on every core (``n_jobs=-1``)."""
    from sklearn.ensemble import RandomForestClassifier

    known = {"n_estimators": "n_estimators", "max_depth": "max_depth", "seed": "random_state"}
    kwargs, ignored = _pick(options, known)
    estimator = RandomForestClassifier(n_jobs=-1, **kwargs).fit(features, labels)
    params = {k: v for k, v in estimator.get_params().items() if k in set(known.values()) | {"n_jobs"}}
    return SklearnModel(estimator, params, ignored)


#: name -> trainer (a callable, or "module:function" imported on first use).
TRAINERS: dict[str, Trainer | str] = {
    "hgb": train_hgb,
    "rf": train_rf,
    "dnn": "ctloop.dnn.trainer:train",  # PyTorch MLP (make setup-dnn); settings in policies/dnn.yml
}


def get_trainer(name: str) -> Trainer:
    """The trainer called ``name``; KeyError naming the known ones, or why it cannot be imported."""
    if name not in TRAINERS:
        raise KeyError(f"unknown trainer {name!r}; known: {', '.join(sorted(TRAINERS))}")
    entry = TRAINERS[name]
    if isinstance(entry, str):
        module, _, func = entry.partition(":")
        try:
            return getattr(importlib.import_module(module), func)
        except ImportError as exc:
            raise KeyError(f"trainer {name!r} is not available in this environment: {exc}") from None
    return entry
