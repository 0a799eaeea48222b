"""The statistical triggers: no false alarm on a stationary stream, a real drop fires, the floor,
the calibration shift, drift's re-arm after a confirmation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ctloop import metrics
from ctloop.monitor.settings import load_settings
from ctloop.monitor.window import performance
from ctloop.triggers import TriggerInputs, TriggerPolicy, auc_standard_error, evaluate, pooled


@pytest.fixture
def policy(repo_root: Path) -> TriggerPolicy:
    return load_settings(repo_root / "policies", replay=True).triggers


def window(rng: np.random.Generator, rows: int, separation: float = 1.2, shift: float = 0.0) -> dict:
    """One window of a fixed, calibrated model: p = sigmoid(separation * x); the label threshold
    moves by ``shift`` (labels drawn at p + shift)."""
    x = rng.normal(size=rows)
    p = 1.0 / (1.0 + np.exp(-separation * x))
    y = (rng.random(rows) < np.clip(p + shift, 0, 1)).astype(int)
    frame = pd.DataFrame({"label": y, "probability": p, "prediction": (p >= 0.5).astype(int)})
    return performance(frame)


def inputs_for(base: list[dict], now: dict) -> TriggerInputs:
    baseline, baseline_se = pooled([w["roc_auc"] for w in base], [w["roc_auc_se"] for w in base])
    cal, cal_se = pooled([w["calibration_gap"] for w in base], [w["calibration_se"] for w in base])
    return TriggerInputs(
        has_champion=True,
        baseline=baseline,
        baseline_se=baseline_se,
        current=now["roc_auc"],
        current_se=now["roc_auc_se"],
        champion_age_days=1.0,
        new_labelled_rows=10_000,
        hours_since_retrain=1e6,
        calibration_gap=now["calibration_gap"],
        calibration_se=now["calibration_se"],
        calibration_baseline=cal,
        calibration_baseline_se=cal_se,
    )


def test_hanley_mcneil_standard_error_matches_the_bootstrap() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
    auc = metrics.roc_auc(y, x)
    weights = metrics.resample_counts(400, 2000, rng)
    spread = float(np.nanstd(metrics.roc_auc_batch(y, x, weights)))
    se = auc_standard_error(auc, int(y.sum()), int((1 - y).sum()))
    assert se == pytest.approx(spread, rel=0.2)


def test_a_stationary_stream_raises_no_performance_alarm(policy: TriggerPolicy) -> None:
    # 365-row windows: the stationary control had 5 false alarms from a point comparison.
    rng = np.random.default_rng(11)
    base = [window(rng, 365) for _ in range(policy.baseline_windows)]
    windows = [window(rng, 365) for _ in range(150)]
    fired = [w for w in windows if "performance_drop" in evaluate(inputs_for(base, w), policy).fired]
    assert fired == []
    # the same stream compared point-wise with the best window (the old trigger) does alarm
    best = max(w["roc_auc"] for w in base + windows)
    point = replace(policy, z=0.0)
    alarms = [w for w in windows if evaluate(TriggerInputs(True, best, w["roc_auc"]), point).fired]
    assert alarms


def test_a_real_drop_fires(policy: TriggerPolicy) -> None:
    rng = np.random.default_rng(5)
    base = [window(rng, 365) for _ in range(policy.baseline_windows)]
    worse = window(rng, 365, separation=0.5)  # the model lost most of its signal
    decision = evaluate(inputs_for(base, worse), policy)
    assert "performance_drop" in decision.fired and decision.retrain
    signal = next(s for s in decision.triggers if s.name == "performance_drop")
    assert "z " in signal.reason


def test_a_drop_within_noise_does_not_fire_however_large(policy: TriggerPolicy) -> None:
    noisy = TriggerInputs(True, baseline=0.85, current=0.78, baseline_se=0.04, current_se=0.04)
    assert "performance_drop" not in evaluate(noisy, policy).fired  # 0.07 < 3 * 0.057
    sure = replace(noisy, baseline_se=0.01, current_se=0.01)
    assert "performance_drop" in evaluate(sure, policy).fired


def test_below_floor_fires_only_when_the_upper_bound_is_below_it(policy: TriggerPolicy) -> None:
    low = TriggerInputs(True, current=0.45, current_se=0.03, floor=0.7, new_labelled_rows=10_000)
    decision = evaluate(low, policy)
    assert decision.fired == ["below_floor"] and decision.retrain
    near = replace(low, current=0.62)  # 0.62 + 3 * 0.03 = 0.71 >= 0.7: could be noise
    assert "below_floor" not in evaluate(near, policy).fired


def test_a_label_threshold_shift_fires_calibration_not_performance(policy: TriggerPolicy) -> None:
    rng = np.random.default_rng(8)
    base = [window(rng, 365) for _ in range(policy.baseline_windows)]
    shifted = window(rng, 365, shift=0.2)
    decision = evaluate(inputs_for(base, shifted), policy)
    assert "calibration" in decision.fired and "performance_drop" not in decision.fired
    assert not evaluate(inputs_for(base, window(rng, 365)), policy).fired


def test_drift_rearms_only_above_the_confirmed_score(policy: TriggerPolicy) -> None:
    assert policy.drift_threshold is not None and policy.drift_rearm is not None
    drifted = TriggerInputs(True, drift_score=policy.drift_threshold + 0.05, champion_age_days=1.0)
    assert evaluate(drifted, policy).fired == ["drift"]
    confirmed = replace(drifted, drift_confirmed=drifted.drift_score)
    assert evaluate(confirmed, policy).fired == []  # persistent shift: the champion was confirmed under it
    further = replace(confirmed, drift_score=drifted.drift_score + policy.drift_rearm)
    assert evaluate(further, policy).fired == ["drift"]
