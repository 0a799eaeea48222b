"""The promotion gate at its edges: every threshold at equality, the policy's interval, batching, NaN."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from ctloop import gate, metrics

POLICY = gate.GatePolicy(
    primary_metric="roc_auc",
    floor=0.70,
    min_improvement=0.01,
    min_eval_rows=50,
    resamples=200,
    confidence=0.95,
    seed=7,
)

NEGATIVES = 100


def exact_auc_scores(above: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose ROC-AUC is exactly ``above / 100``: one positive ranked above
    ``above`` of 100 negatives."""
    y = np.r_[np.zeros(NEGATIVES, dtype=bool), True]
    scores = np.r_[np.arange(NEGATIVES, dtype=float), above - 0.5]
    return y, scores


def rescored(y: np.ndarray, above: int) -> np.ndarray:
    """Scores of the same rows as :func:`exact_auc_scores` with the positive above ``above`` negatives."""
    return np.r_[np.arange(NEGATIVES, dtype=float), above - 0.5][: y.size]


def by_name(decision: gate.Decision) -> dict[str, gate.Check]:
    return {c.name: c for c in decision.checks}


def boot(ci_low: float, ci_high: float, confidence: float = 0.95) -> gate.Bootstrap:
    return gate.Bootstrap(0.0, ci_low, ci_high, confidence, 100, 100, 1, 0.0)


# --- the floor -------------------------------------------------------------------------------


def test_a_challenger_exactly_at_the_floor_passes_it() -> None:
    y, scores = exact_auc_scores(70)
    decision = gate.decide(y, scores, None, POLICY)
    assert decision.challenger == 0.70
    assert by_name(decision)["floor"] == gate.Check("floor", True, "challenger roc_auc 0.7000 >= floor 0.7")
    assert decision.promote and decision.reason == "all checks passed"


def test_a_challenger_one_rank_below_the_floor_fails_it() -> None:
    y, scores = exact_auc_scores(69)
    decision = gate.decide(y, scores, None, POLICY)
    assert by_name(decision)["floor"] == gate.Check("floor", False, "challenger roc_auc 0.6900 < floor 0.7")
    assert not decision.promote
    assert decision.reason == "floor: challenger roc_auc 0.6900 < floor 0.7"


@pytest.mark.parametrize(
    ("value", "passed"), [(0.70, True), (0.7 - 1e-12, True), (0.6999, False), (math.nan, False)]
)
def test_floor_check_compares_at_the_trigger_resolution(value: float, passed: bool) -> None:
    assert gate.check_floor(value, POLICY).passed is passed


# --- the minimum improvement ------------------------------------------------------------------


def test_an_improvement_of_exactly_the_minimum_passes_despite_float_noise() -> None:
    y, challenger = exact_auc_scores(82)
    champion = rescored(y, 81)
    assert 0.82 - 0.81 < 0.01  # binary floating point: the raw difference falls short
    decision = gate.decide(y, challenger, champion, POLICY, "3")
    assert (decision.challenger, decision.champion) == (0.82, 0.81)
    check = by_name(decision)["min_improvement"]
    assert check == gate.Check(
        "min_improvement", True, "challenger - champion = +0.0100 >= min_improvement 0.01"
    )


def test_an_improvement_below_the_minimum_fails() -> None:
    y, challenger = exact_auc_scores(82)
    decision = gate.decide(y, challenger, rescored(y, 82), POLICY, "3")
    assert decision.difference == 0.0
    check = by_name(decision)["min_improvement"]
    assert check == gate.Check(
        "min_improvement", False, "challenger - champion = +0.0000 < min_improvement 0.01"
    )


@pytest.mark.parametrize(
    ("difference", "passed"), [(0.01, True), (0.009999999999, True), (0.0099, False), (-0.5, False)]
)
def test_improvement_check_at_the_boundary(difference: float, passed: bool) -> None:
    assert gate.check_improvement(difference, POLICY).passed is passed


# --- the confidence interval ------------------------------------------------------------------


def test_an_interval_starting_exactly_at_zero_does_not_lie_above_it() -> None:
    check = gate.check_interval(boot(0.0, 0.2))
    assert check == gate.Check(
        "ci_excludes_zero", False, "95% CI [+0.0000, +0.2000] contains 0: not better beyond noise"
    )


