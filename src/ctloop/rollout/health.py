"""Health verdict of the new deployment over one window, against the thresholds in ``health``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ctloop.rollout.endpoint import DeploymentMetrics


@dataclass
class Quality:
    """A primary-metric value and the labelled rows behind it."""

    value: float | None
    rows: int


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    observed: dict[str, Any] = field(default_factory=dict)


def evaluate(
    new: DeploymentMetrics | None, health: dict[str, Any], quality_new: Quality, quality_old: Quality | None
) -> Verdict:
    """Error rate, p99 latency and enough requests; and no drop of the primary metric where
    both deployments have enough labelled rows (``quality_old`` None: nothing to compare with)."""
    reasons: list[str] = []
    observed: dict[str, Any] = {"metrics": new.to_dict() if new else None}
    requests = new.requests if new else 0
    if requests < int(health["min_requests"]):
        reasons.append(f"only {requests} requests reached the new deployment (need {health['min_requests']})")
    if new is not None and new.requests:
        if new.error_rate > float(health["max_error_rate"]):
            reasons.append(
                f"error rate {new.error_rate:.1%} ({new.errors}/{new.requests}) "
                f"exceeds {float(health['max_error_rate']):.1%}"
            )
        if new.p99_ms is not None and new.p99_ms > float(health["max_p99_latency_ms"]):
            reasons.append(
                f"p99 latency {new.p99_ms:.0f} ms exceeds {float(health['max_p99_latency_ms']):.0f} ms"
            )
    metric = health.get("primary_metric")
    minimum = int(health["min_labelled_rows"])
    observed["quality"] = {
        "metric": metric,
        "new": quality_new.__dict__,
        "old": quality_old.__dict__ if quality_old else None,
    }
    if metric and quality_old is not None:
        enough = quality_new.rows >= minimum and quality_old.rows >= minimum
        if enough and quality_new.value is not None and quality_old.value is not None:
            drop = quality_old.value - quality_new.value
            observed["quality"]["drop"] = drop
            if drop > float(health["max_primary_metric_drop"]):
                reasons.append(
                    f"{metric} {quality_new.value:.3f} is {drop:.3f} below the old deployment's "
                    f"{quality_old.value:.3f} (allowed drop {float(health['max_primary_metric_drop']):.3f})"
                )
        else:
            observed["quality"]["skipped"] = (
                f"fewer than {minimum} labelled rows with both classes per deployment"
            )
    return Verdict(ok=not reasons, reasons=reasons, observed=observed)


@dataclass(frozen=True)
class Sample:
    """The new deployment as seen at one instant of a bake (counters since the stage began)."""

    alive: bool
    requests: int = 0
    errors: int = 0
    p99_ms: float | None = None
    rss_mb: float | None = None
    restarts: int = 0


def live_breaches(sample: Sample, base: Sample | None, health: dict[str, Any]) -> list[str]:
    """The limits in ``health`` that ``sample`` breaks now (empty: keep baking). Error rate and p99
    are judged once ``min_requests`` requests have arrived; memory growth per request over the
    requests after ``base`` (the first sample past ``min_requests``, so a worker's warm-up does
    not count), once ``min_requests`` more have arrived."""
    if not sample.alive:
        return ["the deployment stopped: its process is gone or it fails its liveness probe"]
    reasons: list[str] = []
    if sample.restarts > int(health["max_restarts"]):
        reasons.append(f"{sample.restarts} worker restart(s) (allowed {health['max_restarts']})")
    limit_mb = float(health["max_rss_mb"])
    if sample.rss_mb is not None and sample.rss_mb > limit_mb:
        reasons.append(f"resident memory {sample.rss_mb:.0f} MiB exceeds {limit_mb:.0f} MiB")
    minimum = int(health["min_requests"])
    if sample.requests < minimum:
        return reasons
    served = sample.requests - base.requests if base is not None else 0
    if base is not None and sample.rss_mb is not None and base.rss_mb is not None and served >= minimum:
        grown = sample.rss_mb - base.rss_mb
        per_request = grown * 1024 / served
        allowed = float(health["max_rss_growth_kb_per_request"])
        if per_request > allowed:
            reasons.append(
                f"resident memory grew {grown:.0f} MiB over {served} requests "
                f"({per_request:.0f} KiB per request; allowed {allowed:.0f})"
            )
    rate = sample.errors / sample.requests
    if rate > float(health["max_error_rate"]):
        reasons.append(
            f"error rate {rate:.1%} ({sample.errors}/{sample.requests}) "
            f"exceeds {float(health['max_error_rate']):.1%}"
        )
    if sample.p99_ms is not None and sample.p99_ms > float(health["max_p99_latency_ms"]):
        reasons.append(
            f"p99 latency {sample.p99_ms:.0f} ms exceeds {float(health['max_p99_latency_ms']):.0f} ms"
        )
    return reasons


def watch(
    sample: Callable[[], Sample],
    health: dict[str, Any],
    wait: Callable[[float], bool],
    baked: Callable[[], bool] = lambda: False,
) -> tuple[list[str], list[Sample]]:
    """Sample every ``health.interval_s`` until a limit breaks, or the bake is over: its time is
    up (``baked()``; by default only ``wait`` ends it) and ``health.min_requests`` requests have
    reached the new deployment, or ``wait`` reports that no more evidence will come (True: the
    traffic stopped, e.g. at the end of ``health.max_evidence_wait_s``). A slow machine therefore
    lengthens a bake rather than failing it for want of requests. Returns (reasons, the samples
    taken); reasons is empty when the bake ran its course."""
    interval = float(health["interval_s"])
    minimum = int(health["min_requests"])
    taken: list[Sample] = []
    base: Sample | None = None
    while True:
        ended = wait(interval)
        now = sample()
        taken.append(now)
        if base is None and now.requests >= minimum:
            base = now
        reasons = live_breaches(now, base, health)
        if reasons or ended or (now.requests >= minimum and baked()):
            return reasons, taken
