"""Retraining triggers at their edges: each signal's value and threshold, guards at equality."""

from __future__ import annotations

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
