"""The ``dnn`` entry of ``ctloop.trainers.TRAINERS``: the MLP as a single-process trainer.

``train(features, labels, options)`` fits on CPU or one GPU inside the tabular ``train`` step (no
checkpoints: that step is short). Settings come from ``dnn.yml`` (found by
:func:`ctloop.dnn.config.find_policies`, or ``options["policies"]``); of the step's options only
``seed`` applies, the others are listed as ignored. For long runs, preemptible GPU nodes and
several processes, use the ``train_dnn`` component instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop.dnn.config import load_config
from ctloop.dnn.data import Dataset
from ctloop.dnn.export import write_flavour
from ctloop.dnn.flavour import TorchClassifier
from ctloop.dnn.result import FitResult
from ctloop.dnn.train import fit

#: Options this trainer understands (``policies`` is where dnn.yml lives).
KNOWN_OPTIONS: tuple[str, ...] = ("seed", "policies")
_LABEL = "__label__"


class TorchModel:
    """A fitted MLP seen through ``ctloop.trainers.FittedModel``."""

    def __init__(self, result: FitResult, params: dict[str, Any], ignored: list[str]) -> None:
        self.result = result
        self.params = params
        self.ignored = ignored
        self._classifier = TorchClassifier(result.net.to("cpu"), result.standardizer, None, Path("<memory>"))

    @property
    def features(self) -> list[str]:
        return self._classifier.features

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self._classifier.predict_proba(frame)

    def save(self, path: Path, example: pd.DataFrame) -> None:
        """Write the ``ctloop_torch`` MLflow model folder (the train step adds ``ctloop/``)."""
        r = self.result
        write_flavour(Path(path), r.net, r.architecture, r.standardizer, None)


def train(features: pd.DataFrame, labels: np.ndarray, options: Mapping[str, Any]) -> TorchModel:
    """Fit the MLP on ``features`` (numeric columns) and 0/1 ``labels``."""
    cfg = load_config(options.get("policies"))
    if options.get("seed") is not None:
        cfg = replace(cfg, training=replace(cfg.training, seed=int(options["seed"])))
    ignored = sorted(k for k, v in options.items() if k not in KNOWN_OPTIONS and v is not None)
    frame = features.reset_index(drop=True).copy()
    frame[_LABEL] = np.asarray(labels)
    data = Dataset(Path("<train frame>"), frame, {}, [str(c) for c in features.columns], _LABEL)
    result = fit(cfg, data)
    params = cfg.params() | {"steps": result.steps, "device": result.device, "precision": result.precision}
    return TorchModel(result, params, ignored)
