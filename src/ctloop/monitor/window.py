"""The metrics of one monitor window ``[start, end)``: pure, frames in, one flat dict out.

* Traffic (requests made in the window): request count, error rate (status >= ``error_status``),
  client error rate (4xx), latency p50/p95/p99, scored rows, mean confidence ``max(p, 1 - p)``,
  share predicted positive.
* Labels that *arrived* in the window, joined to their predictions by (request id, row) wherever
  the prediction was made: ``labels_arrived``, ``labels_matched``, ``labels_unmatched``, and the
  window's ``roc_auc`` / ``accuracy`` on the matched rows.
* ``recent_*``: the primary metric over the labels that arrived in the performance lookback, for
  rows the current champion scored: the trigger's "current" value (None under
  ``min_labelled_rows``).
* Data drift of the rows scored in the drift lookback against the champion's reference, through
  ``ctloop.drift`` (per-feature table, then ``overall_score``), and prediction drift: the
  Jensen-Shannon distance of the scores against the champion's scores on its reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ctloop import drift, metrics
from ctloop.monitor.settings import MonitorSettings
from ctloop.triggers import auc_standard_error

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class Reference:
    """The champion's drift reference: its training sample and its scores on it."""

    version: str | None
    frame: pd.DataFrame
    scores: np.ndarray
    features: list[str]
    importance: dict[str, float] | None = None  # the champion's permutation importance (sums to 1)


