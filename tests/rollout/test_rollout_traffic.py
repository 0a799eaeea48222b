"""The rollout's own requests: labelled rows from the eval data, and what counts as a valid answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ctloop.datasets import RAINFALL_FEATURES
from ctloop.rollout.traffic import Answer, ReplayStats, TrafficError, answer_problem, load_labelled

FEATURES = list(RAINFALL_FEATURES)


def test_rows_from_a_dataset_folder_and_from_a_parquet_file(
    built: dict[str, Any], tmp_path: Path, repo_root: Path
) -> None:
    folder = load_labelled(built["eval"], FEATURES)
    assert len(folder.rows) == len(folder.labels) == 1000 and set(folder.labels) == {0, 1}
    assert list(folder.rows[0]) == FEATURES
    parquet = tmp_path / "eval.parquet"
    built["rows"].to_parquet(parquet)
    same = load_labelled(parquet, FEATURES, repo_root / "policies")  # label name from policies/data.yml
    assert same.rows == folder.rows and same.labels == folder.labels
    bodies = folder.batches(10, limit=25)  # the latest 25 rows, 10 per request
    assert [len(json.loads(b)["labels"]) for b in bodies] == [10, 10, 5]
    assert json.loads(bodies[-1])["labels"] == folder.labels[-5:]


def test_unusable_data_is_named(tmp_path: Path, built: dict[str, Any]) -> None:
    with pytest.raises(TrafficError, match="no such dataset folder"):
        load_labelled(tmp_path / "missing", FEATURES)
    bad = tmp_path / "labels.parquet"
    frame = built["rows"].copy()
    frame["rain"] = 3
    frame.to_parquet(bad)
    with pytest.raises(TrafficError, match="rain: labels must be 0 or 1"):
        load_labelled(bad, FEATURES)


def _answer(payload: Any, status: int = 200) -> Answer:
    return Answer(status, "green", 5.0, payload)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (_answer({"predictions": [1, 0], "probabilities": [0.9, 0.2], "model_version": "3"}), None),
        (_answer({"error": "boom"}, 500), "status 500: boom"),
        (Answer(0, "", 1.0, None, "ReadTimeout"), "status 0: ReadTimeout"),
        (_answer([1, 2]), "not a JSON object"),
        (_answer({"predictions": "x", "probabilities": [0.1, 0.2], "model_version": "3"}), "2 predictions"),
        (_answer({"predictions": [1, 2], "probabilities": [0.9, 0.2], "model_version": "3"}), "0 or 1"),
        (_answer({"predictions": [1, 0], "probabilities": [1.5, 0.2], "model_version": "3"}), "in [0, 1]"),
        (_answer({"predictions": [1, 0], "probabilities": [0.9, 0.2], "model_version": "2"}), "expected '3'"),
    ],
)
def test_valid_answers(answer: Answer, problem: str | None) -> None:
    found = answer_problem(answer, 2, "3")
    assert found == problem if problem is None else problem in found


def test_replay_stats_count_errors_and_invalid_answers() -> None:
    stats = ReplayStats()
    stats.add(_answer({"predictions": [1], "probabilities": [0.7]}), [1])
    stats.add(_answer({"predictions": "bad"}), [0])
    stats.add(_answer({"error": "x"}, 503), [0])
    green = stats.by_deployment["green"]
    assert (green["requests"], green["errors"], green["invalid"]) == (3, 1, 1)
    assert (green["y"], green["p"]) == ([1], [0.7])
