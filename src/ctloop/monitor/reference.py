"""The champion's drift reference: ``ctloop/reference.parquet`` of its model folder, scored by it.

Adapters over the registry (``ctloop.registry.open_registry``) and the model loader
(``ctloop.modeling.load_classifier``); results are cached per model version.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ctloop import metrics, modeling
from ctloop.monitor.window import Reference

#: Seed of the permutation-importance shuffles (same model and reference, same weights).
IMPORTANCE_SEED = 0


def reference_from_folder(model_dir: str | Path, version: str | None) -> Reference:
    """Read the reference sample of a model folder and score it with that model."""
    model_dir = Path(model_dir)
    file = model_dir / modeling.CTLOOP_SUBDIR / modeling.REFERENCE_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file}: the model folder has no drift reference")
    classifier = modeling.load_classifier(model_dir)
    features = list(classifier.features)
    raw = pd.read_parquet(file)
    missing = [f for f in features if f not in raw.columns]
    if missing:
        raise ValueError(f"{file}: reference lacks feature columns: {', '.join(missing)}")
    frame = raw[features].reset_index(drop=True)
    scores = np.asarray(classifier.predict_proba(frame), dtype=float)
    label = modeling.read_training_info(model_dir).get("label")
    importance = None
    if label and label in raw.columns:
        importance = metrics.permutation_importance(
            lambda x: np.asarray(classifier.predict_proba(x), dtype=float),
            frame,
            raw[label].to_numpy(dtype=int),
            features,
            seed=IMPORTANCE_SEED,
        )
    return Reference(version=version, frame=frame, scores=scores, features=features, importance=importance)


class ChampionReference:
    """The current champion's reference from the registry, downloaded once per version."""

    def __init__(self, model_name: str, cache_dir: str | Path) -> None:
        self.model_name = model_name
        self.cache_dir = Path(cache_dir)
        self._cache: dict[str, Reference] = {}

    def __call__(self) -> Reference | None:
        from ctloop.registry import open_registry

        champion = open_registry(self.model_name).champion()
        if champion is None:
            return None
        if champion.version not in self._cache:
            folder = self.cache_dir / self.model_name / champion.version
            model_dir = folder / "model"
            if not (model_dir / "MLmodel").is_file():
                model_dir = open_registry(self.model_name).download(champion.version, folder)
            self._cache[champion.version] = reference_from_folder(model_dir, champion.version)
        return self._cache[champion.version]
