"""Binary-classification metrics: the gate's primary metric, its weighted forms, and the report.

Scores are probabilities of the positive class. Weighted forms take one row of non-negative
weights per bootstrap resample (how many times each row was drawn), so a paired bootstrap
evaluates two models on exactly the same resampled rows without copying data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Metrics the gate can use as its primary metric (all: higher is better).
PRIMARY_METRICS: tuple[str, ...] = ("roc_auc", "average_precision")


def _as_arrays(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool).ravel()
    scores = np.asarray(scores, dtype=float).ravel()
    if y.shape != scores.shape:
        raise ValueError(f"labels ({y.size}) and scores ({scores.size}) differ in length")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return y, scores


def has_both_classes(y: np.ndarray) -> bool:
    """True when the labels hold at least one positive and one negative."""
    y = np.asarray(y).astype(bool)
    return bool(y.any() and (~y).any())


def _weights_per_score(
    y: np.ndarray, scores: np.ndarray, weights: np.ndarray, descending: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight per distinct score (ties grouped), scores in the given order,
    one row per row of ``weights``: the common first step of the rank metrics."""
    y, scores = _as_arrays(y, scores)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    order = np.argsort(-scores if descending else scores, kind="mergesort")
    sorted_scores = scores[order]
    sorted_y = y[order]
    w = weights[:, order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos = np.add.reduceat(w * sorted_y, starts, axis=1)
    neg = np.add.reduceat(w * ~sorted_y, starts, axis=1)
    return pos, neg


def roc_auc_batch(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC-AUC under each row of ``weights`` (shape ``(B, n)``): the weighted Mann-Whitney statistic.

    AUC = sum over positive i, negative j of w_i w_j ([s_i > s_j] + ½[s_i = s_j]) / (W+ W-).
    One sort serves all B resamples; tied scores count one half. A resample without both
    classes gives NaN.
    """
    pos, neg = _weights_per_score(y, scores, weights, descending=False)
    neg_below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC-AUC of one score vector (NaN when the labels hold a single class)."""
    return float(roc_auc_batch(y, scores, np.ones((1, np.size(y))))[0])


def average_precision_batch(y: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision under each row of ``weights``: sum over thresholds of ΔRecall x Precision.

    Thresholds are the distinct scores, highest first (sklearn's step form). NaN for a resample
    without positives.
    """
    pos, neg = _weights_per_score(y, scores, weights, descending=True)
    tp = np.cumsum(pos, axis=1)
    predicted = tp + np.cumsum(neg, axis=1)
    total_pos = tp[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        ap = (pos * precision).sum(axis=1) / total_pos
    return np.where(total_pos > 0, ap, np.nan)


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step form)."""
    return float(average_precision_batch(y, scores, np.ones((1, np.size(y))))[0])


#: name -> batch form used by the bootstrap (weights of shape (B, n)).
BATCH_METRICS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "roc_auc": roc_auc_batch,
    "average_precision": average_precision_batch,
}


def metric(name: str, y: np.ndarray, scores: np.ndarray) -> float:
    """Evaluate the primary metric ``name`` on one score vector."""
    if name not in BATCH_METRICS:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(BATCH_METRICS)}")
    return float(BATCH_METRICS[name](y, scores, np.ones((1, np.size(y))))[0])


def report(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Threshold-free metrics for logging: ROC-AUC, average precision, log loss and Brier (NaN
    unless the scores are probabilities), base rate, rows."""
    y, scores = _as_arrays(y, scores)
    out: dict[str, float] = {
        "rows": float(y.size),
        "positive_rate": float(y.mean()) if y.size else float("nan"),
    }
    out["roc_auc"] = roc_auc(y, scores)
    out["average_precision"] = average_precision(y, scores) if y.any() else float("nan")
    probabilities = bool(y.size) and bool(((scores >= 0) & (scores <= 1)).all())
    if probabilities:
        clipped = np.clip(scores, np.finfo(float).eps, 1 - np.finfo(float).eps)
        out["log_loss"] = float(-np.mean(np.where(y, np.log(clipped), np.log1p(-clipped))))
        out["brier"] = float(np.mean((scores - y) ** 2))
    else:
        out["log_loss"] = out["brier"] = float("nan")
    return out


def resample_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each of ``n`` rows is drawn in each of ``resamples`` draws with replacement."""
    idx = rng.integers(0, n, size=(resamples, n))
    offsets = (np.arange(resamples) * n)[:, None]
    return np.bincount((idx + offsets).ravel(), minlength=resamples * n).reshape(resamples, n)


def calibration_gap(y: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Observed positive rate minus mean predicted probability, and its standard error.

    Under a calibrated model each ``y_i - p_i`` has variance ``p_i (1 - p_i)``, so the mean gap has
    standard error ``sqrt(sum p (1 - p)) / n``. A shift of the label threshold moves the gap while
    a ranking metric (ROC-AUC) barely moves. NaN on no rows.
    """
    y, p = _as_arrays(y, probabilities)
    if y.size == 0:
        return float("nan"), float("nan")
    se = float(np.sqrt(np.sum(p * (1 - p)))) / y.size
    return float(y.mean() - p.mean()), se


def permutation_importance(
    predict: Callable[[Any], np.ndarray],
    frame: Any,
    y: np.ndarray,
    features: list[str],
    seed: int,
    repeats: int = 2,
) -> dict[str, float]:
    """Each feature's share of the model's ROC-AUC above chance that shuffling it destroys.

    ``max(0, auc - auc_shuffled)`` averaged over ``repeats`` shuffles, normalised to sum to 1
    (uniform when no feature matters, or the labels hold one class). The model's own view of
    which inputs matter: drift on them is what can hurt it.
    """
    uniform = {f: 1.0 / len(features) for f in features} if features else {}
    y = np.asarray(y).astype(int)
    if not features or not has_both_classes(y):
        return uniform
    rng = np.random.default_rng(seed)
    base = roc_auc(y, predict(frame))
    drops: dict[str, float] = {}
    for f in features:
        losses = []
        for _ in range(repeats):
            shuffled = frame.copy()
            shuffled[f] = rng.permutation(shuffled[f].to_numpy())
            losses.append(base - roc_auc(y, predict(shuffled)))
        drops[f] = max(0.0, float(np.mean(losses)))
    total = sum(drops.values())
    return {f: d / total for f, d in drops.items()} if total > 0 else uniform
