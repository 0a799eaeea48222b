"""Health verdicts of a new deployment (pure): each threshold of policies/rollout.yml is enforced."""

from __future__ import annotations

import pytest

from ctloop.rollout.endpoint import DeploymentMetrics
from ctloop.rollout.health import Quality, Sample, evaluate, live_breaches, watch

HEALTH = {
    "max_error_rate": 0.02,
    "max_p99_latency_ms": 1000,
    "min_requests": 50,
    "max_evidence_wait_s": 300,
    "primary_metric": "roc_auc",
    "max_primary_metric_drop": 0.03,
    "min_labelled_rows": 500,
    "interval_s": 1,
    "max_rss_mb": 2048,
    "max_rss_growth_kb_per_request": 64,
    "max_restarts": 0,
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


# --- health sampled during a bake (no sleeping: the wait is injected) ----------------------------
def _ok(requests: int = 100, rss: float = 300.0) -> Sample:
    return Sample(alive=True, requests=requests, errors=0, p99_ms=20.0, rss_mb=rss, restarts=0)


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (Sample(alive=False), "stopped"),
        (Sample(alive=True, requests=3, restarts=1, rss_mb=300.0), "1 worker restart(s)"),
        (Sample(alive=True, requests=3, rss_mb=2049.0), "resident memory 2049 MiB exceeds 2048"),
        (Sample(alive=True, requests=100, errors=3, rss_mb=300.0), "error rate 3.0%"),
        (Sample(alive=True, requests=100, p99_ms=1001.0, rss_mb=300.0), "p99 latency 1001 ms"),
    ],
)
def test_each_live_limit_breaks_alone(sample: Sample, reason: str) -> None:
    reasons = live_breaches(sample, None, HEALTH)
    assert len(reasons) == 1 and reason in reasons[0]


def test_rates_wait_for_enough_requests_and_limits_are_inclusive() -> None:
    assert live_breaches(Sample(alive=True, requests=49, errors=49), None, HEALTH) == []
    assert live_breaches(Sample(alive=True, requests=50, errors=1, p99_ms=1000.0), None, HEALTH) == []
    assert live_breaches(Sample(alive=True, requests=3, rss_mb=2048.0), None, HEALTH) == []


def test_memory_growth_is_judged_per_request_after_warm_up() -> None:
    base = _ok(requests=50, rss=300.0)
    # 64 KiB per request exactly is allowed; more is a leak
    assert live_breaches(_ok(requests=100, rss=300.0 + 50 * 64 / 1024), base, HEALTH) == []
    leak = live_breaches(_ok(requests=100, rss=300.0 + 50 * 65 / 1024), base, HEALTH)
    assert len(leak) == 1 and "65 KiB per request" in leak[0]
    # too few requests since the base: not judged yet
    assert live_breaches(_ok(requests=99, rss=900.0), base, HEALTH) == []


def test_the_watch_stops_at_the_first_breaking_sample() -> None:
    samples = iter([_ok(10), _ok(60, 300.0), _ok(110, 301.0), _ok(160, 400.0), _ok(210, 500.0)])
    waits: list[float] = []

    def wait(interval: float) -> bool:
        waits.append(interval)
        return False  # the bake never ends by itself here

    reasons, taken = watch(lambda: next(samples), HEALTH, wait)
    assert len(taken) == 4 and taken[-1].requests == 160  # 100 MiB over 100 requests after the base
    assert "KiB per request" in reasons[0]
    assert waits == [1.0] * 4


def test_the_watch_ends_with_the_bake_when_nothing_breaks() -> None:
    ends = iter([False, False, True])
    reasons, taken = watch(lambda: _ok(), HEALTH, lambda _: next(ends))
    assert reasons == [] and len(taken) == 3


def test_a_bake_whose_time_is_up_goes_on_until_the_evidence_is_in() -> None:
    """Time up with 10, then 30 requests: keep sampling; 50 requests: the bake is over (a busy
    machine or an unlucky draw at a 10% weight lengthens the bake instead of failing it)."""
    samples = iter([_ok(10), _ok(30), _ok(50), _ok(70)])
    reasons, taken = watch(lambda: next(samples), HEALTH, lambda _: False, lambda: True)
    assert reasons == [] and [s.requests for s in taken] == [10, 30, 50]


def test_enough_evidence_does_not_end_a_bake_before_its_time() -> None:
    samples = iter([_ok(60), _ok(70), _ok(80)])
    clock = iter([False, False, True])
    reasons, taken = watch(lambda: next(samples), HEALTH, lambda _: False, lambda: next(clock))
    assert reasons == [] and len(taken) == 3


def test_traffic_that_stops_ends_the_bake_without_the_evidence() -> None:
    """The replay ran out (the bake plus max_evidence_wait_s): the watch returns, and the step's
    verdict then fails it for too few requests."""
    ends = iter([False, True])
    reasons, taken = watch(lambda: _ok(5), HEALTH, lambda _: next(ends), lambda: True)
    assert reasons == [] and len(taken) == 2
    verdict = evaluate(_m(requests=5), HEALTH, Quality(None, 0), None)
    assert verdict.reasons == ["only 5 requests reached the new deployment (need 50)"]
