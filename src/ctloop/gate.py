"""The promotion gate: does a challenger replace the champion? Pure: arrays and a policy in, a decision out.

Every threshold comes from ``policies/promotion.yml`` (see :class:`GatePolicy`). The checks:

1. ``eval_rows``: the evaluation slice holds at least ``min_eval_rows`` rows and both classes.
2. ``floor``: the challenger's primary metric reaches the absolute floor.
3. ``min_improvement``: challenger minus champion is at least ``min_improvement``.
4. ``ci_excludes_zero``: the paired bootstrap confidence interval of that difference lies above 0.

Without a champion, checks 3 and 4 pass with that reason and the floor alone decides.
The challenger is promoted only when every check passes; nothing outside the policy can skip one.
Values meet their thresholds as :func:`ctloop.triggers.reaches` compares them (at a fixed decimal
resolution), so 0.82 - 0.81, which is 0.00999... in binary floating point, reaches 0.01.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ctloop import metrics
from ctloop.fileio import json_ready
from ctloop.triggers import reaches

#: How many bootstrap resamples are evaluated per batch (bounds memory at batch x rows weights).
_BATCH_CELLS = 2_000_000


@dataclass(frozen=True)
class GatePolicy:
    """The gate's thresholds, as read from a validated ``promotion.yml``."""

    primary_metric: str
    floor: float
    min_improvement: float
    min_eval_rows: int
    resamples: int
    confidence: float
    seed: int

    @classmethod
    def from_dict(cls, policy: dict[str, Any]) -> GatePolicy:
        boot = policy["bootstrap"]
        return cls(
            primary_metric=str(policy["primary_metric"]),
            floor=float(policy["floor"]),
            min_improvement=float(policy["min_improvement"]),
            min_eval_rows=int(policy["min_eval_rows"]),
            resamples=int(boot["resamples"]),
            confidence=float(boot["confidence"]),
            seed=int(boot["seed"]),
        )


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str


@dataclass(frozen=True)
class Bootstrap:
    """Paired bootstrap of ``metric(challenger) - metric(champion)`` over the same resampled rows."""

    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int
    valid_resamples: int
    seed: int
    seconds: float
    batches: int = 1  # resample batches drawn (memory bound: batch x rows weights)


@dataclass(frozen=True)
class Decision:
    promote: bool
    metric: str
    rows: int
    positives: int
    challenger: float
    champion: float | None
    champion_version: str | None
    difference: float | None
    floor: float
    min_improvement: float
    min_eval_rows: int
    bootstrap: Bootstrap | None
    checks: list[Check] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None; see :func:`ctloop.fileio.json_ready`)."""
        return json_ready(asdict(self))


def interval(differences: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval at ``confidence`` of the finite ``differences`` (NaN if none)."""
    values = np.asarray(differences, dtype=float)
    valid = values[np.isfinite(values)]
    if not valid.size:
        return float("nan"), float("nan")
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(valid, [tail, 1.0 - tail])
    return float(low), float(high)


