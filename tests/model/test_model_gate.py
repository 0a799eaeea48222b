"""The promotion gate on hand-made score arrays: promotes real gains, refuses noise and weak models."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ctloop import gate

POLICY = gate.GatePolicy(
    primary_metric="roc_auc",
    floor=0.70,
    min_improvement=0.01,
    min_eval_rows=300,
    resamples=1000,
    confidence=0.95,
    seed=11,
)


def labels(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random(n) < 0.3


def model_scores(y: np.ndarray, signal: float, seed: int) -> np.ndarray:
    """Scores of a model whose separation of the classes is ``signal`` (noise sd 1)."""
    return signal * y + np.random.default_rng(seed).normal(size=y.size)


def checks(decision: gate.Decision) -> dict[str, bool]:
    return {c.name: c.passed for c in decision.checks}


def test_promotes_a_clearly_better_challenger() -> None:
    y = labels(2000)
    decision = gate.decide(y, model_scores(y, 1.6, 1), model_scores(y, 0.6, 2), POLICY, champion_version="4")
    assert decision.promote, decision.reason
    assert decision.challenger > decision.champion + 0.1
    assert decision.bootstrap is not None and decision.bootstrap.ci_low > 0
    assert decision.bootstrap.valid_resamples == POLICY.resamples
    assert decision.champion_version == "4"
    assert decision.reason == "all checks passed"


def test_refuses_a_clearly_worse_challenger() -> None:
    y = labels(2000)
    decision = gate.decide(y, model_scores(y, 0.9, 2), model_scores(y, 1.6, 1), POLICY, champion_version="4")
    assert not decision.promote
    assert decision.bootstrap.ci_high < 0
    assert "lies below 0: the challenger is worse" in decision.reason


def test_refuses_noise_between_models_of_identical_quality() -> None:
    y = labels(2000)
    challenger = model_scores(y, 1.2, 3)
    champion = challenger + np.random.default_rng(4).normal(scale=0.05, size=y.size)
    decision = gate.decide(y, challenger, champion, POLICY, champion_version="1")
    assert not decision.promote
    assert abs(decision.difference) < 0.005
    assert decision.bootstrap.ci_low < 0 < decision.bootstrap.ci_high
    assert checks(decision) == {
        "eval_rows": True,
        "floor": True,
        "min_improvement": False,
        "ci_excludes_zero": False,
    }
    assert "contains 0: not better beyond noise" in decision.reason


def test_never_promotes_any_of_many_equally_good_independent_models() -> None:
    y = labels(1000, seed=5)
    policy = replace(POLICY, resamples=300)
    promoted = [
        gate.decide(y, model_scores(y, 1.2, 100 + i), model_scores(y, 1.2, 200 + i), policy, "1").promote
        for i in range(20)
    ]
    assert promoted == [False] * 20


def test_refuses_below_the_floor_even_without_champion() -> None:
    y = labels(2000)
    decision = gate.decide(y, model_scores(y, 0.3, 6), None, POLICY)
    assert decision.challenger < POLICY.floor
    assert not decision.promote
    assert checks(decision)["floor"] is False
    assert "< floor 0.7" in decision.reason


def test_refuses_a_real_but_too_small_improvement() -> None:
    y = labels(8000, seed=8)
    challenger = model_scores(y, 1.2, 9)
    champion = challenger + np.random.default_rng(10).normal(scale=0.35, size=y.size)
    policy = replace(POLICY, resamples=200, min_improvement=0.02)
    decision = gate.decide(y, challenger, champion, policy, "2")
    assert 0 < decision.difference < 0.02
    assert decision.bootstrap.ci_low > 0  # statistically real ...
    assert checks(decision)["min_improvement"] is False  # ... but below the policy's bar
    assert not decision.promote
    relaxed = gate.decide(y, challenger, champion, replace(policy, min_improvement=0.0), "2")
    assert relaxed.promote


def test_without_champion_the_floor_alone_decides() -> None:
    y = labels(2000)
    decision = gate.decide(y, model_scores(y, 1.6, 1), None, POLICY)
    assert decision.promote
    assert decision.champion is None and decision.difference is None and decision.bootstrap is None
    no_champion = [c for c in decision.checks if c.name in ("min_improvement", "ci_excludes_zero")]
    assert all(c.passed and "floor alone decides" in c.reason for c in no_champion)


def test_bootstrap_is_deterministic_given_the_seed() -> None:
    y = labels(1500)
    a, b = model_scores(y, 1.3, 12), model_scores(y, 1.1, 13)
    first = gate.decide(y, a, b, POLICY, "1").bootstrap
    second = gate.decide(y, a, b, POLICY, "1").bootstrap
    other = gate.decide(y, a, b, replace(POLICY, seed=12), "1").bootstrap
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


def test_too_few_rows_or_one_class_refuses() -> None:
    y = labels(200)
    small = gate.decide(y, model_scores(y, 3.0, 1), None, POLICY)
    assert not small.promote and checks(small)["eval_rows"] is False
    one_class = np.zeros(500, dtype=bool)
    decision = gate.decide(one_class, np.linspace(0, 1, 500), np.linspace(0, 1, 500), POLICY, "1")
    assert not decision.promote
    assert "one class" in decision.reason


def test_decision_serialises_to_strict_json() -> None:
    y = labels(1000)
    decision = gate.decide(y, model_scores(y, 1.6, 1), model_scores(y, 0.6, 2), POLICY, "3")
    data = json.loads(json.dumps(decision.to_dict(), allow_nan=False))
    assert data["promote"] is True
    assert {"challenger", "champion", "difference", "floor", "min_improvement", "bootstrap", "checks"} <= set(
        data
    )
    assert set(data["bootstrap"]) >= {"ci_low", "ci_high", "resamples", "confidence", "seed"}


def test_policy_from_dict_reads_every_field() -> None:
    policy = gate.GatePolicy.from_dict(
        {
            "primary_metric": "average_precision",
            "floor": 0.5,
            "min_improvement": 0.02,
            "min_eval_rows": 100,
            "bootstrap": {"resamples": 200, "confidence": 0.9, "seed": 3},
        }
    )
    assert policy == gate.GatePolicy("average_precision", 0.5, 0.02, 100, 200, 0.9, 3)
    y = labels(1000)
    decision = gate.decide(y, model_scores(y, 1.6, 1), model_scores(y, 0.6, 2), policy, "1")
    assert decision.metric == "average_precision" and decision.promote


@pytest.mark.parametrize("metric_name", ["roc_auc", "average_precision"])
def test_identical_models_have_zero_difference(metric_name: str) -> None:
    y = labels(800)
    scores = model_scores(y, 1.0, 1)
    decision = gate.decide(
        y, scores, scores.copy(), replace(POLICY, primary_metric=metric_name, resamples=200), "1"
    )
    assert decision.difference == 0
    assert decision.bootstrap.ci_low == decision.bootstrap.ci_high == 0
    assert not decision.promote
