"""Metrics: the vectorised weighted forms agree with scikit-learn, including ties and weights."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from ctloop import metrics


@pytest.fixture
def scored() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.random(2000) < 0.3
    scores = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), 2)  # rounding makes ties
    return y, scores


def test_weighted_roc_auc_matches_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = scored
    weights = metrics.resample_counts(y.size, 6, np.random.default_rng(1)).astype(float)
    weights[0, :50] = 0.0
    expected = [roc_auc_score(y, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(metrics.roc_auc_batch(y, scores, weights), expected, rtol=1e-12)
    assert metrics.roc_auc(y, scores) == pytest.approx(roc_auc_score(y, scores), rel=1e-12)


def test_weighted_average_precision_matches_sklearn(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = scored
    weights = metrics.resample_counts(y.size, 4, np.random.default_rng(2))
    expected = [average_precision_score(y, scores, sample_weight=w) for w in weights]
    np.testing.assert_allclose(metrics.average_precision_batch(y, scores, weights), expected, rtol=1e-12)


def test_report_on_probabilities(scored: tuple[np.ndarray, np.ndarray]) -> None:
    y, scores = scored
    report = metrics.report(y, scores)
    assert report["rows"] == 2000
    assert report["positive_rate"] == pytest.approx(y.mean())
    assert report["brier"] == pytest.approx(brier_score_loss(y, scores))
    assert report["log_loss"] == pytest.approx(log_loss(y, np.clip(scores, 1e-15, 1 - 1e-15)), rel=1e-6)


def test_undefined_cases_are_nan_not_errors() -> None:
    y = np.zeros(10, dtype=bool)
    assert np.isnan(metrics.roc_auc(y, np.linspace(0, 1, 10)))
    assert not metrics.has_both_classes(y)
    scores = np.linspace(0, 2, 10)  # not probabilities: no log loss / Brier
    report = metrics.report(np.arange(10) % 2, scores)
    assert np.isnan(report["brier"]) and np.isnan(report["log_loss"])


def test_resample_counts_draw_n_rows_each() -> None:
    counts = metrics.resample_counts(50, 8, np.random.default_rng(0))
    assert counts.shape == (8, 50)
    assert (counts.sum(axis=1) == 50).all()


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        metrics.roc_auc(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_auc(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.metric("accuracy", np.array([0, 1]), np.array([0.1, 0.9]))
