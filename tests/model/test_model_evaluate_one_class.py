"""A one-class evaluation slice: evaluate reports the metric as undefined and the gate says no."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL
from ctloop.registry.local import LocalRegistry
from ctloop.steps import evaluate, train
from ctloop.tabular import write_dataset

MODEL_NAME = "rainfall-classifier"


def test_one_class_eval_slice_with_a_champion_does_not_crash(
    model_home: Path,
    datasets_dir: Path,
    rainfall: pd.DataFrame,
    repo_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = tmp_path / "model"
    argv = ["--train", str(datasets_dir / "train"), "--model", str(model), "--reference_rows", "50"]
    assert train.main([*argv, "--max_iter", "10"]) == 0
    registry = LocalRegistry(MODEL_NAME)
    champion = registry.register(model, {}).version
    assert registry.set_champion(champion, expected=None)
    dry = rainfall.iloc[14_000:16_365]
    dry = dry[dry[RAINFALL_LABEL] == 0]  # dry days only: one class
    write_dataset(
        dry,
        tmp_path / "eval",
        name="dry",
        time_column="date",
        key_columns=["date"],
        features=list(RAINFALL_FEATURES),
        label=RAINFALL_LABEL,
        source="test:dry-days",
    )
    out = tmp_path / "decision"
    code = evaluate.main(
        [
            "--model", str(model), "--eval", str(tmp_path / "eval"), "--policies",
            str(repo_root / "policies"), "--model_name", MODEL_NAME, "--decision", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    decision = json.loads((out / "decision.json").read_text())
    assert decision["promote"] is False
    assert "one class" in decision["reason"]
    assert decision["gate"]["challenger"] is None and decision["gate"]["champion"] is None
    printed = capsys.readouterr().out
    assert "undefined" in printed and f"champion v{champion} undefined" in printed
    assert registry.champion().version == champion  # nothing changed
