"""A champion below the gate's floor is never confirmed; the baseline is pooled over live windows;
a change trigger adds a recent-window candidate and the split stays time-ordered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctloop.contracts import load_data_policy
from ctloop.gate import GatePolicy
from ctloop.loop.cycle import Loop
from ctloop.loop.pipeline import RetrainResult
from ctloop.monitor import check
from ctloop.monitor.history import History, WindowRow
from ctloop.monitor.labels import LabelReader
from ctloop.monitor.logs import LogReader
from ctloop.monitor.service import Monitor, utc
from ctloop.monitor.settings import load_settings
from ctloop.policies import load_policy
from ctloop.replay.policies import RecentWindow, ReplayConfig, candidate_splits
from ctloop.replay.stream import stream_from_frame
from ctloop.steps.prep import AFTER_CHANGE

WHEN = pd.Timestamp("2020-06-01", tz="UTC")


def _loop(repo_root: Path, tmp_path: Path, result: RetrainResult) -> Loop:
    settings = load_settings(repo_root / "policies", replay=True)
    monitor = Monitor(
        settings.monitor,
        History(tmp_path / "history.sqlite"),
        LogReader([tmp_path / "logs"]),
        LabelReader(tmp_path / "labels"),
        lambda: None,
        scope="test",
    )
    return Loop(
        monitor,
        settings.triggers,
        "m",
        lambda _inputs, _work: result,
        {"policies": repo_root / "policies"},
        tmp_path / "work",
    )


@pytest.mark.parametrize(("metric", "confirmed"), [(0.45, False), (0.69, False), (0.70, True), (0.9, True)])
def test_only_a_champion_at_or_above_the_floor_is_confirmed(
    repo_root: Path, tmp_path: Path, metric: float, confirmed: bool
) -> None:
    floor = float(load_policy("promotion", repo_root / "policies")["floor"])
    assert floor == 0.70
    result = RetrainResult("completed", promoted=False, champion_before="3", champion_metric=metric)
    loop = _loop(repo_root, tmp_path, result)
    loop.retrain(WHEN, ["champion_age"])
    kinds = [e.kind for e in loop.history.events("test")]
    assert kinds == (["retrain", "confirm"] if confirmed else ["retrain"])
    info = check.ChampionInfo("3", 0.85, WHEN - pd.Timedelta(days=30))
    inputs = check.gather(loop.history, "test", info, WHEN + pd.Timedelta(days=1))
    # unconfirmed: the age keeps counting from the promotion and the baseline stays the gate's
    assert inputs.champion_age_days == pytest.approx(1.0 if confirmed else 31.0)
    assert inputs.baseline == pytest.approx(metric if confirmed else 0.85)


def test_a_loss_trigger_keeps_the_champion_unconfirmed_for_its_retries_then_confirms(
    repo_root: Path, tmp_path: Path
) -> None:
    result = RetrainResult("completed", promoted=False, champion_before="3", champion_metric=0.8)
    loop = _loop(repo_root, tmp_path, result)
    retries = loop.triggers.retries
    assert (
        retries
        == load_policy("retraining", repo_root / "policies")["triggers"]["performance_drop"]["retries"]
    )
    assert retries >= 1
    info = check.ChampionInfo("3", 0.85, WHEN - pd.Timedelta(days=30))
    for k in range(retries):
        loop.retrain(WHEN + pd.Timedelta(days=k), ["performance_drop"])
        keeps = loop.history.events("test", "keep")
        assert [(e.detail["version"], e.detail["retry"]) for e in keeps] == [
            ("3", i + 1) for i in range(k + 1)
        ]
        assert not loop.history.events("test", "confirm")
        # the drop is still measured against the old baseline, and the age keeps counting
        inputs = check.gather(loop.history, "test", info, WHEN + pd.Timedelta(days=k + 1))
        assert inputs.baseline == pytest.approx(0.85)
        assert inputs.champion_age_days == pytest.approx(31.0 + k)
    loop.retrain(WHEN + pd.Timedelta(days=retries), ["calibration", "champion_age"])
    assert [e.detail["metric"] for e in loop.history.events("test", "confirm")] == [0.8]
    inputs = check.gather(loop.history, "test", info, WHEN + pd.Timedelta(days=retries + 1))
    assert inputs.baseline == pytest.approx(0.8) and inputs.champion_age_days == pytest.approx(1.0)
    # after the confirmation the count starts again
    loop.retrain(WHEN + pd.Timedelta(days=retries + 2), ["performance_drop"])
    assert (
        loop.history.events("test")[-1].kind == "keep"
        and loop.history.events("test")[-1].detail["retry"] == 1
    )


def test_drift_alone_confirms_at_once(repo_root: Path, tmp_path: Path) -> None:
    result = RetrainResult("completed", promoted=False, champion_before="3", champion_metric=0.8)
    loop = _loop(repo_root, tmp_path, result)
    loop.retrain(WHEN, ["drift", "champion_age"])
    assert [e.kind for e in loop.history.events("test")] == ["retrain", "confirm"]


def test_the_baseline_is_pooled_over_the_first_live_windows(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    promoted = utc("2020-01-01")
    history.append_event("s", "2020-01-01T00:00:00Z", "promote", {"version": "2", "metric": 0.95})
    values = [(0.80, 0.02), (0.84, 0.02), (0.82, 0.04), (0.90, 0.01), (0.60, 0.02)]
    for i, (auc, se) in enumerate(values):
        start, end = promoted + pd.Timedelta(days=i), promoted + pd.Timedelta(days=i + 1)
        metrics = {"roc_auc": auc, "roc_auc_se": se, "recent_primary": auc, "recent_primary_se": se}
        history.append_window(WindowRow("s", str(start), str(end), str(end), "2", metrics))
    info = check.ChampionInfo("2", 0.95, promoted)
    inputs = check.gather(history, "s", info, promoted + pd.Timedelta(days=6), baseline_windows=4)
    w = np.array([1 / 0.02**2, 1 / 0.02**2, 1 / 0.04**2, 1 / 0.01**2])
    expected = float(np.dot(w, [0.80, 0.84, 0.82, 0.90]) / w.sum())
    assert inputs.baseline == pytest.approx(expected)  # not the 0.95 the gate saw on its eval slice
    assert inputs.baseline_se == pytest.approx(float(np.sqrt(1 / w.sum())))
    assert (inputs.current, inputs.current_se) == (0.60, 0.02)
    early = check.gather(history, "s", info, promoted + pd.Timedelta(days=6), baseline_windows=6)
    assert early.baseline == 0.95 and early.baseline_se is None  # too few windows yet: the gate's


@pytest.fixture
def stream_and_config(repo_root: Path):
    data_policy = load_data_policy(repo_root / "policies")
    days = pd.date_range("2000-01-01", periods=6000, freq="D")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"date": days, "x": rng.normal(size=days.size), "label": rng.integers(0, 2, days.size)}
    )
    stream = stream_from_frame("s", frame, "date", ["x"], "label", data_policy["split"])
    gate = GatePolicy.from_dict(load_policy("promotion", repo_root / "policies"))
    config = ReplayConfig(data_policy["split"], "hgb", {}, gate, 0.5, "roc_auc", 90, 1)
    return stream, config, frame


def test_a_change_trigger_adds_a_recent_candidate_judged_on_the_newest_data(stream_and_config) -> None:
    stream, config, frame = stream_and_config
    recent = RecentWindow(train_days=1095, eval_days=365)
    trains, eval_part = candidate_splits(frame, stream, config, recent)
    assert [name for name, _ in trains] == ["window", "recent"]
    newest = eval_part["date"].min()
    for _, train in trains:
        assert train["date"].max() < newest  # time-ordered: every training row precedes the eval slice
    assert (trains[1][1]["date"].min() - trains[0][1]["date"].min()).days > 2000  # recent only
    assert eval_part["date"].max() == frame["date"].max()
    plain, plain_eval = candidate_splits(frame, stream, config, None)
    assert [name for name, _ in plain] == ["window"]
    assert plain_eval["date"].min() <= newest


def test_an_eval_slice_too_small_for_the_gate_judges_both_candidates_on_the_pipeline_split(
    stream_and_config,
) -> None:
    stream, config, frame = stream_and_config
    trains, eval_part = candidate_splits(frame, stream, config, RecentWindow(1095, 30))  # 30 rows < 300
    plain, plain_eval = candidate_splits(frame, stream, config, None)
    assert [name for name, _ in trains] == ["window", "recent"]
    pd.testing.assert_frame_equal(eval_part, plain_eval)  # the pipeline's own eval slice
    pd.testing.assert_frame_equal(trains[0][1], plain[0][1])
    recent = trains[1][1]
    assert recent["date"].max() < eval_part["date"].min()
    assert (recent["date"].max() - recent["date"].min()).days < 1095 <= len(plain[0][1])


def test_a_refresh_soon_after_a_change_passes_after_change_to_the_pipeline(
    repo_root: Path, tmp_path: Path
) -> None:
    result = RetrainResult("completed", promoted=False, champion_before="3", champion_metric=0.8)
    seen: list[str] = []
    loop = _loop(repo_root, tmp_path, result)
    loop.retrainer = lambda inputs, _work: seen.append(inputs["triggers"]) or result
    loop.triggers_input = "triggers"
    recent = loop.recent_window()
    assert recent is not None and recent.after_change_days is not None
    days = pd.Timedelta(days=1)
    loop.retrain(WHEN, ["champion_age"])  # no change yet: the age refresh trains the window only
    loop.retrain(WHEN + 10 * days, ["drift"])
    loop.retrain(WHEN + (10 + recent.after_change_days) * days, ["champion_age"])  # at the limit
    loop.retrain(WHEN + (11 + recent.after_change_days) * days, ["champion_age"])  # a day past it
    assert seen == ["champion_age", "drift", f"champion_age,{AFTER_CHANGE}", "champion_age"]
    # the history records what fired, not the candidate hint
    assert [e.detail["fired"] for e in loop.history.events("test", "retrain")] == [
        ["champion_age"],
        ["drift"],
        ["champion_age"],
        ["champion_age"],
    ]