def test_an_interval_just_above_zero_passes() -> None:
    check = gate.check_interval(boot(1e-6, 0.2))
    assert check == gate.Check("ci_excludes_zero", True, "95% CI [+0.0000, +0.2000] lies above 0")


def test_an_interval_ending_exactly_at_zero_contains_it() -> None:
    check = gate.check_interval(boot(-0.2, 0.0, confidence=0.9))
    assert check == gate.Check(
        "ci_excludes_zero", False, "90% CI [-0.2000, +0.0000] contains 0: not better beyond noise"
    )


def test_an_interval_below_zero_says_the_challenger_is_worse() -> None:
    check = gate.check_interval(boot(-0.2, -1e-6))
    assert check == gate.Check(
        "ci_excludes_zero", False, "95% CI [-0.2000, -0.0000] lies below 0: the challenger is worse"
    )


def test_an_undefined_interval_never_passes() -> None:
    check = gate.check_interval(boot(math.nan, math.nan))
    assert not check.passed
    assert check.reason.endswith("contains 0: not better beyond noise")


@pytest.mark.parametrize(
    ("confidence", "expected"), [(0.95, (25.0, 975.0)), (0.90, (50.0, 950.0)), (0.5, (250.0, 750.0))]
)
def test_interval_takes_the_percentiles_of_the_given_confidence(
    confidence: float, expected: tuple[float, float]
) -> None:
    differences = np.r_[np.arange(1001, dtype=float), np.nan, np.inf]
    assert gate.interval(differences, confidence) == pytest.approx(expected, abs=1e-9)


def test_interval_of_no_finite_difference_is_undefined() -> None:
    low, high = gate.interval(np.array([np.nan, np.nan]), 0.95)
    assert math.isnan(low) and math.isnan(high)


def test_decide_uses_the_policys_confidence() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.4
    challenger = 1.2 * y + rng.normal(size=y.size)
    champion = 1.0 * y + rng.normal(size=y.size)
    policy = replace(POLICY, resamples=300)
    weights = metrics.resample_counts(y.size, policy.resamples, np.random.default_rng(policy.seed))
    diffs = metrics.roc_auc_batch(y, challenger, weights) - metrics.roc_auc_batch(y, champion, weights)
    for confidence in (0.95, 0.80):
        decided = gate.decide(y, challenger, champion, replace(policy, confidence=confidence), "1").bootstrap
        assert decided.confidence == confidence
        assert (decided.ci_low, decided.ci_high) == gate.interval(diffs, confidence)
    wide = gate.decide(y, challenger, champion, policy, "1").bootstrap
    narrow = gate.decide(y, challenger, champion, replace(policy, confidence=0.80), "1").bootstrap
    assert wide.ci_low < narrow.ci_low and narrow.ci_high < wide.ci_high


# --- the bootstrap loop -----------------------------------------------------------------------


@pytest.mark.parametrize(("batch_cells", "batches"), [(1, 50), (700 * 7, 8), (700 * 50 - 1, 2)])
def test_bootstrap_over_many_batches_equals_one_batch(batch_cells: int, batches: int) -> None:
    rng = np.random.default_rng(5)
    y = rng.random(700) < 0.3
    a, b = 1.1 * y + rng.normal(size=y.size), 0.9 * y + rng.normal(size=y.size)
    args = (y, a, b, "roc_auc", 50, 0.95, 9)
    one = gate.paired_bootstrap(*args, batch_cells=10**9)
    many = gate.paired_bootstrap(*args, batch_cells=batch_cells)
    assert one.resamples == many.resamples == 50
    assert (one.batches, many.batches) == (1, batches)
    assert one.valid_resamples == many.valid_resamples == 50
    assert (many.ci_low, many.ci_high, many.difference) == (one.ci_low, one.ci_high, one.difference)


