"""Retraining triggers at their edges: each signal's value and threshold, guards at equality."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ctloop import triggers
from ctloop.triggers import Signal, TriggerInputs, TriggerPolicy, evaluate

#: A point-comparison policy (no standard-error test), every trigger enabled.
POLICY = TriggerPolicy(
    primary_metric="roc_auc",
    max_drop=0.05,
    max_age_days=7.0,
    drift_threshold=0.3,
    min_new_labelled_rows=100,
    cooldown_hours=24.0,
)

QUIET = TriggerInputs(
    has_champion=True,
    baseline=0.85,
    current=0.84,
    champion_age_days=1.0,
    drift_score=0.05,
    new_labelled_rows=1000,
    hours_since_retrain=1000.0,
)


def signal(decision: triggers.TriggerDecision, name: str) -> Signal:
    return next(s for s in [*decision.triggers, *decision.guards] if s.name == name)


def test_the_performance_signal_carries_the_drop_and_the_limit() -> None:
    decision = evaluate(replace(QUIET, current=0.80), POLICY)
    perf = signal(decision, "performance_drop")
    assert perf.fired
    assert perf.value == pytest.approx(0.05)
    assert perf.threshold == 0.05
    assert perf.reason == "roc_auc 0.8000 vs baseline 0.8500: drop 0.0500 >= 0.05"
    assert decision.retrain and decision.fired == ["performance_drop"]
    assert decision.reason == perf.reason


def test_a_drop_just_short_of_the_limit_does_not_fire_and_says_so() -> None:
    perf = signal(evaluate(replace(QUIET, current=0.8001), POLICY), "performance_drop")
    assert not perf.fired
    assert perf.value == pytest.approx(0.0499)
    assert perf.reason == "roc_auc 0.8001 vs baseline 0.8500: drop 0.0499 < 0.05"


def test_an_improvement_is_a_negative_drop() -> None:
    perf = signal(evaluate(replace(QUIET, current=0.90), POLICY), "performance_drop")
    assert not perf.fired and perf.value == pytest.approx(-0.05)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"baseline": None}, "the champion has no recorded baseline metric"),
        ({"current": None}, "too few labelled rows for a recent roc_auc"),
        ({"current": float("nan")}, "too few labelled rows for a recent roc_auc"),
    ],
)
def test_an_unknown_metric_cannot_fire_the_performance_trigger(changes: dict, reason: str) -> None:
    perf = signal(evaluate(replace(QUIET, **changes), POLICY), "performance_drop")
    assert (perf.fired, perf.value, perf.threshold, perf.reason) == (False, None, 0.05, reason)


def test_a_disabled_trigger_never_fires_and_has_no_threshold() -> None:
    policy = replace(POLICY, max_drop=None, max_age_days=None, drift_threshold=None)
    inputs = replace(QUIET, current=0.1, champion_age_days=365.0, drift_score=0.99)
    decision = evaluate(inputs, policy)
    assert not decision.retrain and decision.fired == []
    for name in ("performance_drop", "champion_age", "drift"):
        assert signal(decision, name) == Signal(name, False, None, None, "disabled")


@pytest.mark.parametrize(("age", "fires"), [(7.0, True), (6.9999999999, True), (6.9999, False)])
def test_age_fires_at_its_limit_with_its_value(age: float, fires: bool) -> None:
    sig = signal(evaluate(replace(QUIET, champion_age_days=age), POLICY), "champion_age")
    assert sig.fired is fires
    assert (sig.value, sig.threshold) == (age, 7.0)
    assert sig.reason == f"champion age {age:.2f} days {'>=' if fires else '<'} 7.0"


@pytest.mark.parametrize(("score", "fires"), [(0.3, True), (0.1 + 0.2, True), (0.2999, False)])
def test_drift_fires_at_its_threshold_with_its_value(score: float, fires: bool) -> None:
    sig = signal(evaluate(replace(QUIET, drift_score=score), POLICY), "drift")
    assert sig.fired is fires
    assert (sig.value, sig.threshold) == (score, 0.3)
    assert sig.reason == f"drift score {score:.4f} {'>=' if fires else '<'} 0.3"


def test_unknown_age_or_drift_cannot_fire() -> None:
    decision = evaluate(replace(QUIET, champion_age_days=None, drift_score=float("nan")), POLICY)
    assert signal(decision, "champion_age") == Signal(
        "champion_age", False, None, 7.0, "the champion's promotion time is unknown"
    )
    assert signal(decision, "drift") == Signal(
        "drift", False, None, 0.3, "no drift score (too few recent rows or no reference)"
    )


@pytest.mark.parametrize(("rows", "holds"), [(100, True), (99, False), (0, False)])
def test_the_labelled_rows_guard_holds_at_its_minimum(rows: int, holds: bool) -> None:
    decision = evaluate(replace(QUIET, current=0.70, new_labelled_rows=rows), POLICY)
    guard = signal(decision, "min_new_labelled_rows")
    assert guard.fired is holds and (guard.value, guard.threshold) == (float(rows), 100.0)
    assert decision.retrain is holds
    if not holds:
        assert decision.reason == (
            f"performance_drop fired but blocked: {rows} new labelled row(s) since the last retrain < 100"
        )


@pytest.mark.parametrize(("hours", "holds"), [(24.0, True), (23.99, False)])
def test_the_cooldown_guard_holds_at_its_limit(hours: float, holds: bool) -> None:
    decision = evaluate(replace(QUIET, current=0.70, hours_since_retrain=hours), POLICY)
    guard = signal(decision, "cooldown")
    assert guard.fired is holds and (guard.value, guard.threshold) == (hours, 24.0)
    assert guard.reason == f"{hours:.2f} h since the last retrain {'>=' if holds else '<'} 24.0 h"
    assert decision.retrain is holds


def test_no_earlier_retrain_lets_the_cooldown_pass() -> None:
    decision = evaluate(replace(QUIET, current=0.70, hours_since_retrain=None), POLICY)
    assert signal(decision, "cooldown") == Signal("cooldown", True, None, 24.0, "no earlier retrain")
    assert decision.retrain


def test_no_champion_trains_the_first_one_whatever_the_guards_say() -> None:
    decision = evaluate(
        TriggerInputs(has_champion=False, new_labelled_rows=0, hours_since_retrain=0.0), POLICY
    )
    assert decision.retrain and decision.fired == ["no_champion"] and decision.guards == []
    assert decision.reason == "no champion is registered: train the first one"


def test_several_triggers_are_all_named() -> None:
    decision = evaluate(replace(QUIET, current=0.70, champion_age_days=30.0, drift_score=0.5), POLICY)
    assert decision.fired == ["performance_drop", "champion_age", "drift"]
    assert decision.reason.count("; ") == 2
    assert decision.to_dict()["fired"] == decision.fired


@pytest.mark.parametrize(
    ("value", "threshold", "expected"),
    [(0.85 - 0.80, 0.05, True), (0.82 - 0.81, 0.01, True), (0.0499, 0.05, False), (0.05, 0.05, True)],
)
def test_reaches_compares_decimals_not_binary_noise(value: float, threshold: float, expected: bool) -> None:
    assert triggers.reaches(value, threshold) is expected


# --- the statistical forms: standard errors, the z test, the floor, calibration, re-arm --------

STATISTICAL = replace(POLICY, z=2.5, floor_enabled=True, drift_rearm=0.1, calibration_min_shift=0.05)


def test_policy_from_dict_reads_every_trigger_and_guard() -> None:
    policy = TriggerPolicy.from_dict(
        {
            "primary_metric": "average_precision",
            "triggers": {
                "performance_drop": {
                    "enabled": True,
                    "max_drop": 0.04,
                    "z": 2.0,
                    "baseline_windows": 3,
                    "retries": 2,
                },
                "below_floor": {"enabled": True},
                "champion_age": {"enabled": False, "max_age_days": 9},
                "drift": {"enabled": True, "threshold": 0.2, "rearm": 0.05},
                "calibration": {"enabled": True, "min_shift": 0.1},
            },
            "guards": {"min_new_labelled_rows": 7, "cooldown_hours": 12},
        }
    )
    assert policy == TriggerPolicy(
        primary_metric="average_precision",
        max_drop=0.04,
        max_age_days=None,
        drift_threshold=0.2,
        min_new_labelled_rows=7,
        cooldown_hours=12.0,
        z=2.0,
        baseline_windows=3,
        floor_enabled=True,
        drift_rearm=0.05,
        calibration_min_shift=0.1,
        retries=2,
    )


def test_policy_defaults_when_the_statistical_keys_are_absent() -> None:
    policy = TriggerPolicy.from_dict(
        {
            "primary_metric": "roc_auc",
            "triggers": {"performance_drop": {"max_drop": 0.05}},
            "guards": {"min_new_labelled_rows": 1, "cooldown_hours": 0},
        }
    )
    assert (policy.z, policy.baseline_windows, policy.floor_enabled, policy.retries) == (0.0, 1, False, 0)
    assert (
        policy.max_age_days,
        policy.drift_threshold,
        policy.drift_rearm,
        policy.calibration_min_shift,
    ) == (
        None,
        None,
        None,
        None,
    )


def test_auc_standard_error_is_hanley_mcneil() -> None:
    # AUC 0.5 on 10 + 10 rows: Q1 = Q2 = 1/3, variance (0.25 + 9/12 + 9/12) / 100
    assert triggers.auc_standard_error(0.5, 10, 10) == pytest.approx(0.0175**0.5)
    auc, pos, neg = 0.8, 30, 70
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (pos - 1) * (q1 - auc**2) + (neg - 1) * (q2 - auc**2)) / (pos * neg)
    assert triggers.auc_standard_error(auc, pos, neg) == pytest.approx(var**0.5)
    assert triggers.auc_standard_error(1.0, 5, 5) == 0.0
    assert triggers.auc_standard_error(0.5, 1, 1) == pytest.approx(0.5)  # one row of each class is enough


@pytest.mark.parametrize(("auc", "pos", "neg"), [(0.8, 0, 10), (0.8, 10, 0), (float("nan"), 10, 10)])
def test_auc_standard_error_is_undefined_without_both_classes_or_an_auc(
    auc: float, pos: int, neg: int
) -> None:
    assert math.isnan(triggers.auc_standard_error(auc, pos, neg))


def test_pooled_weights_each_window_by_its_precision() -> None:
    mean, se = triggers.pooled([0.8, 0.9], [0.1, 0.1])
    assert mean == pytest.approx(0.85) and se == pytest.approx((1 / 200) ** 0.5)
    mean, se = triggers.pooled([0.8, 0.9], [0.1, 0.2])  # weights 100 and 25
    assert mean == pytest.approx((100 * 0.8 + 25 * 0.9) / 125) and se == pytest.approx((1 / 125) ** 0.5)


def test_pooled_skips_unknown_and_zero_errors() -> None:
    mean, se = triggers.pooled([0.7, 0.8, float("nan"), 0.9], [0.0, 0.1, 0.1, float("nan")])
    assert mean == pytest.approx(0.8) and se == pytest.approx(0.1)
    assert triggers.pooled([0.8], [0.0]) == (None, None)
    assert triggers.pooled([], []) == (None, None)
    with pytest.raises(ValueError):
        triggers.pooled([0.8, 0.9], [0.1])  # one error per value, never a silent truncation


def test_a_big_drop_within_noise_does_not_fire_and_says_its_z() -> None:
    inputs = replace(QUIET, current=0.80, baseline_se=0.03, current_se=0.04)  # se 0.05, z 1.00
    perf = signal(evaluate(inputs, STATISTICAL), "performance_drop")
    assert not perf.fired
    assert perf.reason == "roc_auc 0.8000 vs baseline 0.8500: drop 0.0500 >= 0.05, z 1.00 < 2.5"


def test_a_big_drop_beyond_noise_fires_at_exactly_z() -> None:
    inputs = replace(QUIET, current=0.80, baseline_se=0.012, current_se=0.016)  # se 0.02, z 2.5
    perf = signal(evaluate(inputs, STATISTICAL), "performance_drop")
    assert perf.fired and perf.value == pytest.approx(0.05)
    assert perf.reason.endswith("drop 0.0500 >= 0.05, z 2.50 >= 2.5")


def test_a_small_drop_never_fires_however_certain() -> None:
    inputs = replace(QUIET, current=0.81, baseline_se=0.001, current_se=0.001)
    perf = signal(evaluate(inputs, STATISTICAL), "performance_drop")
    assert not perf.fired and "drop 0.0400 < 0.05" in perf.reason


def test_without_standard_errors_the_drop_is_a_point_comparison() -> None:
    perf = signal(evaluate(replace(QUIET, current=0.80), STATISTICAL), "performance_drop")
    assert perf.fired and ", z" not in perf.reason


@pytest.mark.parametrize(
    ("current", "se", "fires"),
    [(0.60, 0.02, True), (0.65, 0.02, False), (0.649, 0.02, True), (0.69, 0.0, True), (0.70, 0.0, False)],
)
def test_below_floor_fires_only_when_the_upper_bound_is_below_the_floor(
    current: float, se: float, fires: bool
) -> None:
    inputs = replace(QUIET, current=current, current_se=se, floor=0.70)
    sig = signal(evaluate(inputs, STATISTICAL), "below_floor")
    assert sig.fired is fires
    assert (sig.value, sig.threshold) == (current, 0.70)
    upper = current + 2.5 * se
    assert sig.reason == (
        f"roc_auc {current:.4f} (upper bound {upper:.4f}) {'<' if fires else '>='} the gate's floor 0.7"
    )


def test_below_floor_is_off_unless_enabled_and_known() -> None:
    off = signal(evaluate(replace(QUIET, current=0.1, floor=0.7), POLICY), "below_floor")
    assert off == Signal("below_floor", False, None, None, "disabled")
    unknown = signal(evaluate(replace(QUIET, current=0.1, floor=None), STATISTICAL), "below_floor")
    assert unknown == Signal("below_floor", False, None, None, "no floor or no recent metric")


@pytest.mark.parametrize(("gap", "fires"), [(0.07, True), (0.0699, False), (-0.03, True), (-0.0299, False)])
def test_calibration_fires_at_its_shift_in_either_direction(gap: float, fires: bool) -> None:
    inputs = replace(QUIET, calibration_gap=gap, calibration_baseline=0.02)
    sig = signal(evaluate(inputs, STATISTICAL), "calibration")
    assert sig.fired is fires
    assert sig.value == pytest.approx(abs(gap - 0.02)) and sig.threshold == 0.05


def test_calibration_z_test_and_unknowns() -> None:
    noisy = replace(QUIET, calibration_gap=0.08, calibration_baseline=0.02, calibration_se=0.03)
    sig = signal(evaluate(noisy, STATISTICAL), "calibration")
    assert not sig.fired and sig.reason.endswith("shift 0.0600 >= 0.05, z 2.00 < 2.5")
    unknown = signal(evaluate(replace(QUIET, calibration_gap=0.5), STATISTICAL), "calibration")
    assert unknown == Signal(
        "calibration", False, None, 0.05, "no calibration baseline or too few recent labels"
    )
    assert signal(evaluate(QUIET, POLICY), "calibration") == Signal(
        "calibration", False, None, None, "disabled"
    )


@pytest.mark.parametrize(("score", "fires"), [(0.35, True), (0.3499, False), (0.5, True)])
def test_drift_rearms_only_above_the_score_that_last_confirmed_the_champion(
    score: float, fires: bool
) -> None:
    inputs = replace(QUIET, drift_score=score, drift_confirmed=0.25)
    sig = signal(evaluate(inputs, STATISTICAL), "drift")
    assert sig.fired is fires
    assert sig.reason.startswith(f"drift score {score:.4f} >= 0.3, and {'>=' if fires else '<'} 0.3500")
    assert sig.reason.endswith(
        "(the score when a retrain last confirmed the champion, 0.2500, plus rearm 0.1)"
    )


def test_without_a_confirmed_score_drift_fires_at_its_threshold() -> None:
    sig = signal(evaluate(replace(QUIET, drift_score=0.3), STATISTICAL), "drift")
    assert sig.fired and sig.reason == "drift score 0.3000 >= 0.3"


def calibration(policy: TriggerPolicy, **changes: float | None) -> Signal:
    inputs = replace(QUIET, **({"calibration_gap": 0.08, "calibration_baseline": 0.02} | changes))
    return signal(evaluate(inputs, policy), "calibration")


def test_calibration_standard_error_combines_both_windows() -> None:
    sig = calibration(STATISTICAL, calibration_baseline_se=0.03)  # shift 0.06, se 0.03: z 2.00
    assert not sig.fired and sig.reason.endswith("shift 0.0600 >= 0.05, z 2.00 < 2.5")
    both = calibration(STATISTICAL, calibration_se=0.018, calibration_baseline_se=0.024)  # se 0.03
    assert not both.fired and both.reason.endswith("z 2.00 < 2.5")


def test_calibration_beyond_noise_fires_and_says_its_z() -> None:
    sig = calibration(STATISTICAL, calibration_se=0.01)
    assert sig.fired
    assert sig.reason == (
        "positive rate minus mean probability +0.0800 vs baseline +0.0200: "
        "shift 0.0600 >= 0.05, z 6.00 >= 2.5"
    )


def test_calibration_z_of_one_and_of_zero() -> None:
    one = calibration(replace(STATISTICAL, z=1.0), calibration_se=0.1)  # z 0.60 < 1
    assert not one.fired and one.reason.endswith(", z 0.60 < 1.0")
    zero = calibration(replace(STATISTICAL, z=0.0), calibration_se=0.1)  # z 0: a point comparison
    assert zero.fired and zero.reason.endswith("shift 0.0600 >= 0.05")


def test_calibration_just_short_says_so() -> None:
    sig = calibration(STATISTICAL, calibration_gap=0.0699)
    assert not sig.fired and sig.reason.endswith("shift 0.0499 < 0.05")


def test_an_unknown_recent_metric_keeps_the_floor_as_threshold() -> None:
    sig = signal(evaluate(replace(QUIET, current=None, floor=0.7), STATISTICAL), "below_floor")
    assert sig == Signal("below_floor", False, None, 0.7, "no floor or no recent metric")


def test_a_holding_labelled_rows_guard_says_so() -> None:
    guard = signal(evaluate(replace(QUIET, new_labelled_rows=150), POLICY), "min_new_labelled_rows")
    assert guard.fired and guard.reason == "150 new labelled row(s) since the last retrain >= 100"


@pytest.mark.parametrize(
    ("fired", "kept_before", "retries", "confirmed"),
    [
        (["performance_drop"], 0, 2, False),
        (["performance_drop"], 1, 2, False),
        (["performance_drop"], 2, 2, True),  # the retries are used up: a lost gate confirms
        (["performance_drop"], 3, 2, True),
        (["calibration", "champion_age"], 1, 2, False),
        (["performance_drop", "drift"], 0, 2, False),
        (["drift"], 0, 2, True),  # not a loss trigger: confirms at once
        (["champion_age"], 0, 5, True),
        (["below_floor"], 0, 2, True),
        (["performance_drop"], 0, 0, True),  # retries 0: the old confirm-at-once
    ],
)
def test_a_lost_gate_after_a_loss_trigger_confirms_only_when_the_retries_are_used_up(
    fired: list[str], kept_before: int, retries: int, confirmed: bool
) -> None:
    assert triggers.confirms(fired, kept_before, replace(POLICY, retries=retries)) is confirmed
