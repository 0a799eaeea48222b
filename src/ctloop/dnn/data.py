"""Read a prepared dataset folder (``data.parquet`` + ``manifest.json``) into training arrays.

Features and label come from the manifest (see docs/architecture.md). Features are standardised
with the training window's mean and standard deviation; the same statistics travel with the model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop.dnn.errors import DnnError

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Dataset:
    """One dataset folder: the frame, its manifest, and the column roles."""

    path: Path
    frame: pd.DataFrame
    manifest: dict[str, Any]
    features: list[str]
    label: str

    @property
    def content_hash(self) -> str:
        """The manifest's content hash, or a hash of the frame when the manifest has none."""
        declared = self.manifest.get("content_hash")
        if isinstance(declared, str) and declared:
            return declared
        hashed = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return hashlib.sha256(hashed.tobytes()).hexdigest()


@dataclass(frozen=True)
class Standardizer:
    """Per-feature mean and standard deviation of the training window."""

    features: list[str]
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, x: np.ndarray, features: list[str]) -> Standardizer:
        mean = np.nanmean(x, axis=0) if len(x) else np.zeros(x.shape[1])
        std = np.nanstd(x, axis=0) if len(x) else np.ones(x.shape[1])
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(list(features), [float(v) for v in mean], [float(v) for v in std])

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Standardise to float32; missing values become the training mean (0 after scaling)."""
        z = (np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.std)
        return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str | Path) -> Standardizer:
        try:
            features, mean, std = list(data["features"]), list(data["mean"]), list(data["std"])
        except (KeyError, TypeError) as exc:
            raise DnnError(file, str(exc).strip("'"), "missing or malformed standardisation entry") from None
        if not (len(features) == len(mean) == len(std)):
            raise DnnError(file, "features", "features, mean and std have different lengths")
        return cls([str(f) for f in features], [float(v) for v in mean], [float(v) for v in std])


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise DnnError(path, "<file>", "manifest not found (expected a prepared dataset folder)")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DnnError(path, "<json>", f"unreadable: {exc}") from None
    if not isinstance(manifest, dict):
        raise DnnError(path, "<root>", "manifest is not a JSON object")
    return manifest


def read_dataset(folder: str | Path) -> Dataset:
    """Load a dataset folder and check that its features are numeric and its label binary."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    mpath = folder / MANIFEST_FILE
    features = manifest.get("features")
    label = manifest.get("label")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise DnnError(mpath, "features", "must be a non-empty list of column names")
    if not isinstance(label, str) or not label:
        raise DnnError(mpath, "label", "must name the label column")
    dpath = folder / DATA_FILE
    if not dpath.is_file():
        raise DnnError(dpath, "<file>", "data file not found")
    try:
        frame = pd.read_parquet(dpath)
    except Exception as exc:  # pyarrow raises several unrelated types for a damaged file
        raise DnnError(dpath, "<parquet>", f"unreadable: {exc}") from None
    missing = [c for c in [*features, label] if c not in frame.columns]
    if missing:
        raise DnnError(dpath, missing[0], "column named in the manifest is missing from the data")
    for col in features:
        if not (pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])):
            raise DnnError(dpath, col, f"feature must be numeric, got dtype {frame[col].dtype}")
    return Dataset(folder, frame, manifest, list(features), label)


def feature_matrix(frame: pd.DataFrame, features: list[str], file: str | Path = "<frame>") -> np.ndarray:
    """The features as float64, in the given order; DnnError naming any missing column."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DnnError(file, missing[0], f"feature column missing (needs {len(features)}: {features})")
    try:
        return frame[features].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DnnError(file, "features", f"not numeric: {exc}") from None


def label_vector(ds: Dataset) -> np.ndarray:
    """The label as float32 0/1; DnnError if it has missing values or is not binary."""
    col = ds.frame[ds.label]
    dpath = ds.path / DATA_FILE
    if col.isna().any():
        raise DnnError(dpath, ds.label, f"label has {int(col.isna().sum())} missing values")
    try:
        values = col.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DnnError(dpath, ds.label, f"label must be binary 0/1, got dtype {col.dtype}") from None
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise DnnError(dpath, ds.label, f"label must be binary 0/1, found {float(values[bad][0])!r}")
    return values.astype(np.float32)