def test_the_default_batch_splits_a_long_slice_into_several_batches() -> None:
    rng = np.random.default_rng(6)
    y = rng.random(4000) < 0.3  # the default batch holds 2,000,000 // 4000 = 500 resamples
    a, b = 1.1 * y + rng.normal(size=y.size), 0.9 * y + rng.normal(size=y.size)
    default = gate.paired_bootstrap(y, a, b, "roc_auc", 501, 0.95, 9)
    single = gate.paired_bootstrap(y, a, b, "roc_auc", 501, 0.95, 9, batch_cells=4000 * 501)
    assert default.resamples == default.valid_resamples == 501
    assert (default.batches, single.batches) == (2, 1)
    assert (default.ci_low, default.ci_high) == (single.ci_low, single.ci_high)


def test_bootstrap_reports_the_time_of_its_own_clock() -> None:
    ticks = iter([10.0, 12.5])
    y, a = exact_auc_scores(80)
    result = gate.paired_bootstrap(y, a, rescored(y, 60), "roc_auc", 5, 0.95, 1, clock=lambda: next(ticks))
    assert result.seconds == 2.5
    assert (result.seed, result.confidence) == (1, 0.95)


def test_resamples_without_both_classes_are_left_out_of_the_interval() -> None:
    y, a = exact_auc_scores(90)
    result = gate.paired_bootstrap(y, a, rescored(y, 10), "roc_auc", 200, 0.95, 2)
    assert result.resamples == 200
    assert 0 < result.valid_resamples < 200  # one positive in 101 rows: many draws miss it
    assert math.isfinite(result.ci_low) and math.isfinite(result.ci_high)


# --- rows, classes and JSON -------------------------------------------------------------------


def test_exactly_min_eval_rows_is_enough_and_one_fewer_is_not() -> None:
    y, scores = exact_auc_scores(90)
    enough = gate.decide(y, scores, None, replace(POLICY, min_eval_rows=y.size))
    assert by_name(enough)["eval_rows"] == gate.Check("eval_rows", True, "101 rows >= 101, 1 positives")
    short = gate.decide(y, scores, None, replace(POLICY, min_eval_rows=y.size + 1))
    assert by_name(short)["eval_rows"] == gate.Check("eval_rows", False, "101 rows < min_eval_rows 102")
    assert enough.promote and not short.promote


@pytest.mark.parametrize("label", [False, True])
def test_a_one_class_slice_with_a_champion_refuses_without_nan_in_json(label: bool) -> None:
    y = np.full(300, label)
    scores = np.linspace(0, 1, 300)
    decision = gate.decide(y, scores, scores[::-1].copy(), POLICY, "5")
    assert not decision.promote
    assert (decision.champion, decision.difference, decision.bootstrap) == (None, None, None)
    positives = 300 if label else 0
    assert decision.checks == [
        gate.Check("eval_rows", False, f"the eval slice holds one class only ({positives} positives)"),
        gate.Check("floor", False, "challenger roc_auc nan < floor 0.7"),
        gate.Check("min_improvement", False, "metric undefined on this eval slice"),
        gate.Check("ci_excludes_zero", False, "metric undefined on this eval slice"),
    ]
    data = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert data["challenger"] is None and data["champion_version"] == "5"
    assert data["positives"] == positives and data["rows"] == 300


def test_json_ready_replaces_every_non_finite_float_at_any_depth() -> None:
    value = {"a": [1.0, math.nan, {"b": math.inf, "c": -math.inf}], "d": 2, "e": True, "f": "nan", "g": None}
    assert gate.json_ready(value) == {
        "a": [1.0, None, {"b": None, "c": None}],
        "d": 2,
        "e": True,
        "f": "nan",
        "g": None,
    }


def test_a_decision_with_an_undefined_interval_still_serialises_strictly() -> None:
    y, a = exact_auc_scores(90)
    decision = gate.decide(y, a, rescored(y, 10), replace(POLICY, resamples=3, seed=3), "2")
    assert decision.bootstrap.valid_resamples == 0  # no draw of this seed holds the one positive
    data = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert data["bootstrap"]["resamples"] == 3
    assert data["bootstrap"]["ci_low"] is None and data["bootstrap"]["ci_high"] is None
    assert not decision.promote
    assert data["checks"][3]["name"] == "ci_excludes_zero"


