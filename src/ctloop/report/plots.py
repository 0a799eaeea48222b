"""The dashboard's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

SIZE = (9.0, 3.4)
DPI = 100


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return path


def _markers(ax: Any, times: Sequence[pd.Timestamp], color: str, label: str, style: str) -> None:
    for i, t in enumerate(times):
        ax.axvline(t, color=color, linestyle=style, linewidth=0.9, alpha=0.8, label=label if i == 0 else None)


def metric_plot(
    path: Path,
    windows: pd.DataFrame,
    retrains: Sequence[pd.Timestamp],
    deploys: Sequence[pd.Timestamp],
    metric: str,
) -> Path:
    """Primary metric per window and over the recent lookback, with retrain and deploy markers."""
    fig, ax = plt.subplots(figsize=SIZE)
    if not windows.empty:
        ax.plot(
            windows["end"],
            windows["primary"],
            marker=".",
            linewidth=1,
            label=f"{metric} (labels of the window)",
        )
        ax.plot(
            windows["end"], windows["recent_primary"], linewidth=2, label=f"{metric} (recent, trigger input)"
        )
    _markers(ax, retrains, "tab:gray", "retrain", "--")
    _markers(ax, deploys, "tab:green", "deploy", "-")
    ax.set_ylabel(metric)
    ax.set_title(f"Primary metric ({metric}) over time")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def drift_plot(path: Path, windows: pd.DataFrame, threshold: float | None) -> Path:
    """Overall drift score per window with the trigger threshold."""
    fig, ax = plt.subplots(figsize=SIZE)
    if not windows.empty:
        ax.plot(windows["end"], windows["drift_score"], marker=".", linewidth=1, label="drift score")
        ax.plot(
            windows["end"], windows["prediction_drift"], linewidth=1, alpha=0.7, label="prediction drift (JS)"
        )
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", linestyle="--", label=f"trigger threshold {threshold}")
    ax.set_title("Data drift against the champion's training reference")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def trainings_plot(path: Path, retrains: pd.DataFrame) -> Path:
    """Training runs per month (promoted or not)."""
    fig, ax = plt.subplots(figsize=SIZE)
    if not retrains.empty:
        monthly = retrains.set_index("time").resample("MS")["promoted"].agg(["count", "sum"])
        ax.bar(monthly.index, monthly["count"], width=25, label="training runs", color="tab:blue")
        ax.bar(monthly.index, monthly["sum"], width=25, label="promoted", color="tab:green")
    ax.set_title("Training runs per month")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def compute_plot(path: Path, retrains: pd.DataFrame, policies: dict[str, float]) -> Path:
    """Cumulative training compute seconds over time, and per replay policy."""
    fig, axes = plt.subplots(1, 2, figsize=SIZE, gridspec_kw={"width_ratios": [2, 1]})
    left, right = axes
    if not retrains.empty:
        ordered = retrains.sort_values("time")
        left.step(ordered["time"], ordered["fit_seconds"].cumsum(), where="post")
    left.set_title("Cumulative training compute (s)")
    left.grid(alpha=0.3)
    if policies:
        right.bar(list(policies), list(policies.values()), color="tab:orange")
    right.set_title("Replay: compute per policy (s)")
    right.grid(alpha=0.3, axis="y")
    return _save(fig, path)


def replay_plot(path: Path, policies: dict[str, pd.DataFrame], metric: str, drifted_start: Any) -> Path:
    """Per-batch primary metric of every replay policy."""
    fig, ax = plt.subplots(figsize=SIZE)
    for name, frame in policies.items():
        if not frame.empty:
            ax.plot(frame["start"], frame["metric"], linewidth=1.2 if name == "trigger" else 0.9, label=name)
    if drifted_start is not None:
        ax.axvline(drifted_start, color="tab:red", linestyle=":", label="drifted period")
    ax.set_title(f"Replay: {metric} per batch under each policy")
    ax.set_ylabel(metric)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
