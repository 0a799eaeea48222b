"""Health verdicts of a new deployment (pure): each threshold of policies/rollout.yml is enforced."""

from __future__ import annotations

from ctloop.rollout.endpoint import DeploymentMetrics
from ctloop.rollout.health import Quality, evaluate

HEALTH = {
    "max_error_rate": 0.02,
    "max_p99_latency_ms": 1000,
    "min_requests": 50,
    "primary_metric": "roc_auc",
    "max_primary_metric_drop": 0.03,
    "min_labelled_rows": 500,
}


def _m(requests: int = 100, errors: int = 0, p99: float = 20.0) -> DeploymentMetrics:
    return DeploymentMetrics("green", requests=requests, errors=errors, p50_ms=5, p95_ms=10, p99_ms=p99)


def test_a_healthy_window_passes_with_the_quality_check_done() -> None:
    verdict = evaluate(_m(), HEALTH, Quality(0.85, 600), Quality(0.86, 900))
    assert verdict.ok and verdict.reasons == []
    assert abs(verdict.observed["quality"]["drop"] - 0.01) < 1e-9


def test_error_rate_above_the_limit_fails() -> None:
    verdict = evaluate(_m(errors=3), HEALTH, Quality(None, 0), None)
    assert not verdict.ok
    assert verdict.reasons == ["error rate 3.0% (3/100) exceeds 2.0%"]


def test_two_percent_errors_is_still_healthy() -> None:
    assert evaluate(_m(errors=2), HEALTH, Quality(None, 0), None).ok


def test_slow_p99_fails() -> None:
    verdict = evaluate(_m(p99=1500), HEALTH, Quality(None, 0), None)
    assert verdict.reasons == ["p99 latency 1500 ms exceeds 1000 ms"]


def test_too_little_traffic_fails() -> None:
    assert evaluate(_m(requests=10), HEALTH, Quality(None, 0), None).reasons[0].startswith("only 10 requests")
    assert not evaluate(None, HEALTH, Quality(None, 0), None).ok


def test_a_drop_of_the_primary_metric_fails() -> None:
    verdict = evaluate(_m(), HEALTH, Quality(0.80, 600), Quality(0.86, 900))
    assert not verdict.ok
    assert "roc_auc 0.800 is 0.060 below" in verdict.reasons[0]


def test_quality_is_skipped_without_enough_labelled_rows() -> None:
    verdict = evaluate(_m(), HEALTH, Quality(0.50, 100), Quality(0.90, 900))
    assert verdict.ok
    assert "skipped" in verdict.observed["quality"]


def test_no_primary_metric_configured_means_no_quality_check() -> None:
    verdict = evaluate(_m(), {**HEALTH, "primary_metric": None}, Quality(0.1, 900), Quality(0.9, 900))
    assert verdict.ok