def paired_bootstrap(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    metric_name: str,
    resamples: int,
    confidence: float,
    seed: int,
    batch_cells: int = _BATCH_CELLS,
    clock: Callable[[], float] = time.perf_counter,
) -> Bootstrap:
    """Percentile CI of the metric difference; both models see the identical resampled rows.

    Resamples are drawn in batches of at most ``batch_cells`` weights; the draws, and so the
    interval, do not depend on the batch size.
    """
    start = clock()
    batch_fn = metrics.BATCH_METRICS[metric_name]
    y = np.asarray(y)
    n = y.size
    rng = np.random.default_rng(seed)
    batch = max(1, batch_cells // max(n, 1))
    diffs: list[np.ndarray] = []
    done = 0
    while done < resamples:
        size = min(batch, resamples - done)
        weights = metrics.resample_counts(n, size, rng)
        diffs.append(batch_fn(y, challenger, weights) - batch_fn(y, champion, weights))
        done += size
    all_diffs = np.concatenate(diffs)
    low, high = interval(all_diffs, confidence)
    point = metrics.metric(metric_name, y, challenger) - metrics.metric(metric_name, y, champion)
    return Bootstrap(
        difference=float(point),
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        resamples=int(all_diffs.size),
        valid_resamples=int(np.isfinite(all_diffs).sum()),
        seed=seed,
        seconds=clock() - start,
        batches=len(diffs),
    )


def check_rows(rows: int, positives: int, policy: GatePolicy) -> Check:
    """``eval_rows``: enough rows, and both classes among them."""
    if rows < policy.min_eval_rows:
        return Check("eval_rows", False, f"{rows} rows < min_eval_rows {policy.min_eval_rows}")
    if positives in (0, rows):
        return Check("eval_rows", False, f"the eval slice holds one class only ({positives} positives)")
    return Check("eval_rows", True, f"{rows} rows >= {policy.min_eval_rows}, {positives} positives")


def check_floor(challenger: float, policy: GatePolicy) -> Check:
    """``floor``: the challenger's metric reaches the policy's absolute floor (NaN never does)."""
    name = policy.primary_metric
    if np.isfinite(challenger) and reaches(challenger, policy.floor):
        return Check("floor", True, f"challenger {name} {challenger:.4f} >= floor {policy.floor}")
    return Check("floor", False, f"challenger {name} {challenger:.4f} < floor {policy.floor}")


def check_improvement(difference: float, policy: GatePolicy) -> Check:
    """``min_improvement``: challenger minus champion reaches the policy's minimum improvement."""
    ok = reaches(difference, policy.min_improvement)
    sign = ">=" if ok else "<"
    return Check(
        "min_improvement",
        ok,
        f"challenger - champion = {difference:+.4f} {sign} min_improvement {policy.min_improvement}",
    )


def check_interval(boot: Bootstrap) -> Check:
    """``ci_excludes_zero``: the whole interval lies above 0 (0 itself is not above)."""
    level = f"{boot.confidence:.0%} CI [{boot.ci_low:+.4f}, {boot.ci_high:+.4f}]"
    if np.isfinite(boot.ci_low) and not reaches(0.0, boot.ci_low):
        return Check("ci_excludes_zero", True, f"{level} lies above 0")
    if np.isfinite(boot.ci_high) and not reaches(boot.ci_high, 0.0):
        return Check("ci_excludes_zero", False, f"{level} lies below 0: the challenger is worse")
    return Check("ci_excludes_zero", False, f"{level} contains 0: not better beyond noise")


def decide(
    y: np.ndarray,
    challenger_scores: np.ndarray,
    champion_scores: np.ndarray | None,
    policy: GatePolicy,
    champion_version: str | None = None,
) -> Decision:
    """Apply the gate to scores of the challenger (and the champion, if any) on the same rows."""
    y = np.asarray(y).astype(bool).ravel()
    name = policy.primary_metric
    rows, positives = int(y.size), int(y.sum())
    evaluable = metrics.has_both_classes(y)
    challenger = metrics.metric(name, y, challenger_scores) if evaluable else float("nan")
    checks = [check_rows(rows, positives, policy), check_floor(challenger, policy)]

    champion: float | None = None
    difference: float | None = None
    boot: Bootstrap | None = None
    if champion_scores is None:
        no_champ = "no champion yet: the floor alone decides"
        checks.append(Check("min_improvement", True, no_champ))
        checks.append(Check("ci_excludes_zero", True, no_champ))
    elif not evaluable:
        checks.append(Check("min_improvement", False, "metric undefined on this eval slice"))
        checks.append(Check("ci_excludes_zero", False, "metric undefined on this eval slice"))
    else:
        champion = metrics.metric(name, y, champion_scores)
        difference = challenger - champion
        checks.append(check_improvement(difference, policy))
        boot = paired_bootstrap(
            y, challenger_scores, champion_scores, name, policy.resamples, policy.confidence, policy.seed
        )
        checks.append(check_interval(boot))

    promote = all(c.passed for c in checks)
    failed = [c for c in checks if not c.passed]
    reason = "all checks passed" if promote else "; ".join(f"{c.name}: {c.reason}" for c in failed)
    return Decision(
        promote=promote,
        metric=name,
        rows=rows,
        positives=positives,
        challenger=challenger,
        champion=champion,
        champion_version=champion_version,
        difference=difference,
        floor=policy.floor,
        min_improvement=policy.min_improvement,
        min_eval_rows=policy.min_eval_rows,
        bootstrap=boot,
        checks=checks,
        reason=reason,
    )


def pick_candidate(y: np.ndarray, candidates: list[np.ndarray], policy: GatePolicy) -> tuple[int, str]:
    """Which candidate meets the champion, and why: the first (the training-window one) unless a later
    one beats it the way a challenger must beat a champion (:func:`decide`, the same thresholds).

    The candidates are judged on the slice the gate then uses, so the higher of two point values
    would carry its luck into the gate (the winner's curse): a candidate trained on less data that
    wins the slice by noise would reach the gate as often as one that learned something new.
    """
    best, reason = 0, "the first candidate"
    for index in range(1, len(candidates)):
        verdict = decide(y, candidates[index], candidates[best], policy)
        if verdict.promote:
            best, reason = index, f"candidate {index} beat candidate {best}: all checks passed"
        else:
            reason = f"candidate {index} did not beat candidate {best}: {verdict.reason}"
    return best, reason