def _nan_to_none(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def traffic(requests: pd.DataFrame, scored: pd.DataFrame, error_status: int) -> dict[str, Any]:
    """Request and score statistics of the requests made in the window."""
    out: dict[str, Any] = {"requests": len(requests), "rows_scored": len(scored)}
    status = requests["status"].to_numpy(dtype=float) if len(requests) else np.empty(0)
    out["error_rate"] = float(np.mean(status >= error_status)) if status.size else None
    out["client_error_rate"] = float(np.mean((status >= 400) & (status < 500))) if status.size else None
    latency = requests["latency_ms"].to_numpy(dtype=float) if len(requests) else np.empty(0)
    latency = latency[np.isfinite(latency)]
    for q in PERCENTILES:
        out[f"latency_p{q}_ms"] = float(np.percentile(latency, q)) if latency.size else None
    p = scored["probability"].to_numpy(dtype=float) if len(scored) else np.empty(0)
    out["confidence_mean"] = float(np.mean(np.maximum(p, 1 - p))) if p.size else None
    out["predicted_positive_rate"] = (
        float(np.mean(scored["prediction"].astype(float))) if len(scored) else None
    )
    return out


def join_labels(scored: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Labels with the prediction they answer (``probability`` NaN when no prediction matched)."""
    keep = ["request_id", "row", "probability", "prediction", "model_version"]
    right = scored[keep].rename(columns={"model_version": "scored_by"}) if len(scored) else None
    if right is None:
        out = labels.copy()
        for c in ("probability", "prediction", "scored_by"):
            out[c] = np.nan
        return out
    right = right.drop_duplicates(["request_id", "row"], keep="first")
    return labels.merge(right, on=["request_id", "row"], how="left")


def performance(joined: pd.DataFrame, prefix: str = "") -> dict[str, Any]:
    """ROC-AUC (with its Hanley-McNeil standard error), accuracy and the calibration gap (observed
    positive rate minus mean probability, with its standard error) of matched labels (None when
    undefined)."""
    matched = joined[joined["probability"].notna()]
    y = matched["label"].to_numpy(dtype=int)
    p = matched["probability"].to_numpy(dtype=float)
    out: dict[str, Any] = {f"{prefix}labelled_rows": len(matched)}
    out[f"{prefix}roc_auc"] = out[f"{prefix}roc_auc_se"] = None
    if len(matched) and metrics.has_both_classes(y):
        auc = _nan_to_none(metrics.roc_auc(y, p))
        out[f"{prefix}roc_auc"] = auc
        if auc is not None:
            positives = int(y.sum())
            out[f"{prefix}roc_auc_se"] = _nan_to_none(auc_standard_error(auc, positives, len(y) - positives))
    out[f"{prefix}accuracy"] = (
        float(np.mean(matched["prediction"].astype(float).to_numpy() == y)) if len(matched) else None
    )
    gap, se = metrics.calibration_gap(y, p) if len(matched) else (None, None)
    out[f"{prefix}calibration_gap"], out[f"{prefix}calibration_se"] = _nan_to_none(gap), _nan_to_none(se)
    return out


def data_drift(current: pd.DataFrame, reference: Reference, settings: MonitorSettings) -> dict[str, Any]:
    """Overall and per-feature drift of ``current`` against the reference (None under ``drift_min_rows``)."""
    out: dict[str, Any] = {"drift_rows": len(current), "drift_score": None, "drift_features": {}}
    if len(current) < settings.drift_min_rows or reference.frame.empty:
        return out
    table = drift.feature_table(
        reference.frame,
        current,
        reference.features,
        categorical=[f for f in settings.categorical_features if f in reference.features],
        bins=settings.drift_bins,
    )
    weights = reference.importance if settings.drift_weights == "importance" else None
    score = drift.overall_score(
        table,
        settings.drift_method,
        settings.drift_metric,
        threshold=settings.drift_feature_threshold,
        weights=weights,
    )
    out["drift_score"] = _nan_to_none(score)
    out["drift_features"] = {
        str(r["feature"]): _nan_to_none(float(r[settings.drift_metric])) for r in table.to_dict("records")
    }
    return out


def prediction_drift(scores: np.ndarray, reference: Reference, settings: MonitorSettings) -> float | None:
    """Jensen-Shannon distance between recent scores and the champion's reference scores."""
    if scores.size < settings.drift_min_rows or reference.scores.size == 0:
        return None
    ref_sorted, cur_sorted = drift.sorted_values(reference.scores), drift.sorted_values(scores)
    edges = drift.quantile_edges(ref_sorted, settings.prediction_bins)
    value = drift.js_distance_from_counts(
        drift.bin_counts(ref_sorted, edges), drift.bin_counts(cur_sorted, edges)
    )
    return _nan_to_none(value)


def window_metrics(
    start: pd.Timestamp,
    end: pd.Timestamp,
    requests: pd.DataFrame,
    scored: pd.DataFrame,
    labels: pd.DataFrame,
    reference: Reference | None,
    settings: MonitorSettings,
    features: Sequence[str] = (),
) -> dict[str, Any]:
    """Every metric of the window ``[start, end)`` (see the module docstring).

    ``requests``/``scored`` must cover at least the longest lookback before ``end``; ``labels``
    every label that arrived before ``end`` within the performance lookback.
    """
    in_window = (requests["time"] >= start) & (requests["time"] < end)
    rows_in = (scored["time"] >= start) & (scored["time"] < end)
    out = traffic(requests[in_window], scored[rows_in], settings.error_status)

    arrived = labels[(labels["time"] >= start) & (labels["time"] < end)]
    joined = join_labels(scored, arrived)
    out["labels_arrived"] = len(arrived)
    out["labels_unmatched"] = int(joined["probability"].isna().sum())
    out.update(performance(joined))
    out["labels_matched"] = out.pop("labelled_rows")

    champion = reference.version if reference is not None else None
    since = end - pd.Timedelta(days=settings.performance_lookback_days)
    recent = join_labels(scored, labels[(labels["time"] >= since) & (labels["time"] < end)])
    if champion is not None:
        recent = recent[recent["scored_by"] == champion]
    perf = performance(recent, prefix="recent_")
    if perf["recent_labelled_rows"] < settings.min_labelled_rows:
        for key in ("roc_auc", "roc_auc_se", "accuracy", "calibration_gap", "calibration_se"):
            perf[f"recent_{key}"] = None
    out.update(perf)
    out["recent_primary"] = out.get(f"recent_{settings.primary_metric}")
    out["recent_primary_se"] = out.get(f"recent_{settings.primary_metric}_se")
    out["primary"] = out.get(settings.primary_metric)

    drift_since = end - pd.Timedelta(days=settings.drift_lookback_days)
    current = scored[(scored["time"] >= drift_since) & (scored["time"] < end)]
    if reference is not None:
        usable = [f for f in reference.features if f in current.columns]
        missing = sorted(set(reference.features) - set(usable))
        out.update(data_drift(current[usable] if not missing else current.iloc[0:0], reference, settings))
        if missing and len(current):
            out["drift_error"] = f"scored rows lack reference features: {', '.join(missing)}"
        out["prediction_drift"] = prediction_drift(
            current["probability"].to_numpy(dtype=float), reference, settings
        )
    else:
        out.update(
            {"drift_rows": len(current), "drift_score": None, "drift_features": {}, "prediction_drift": None}
        )
    out["champion_version"] = champion
    return out
