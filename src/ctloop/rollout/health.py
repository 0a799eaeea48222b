"""Health verdict of the new deployment over one window, against the thresholds in ``health``."""

from __future__ import annotations

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