def test_every_check_passes_for_a_clear_winner_and_the_decision_records_the_policy() -> None:
    rng = np.random.default_rng(8)
    y = rng.random(600) < 0.35
    decision = gate.decide(
        y, 2.0 * y + rng.normal(size=y.size), 0.3 * y + rng.normal(size=y.size), POLICY, "9"
    )
    assert [c.passed for c in decision.checks] == [True, True, True, True]
    assert (decision.floor, decision.min_improvement, decision.min_eval_rows) == (0.70, 0.01, 50)
    assert (decision.metric, decision.rows, decision.positives) == ("roc_auc", 600, int(y.sum()))
    assert decision.difference == decision.challenger - decision.champion
    assert decision.bootstrap.difference == pytest.approx(decision.difference)
    assert decision.bootstrap.resamples == POLICY.resamples and decision.bootstrap.seed == POLICY.seed


def test_without_a_champion_every_check_is_named_and_the_floor_alone_decides() -> None:
    y, scores = exact_auc_scores(70)
    decision = gate.decide(y, scores, None, POLICY)
    assert decision.checks == [
        gate.Check("eval_rows", True, "101 rows >= 50, 1 positives"),
        gate.Check("floor", True, "challenger roc_auc 0.7000 >= floor 0.7"),
        gate.Check("min_improvement", True, "no champion yet: the floor alone decides"),
        gate.Check("ci_excludes_zero", True, "no champion yet: the floor alone decides"),
    ]


def test_a_refusal_names_every_failed_check_in_order() -> None:
    y, scores = exact_auc_scores(69)
    decision = gate.decide(y, scores, None, replace(POLICY, min_eval_rows=200))
    assert (
        decision.reason
        == "eval_rows: 101 rows < min_eval_rows 200; floor: challenger roc_auc 0.6900 < floor 0.7"
    )


def test_a_single_row_slice_is_batched_by_its_one_row() -> None:
    result = gate.paired_bootstrap(
        np.array([True]), np.array([0.9]), np.array([0.1]), "roc_auc", 4, 0.95, 1, batch_cells=4
    )
    assert (result.batches, result.resamples, result.valid_resamples) == (1, 4, 0)


# --- choosing among candidates -----------------------------------------------------------------


def _candidates(rows: int = 600, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a fair candidate and a clearly better one on the same rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows).astype(bool)
    fair = y + rng.normal(0, 1.2, rows)
    sharp = y + rng.normal(0, 0.4, rows)
    return y, fair, sharp


def test_a_later_candidate_is_chosen_only_when_it_beats_the_first_beyond_noise() -> None:
    y, fair, sharp = _candidates()
    assert gate.pick_candidate(y, [fair, sharp], POLICY) == (
        1,
        "candidate 1 beat candidate 0: all checks passed",
    )
    index, reason = gate.pick_candidate(y, [sharp, fair], POLICY)
    assert index == 0 and reason.startswith("candidate 1 did not beat candidate 0: min_improvement")
    # one rank better (+0.01 at the 0.01 minimum) on one positive: not beyond noise
    y2, scores = exact_auc_scores(90)
    index, reason = gate.pick_candidate(y2, [scores, rescored(y2, 91)], POLICY)
    assert index == 0 and reason.endswith("contains 0: not better beyond noise")


def test_a_better_point_value_inside_the_noise_keeps_the_first_candidate() -> None:
    rng = np.random.default_rng(5)  # two equally good candidates on 120 rows: one wins by luck
    y = rng.integers(0, 2, 120).astype(bool)
    first, second = y + rng.normal(0, 0.8, y.size), y + rng.normal(0, 0.8, y.size)
    luck = metrics.metric("roc_auc", y, second) - metrics.metric("roc_auc", y, first)
    assert luck > 4 * POLICY.min_improvement  # far above the minimum, yet inside the noise
    index, reason = gate.pick_candidate(y, [first, second], POLICY)
    assert index == 0 and "ci_excludes_zero" in reason and "min_improvement" not in reason


def test_one_class_or_a_single_candidate_keeps_the_first() -> None:
    y, fair, sharp = _candidates()
    assert gate.pick_candidate(np.zeros_like(y), [fair, sharp], POLICY)[0] == 0
    assert gate.pick_candidate(y, [sharp], POLICY) == (0, "the first candidate")
    # with three, each later one is judged against the best so far
    assert gate.pick_candidate(y, [fair, sharp, fair], POLICY)[0] == 1
