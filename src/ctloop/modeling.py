"""Model folders: save a trained classifier as an MLflow model, load one back without trusting it.

A model folder is an MLflow model directory (``MLmodel`` plus the serialised model) with a
``ctloop/`` subfolder: ``training.json`` (trainer, params, features, label, training window,
metrics) and ``reference.parquet`` (a sample of the training window, the drift reference).

sklearn models are serialised with skops. Loading never trusts the model folder: MLflow's own
loader reads the trusted-types list from the model's ``MLmodel`` file, so a crafted folder could
allow anything. :func:`load_classifier` checks the types against ctloop's fixed allow-list
(:data:`TRUSTED_TYPES`) instead and refuses anything else. Other flavours (the PyTorch trainer)
plug in through :data:`FLAVOR_LOADERS`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import yaml

#: Types beyond skops' defaults that ctloop's own trainers need; nothing else is ever loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # HistGradientBoosting
    "sklearn.tree._tree.Tree",  # RandomForest
)

#: Packages a served sklearn model needs, pinned to the installed versions (the env is built from
#: requirements.lock, so these are the lock's pins).
RUNTIME_PACKAGES: tuple[str, ...] = ("mlflow-skinny", "scikit-learn", "skops", "numpy", "pandas", "scipy")

CTLOOP_SUBDIR = "ctloop"
TRAINING_FILE = "training.json"
REFERENCE_FILE = "reference.parquet"

#: MLmodel flavour -> "module:function" returning a Classifier for a model folder, tried in order.
#: The PyTorch trainer registers its own flavour here; modules are imported only when needed.
FLAVOR_LOADERS: dict[str, str] = {
    "sklearn": "ctloop.modeling:load_sklearn",
    "ctloop_torch": "ctloop.dnn.flavour:load",  # weights_only state_dict, no pickle
}


class ModelLoadError(ValueError):
    """A model folder that cannot be loaded safely; names the path and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class Classifier(Protocol):
    """What every loaded model offers, whatever its flavour."""

    features: list[str]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class, one value per row."""
        ...


class SklearnClassifier:
    """An sklearn estimator seen through the :class:`Classifier` interface."""

    def __init__(self, estimator: Any, features: list[str]) -> None:
        self.estimator = estimator
        self.features = list(features)
        classes = list(getattr(estimator, "classes_", [0, 1]))
        if len(classes) != 2:
            raise ValueError(f"expected a binary classifier, got classes {classes}")
        self._positive = classes.index(1) if 1 in classes else 1

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks feature columns: {', '.join(missing)}")
        return np.asarray(self.estimator.predict_proba(frame[self.features]))[:, self._positive]


class _NoTorch(importlib.abc.MetaPathFinder):
    """Refuses ``torch`` while skops is first imported (see :func:`_import_skops`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"{name} is not needed to list skops' trusted types")
        return None


def _import_skops() -> Any:
    """``skops.io``, imported without dragging PyTorch in.

    skops builds its default trusted-type list by walking every scikit-learn module, which
    imports scikit-learn's array-API shim for torch and so torch itself when it is installed:
    seconds of start-up in every step and scoring process, for no type a model uses. The walk
    tolerates an ImportError, so torch is refused for the duration of that first import only;
    the PyTorch flavour imports torch normally afterwards.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    blocker = _NoTorch()
    sys.meta_path.insert(0, blocker)
    try:
        import skops.io
    finally:
        sys.meta_path.remove(blocker)
    return skops.io


def pip_requirements() -> list[str]:
    """``name==version`` for :data:`RUNTIME_PACKAGES` as installed."""
    return [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]


def save_sklearn(estimator: Any, path: str | Path, example: pd.DataFrame) -> None:
    """Write an MLflow model folder at ``path`` (must not exist): skops, signature, pinned pip deps.

    The pyfunc flavour answers ``predict_proba`` (one column per class), so a no-code MLflow
    deployment returns probabilities.
    """
    _import_skops()
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(example, estimator.predict_proba(example))
    mlflow.sklearn.save_model(
        estimator,
        str(path),
        serialization_format="skops",
        skops_trusted_types=list(TRUSTED_TYPES),
        signature=signature,
        pip_requirements=pip_requirements(),
        pyfunc_predict_fn="predict_proba",
    )


def write_training_info(path: str | Path, info: dict[str, Any], reference: pd.DataFrame) -> None:
    """Add ``ctloop/training.json`` and ``ctloop/reference.parquet`` to a saved model folder."""
    sub = Path(path) / CTLOOP_SUBDIR
    sub.mkdir(parents=True, exist_ok=True)
    (sub / TRAINING_FILE).write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    reference.to_parquet(sub / REFERENCE_FILE, index=False)


def read_training_info(path: str | Path) -> dict[str, Any]:
    """The model folder's ``ctloop/training.json`` ({} when absent)."""
    file = Path(path) / CTLOOP_SUBDIR / TRAINING_FILE
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(file, f"invalid JSON: {exc.msg} (line {exc.lineno})") from None


def read_mlmodel(path: str | Path) -> dict[str, Any]:
    """Parse the folder's ``MLmodel`` file."""
    file = Path(path) / "MLmodel"
    if not file.is_file():
        raise ModelLoadError(path, "not an MLflow model folder (no MLmodel file)")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ModelLoadError(file, f"invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise ModelLoadError(file, "no 'flavors' mapping")
    return data


def _inside(base: Path, relative: str) -> Path:
    target = (base / relative).resolve()
    if base.resolve() not in target.parents:
        raise ModelLoadError(base, f"model file {relative!r} points outside the model folder")
    return target


def load_sklearn(path: str | Path) -> SklearnClassifier:
    """Load the sklearn flavour with skops, allowing only :data:`TRUSTED_TYPES` beyond skops' defaults."""
    skops_io = _import_skops()

    base = Path(path)
    conf = read_mlmodel(base)["flavors"]["sklearn"]
    fmt = conf.get("serialization_format")
    if fmt != "skops":
        raise ModelLoadError(base, f"serialization_format {fmt!r} refused: only 'skops' is loaded")
    file = _inside(base, str(conf.get("pickled_model", "model.skops")))
    if not file.is_file():
        raise ModelLoadError(base, f"model file {file.name} missing")
    try:
        untrusted = skops_io.get_untrusted_types(file=file)
    except Exception as exc:
        raise ModelLoadError(file, f"unreadable skops file: {exc}") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise ModelLoadError(file, f"untrusted types refused: {', '.join(refused)}")
    estimator = skops_io.load(file, trusted=list(untrusted))
    info = read_training_info(base)
    names = getattr(estimator, "feature_names_in_", None)
    features = [str(n) for n in names] if names is not None else list(info.get("features", []))
    if not features:
        raise ModelLoadError(base, "feature names unknown (no feature_names_in_ and no training.json)")
    return SklearnClassifier(estimator, features)


def load_classifier(path: str | Path) -> Classifier:
    """Load any ctloop model folder as a :class:`Classifier` (``predict_proba`` -> positive class)."""
    flavors = read_mlmodel(path)["flavors"]
    for flavor, target in FLAVOR_LOADERS.items():
        if flavor in flavors:
            module, _, func = target.partition(":")
            try:
                loader = getattr(importlib.import_module(module), func)
            except ImportError as exc:
                raise ModelLoadError(path, f"flavour {flavor!r} cannot be loaded here: {exc}") from None
            return loader(path)
    raise ModelLoadError(path, f"no loader for flavours {sorted(flavors)}; known: {sorted(FLAVOR_LOADERS)}")
