"""Time-ordered train/eval split: never random on a time series.

The evaluation slice is the latest ``eval_days`` of *labelled* data, ending at the last labelled
row; the training window is the ``train_days`` before it, after leaving ``gap_days`` out. Rows
without a label are in neither part, and rows newer than the last label are left for later.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


class SplitError(ValueError):
    """A split that cannot be made: names the part (or field) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class Window:
    """A half-open time window ``(start, end]``."""

    start: pd.Timestamp
    end: pd.Timestamp

    def mask(self, times: pd.Series) -> pd.Series:
        return (times > self.start) & (times <= self.end)


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    eval: pd.DataFrame
    train_window: Window
    eval_window: Window


def time_split(
    frame: pd.DataFrame,
    *,
    time_column: str,
    label: str,
    eval_days: int,
    train_days: int,
    gap_days: int,
    min_train_rows: int,
    min_eval_rows: int,
) -> Split:
    """Split ``frame`` by time; SplitError when a part would be too small."""
    for col in (time_column, label):
        if col not in frame.columns:
            raise SplitError(col, "column missing")
    times = frame[time_column]
    labelled = frame[label].notna() & times.notna()
    if not labelled.any():
        raise SplitError(label, "no labelled rows to split")
    last = times[labelled].max()
    cut = last - pd.Timedelta(days=eval_days)
    eval_window = Window(cut, last)
    train_end = cut - pd.Timedelta(days=gap_days)
    train_window = Window(train_end - pd.Timedelta(days=train_days), train_end)
    eval_part = frame[labelled & eval_window.mask(times)].reset_index(drop=True)
    train_part = frame[labelled & train_window.mask(times)].reset_index(drop=True)
    if len(eval_part) < min_eval_rows:
        raise SplitError(
            "eval",
            f"{len(eval_part)} labelled rows in the last {eval_days} days "
            f"({_span(eval_window)}), need at least {min_eval_rows}",
        )
    if len(train_part) < min_train_rows:
        raise SplitError(
            "train",
            f"{len(train_part)} labelled rows in the {train_days}-day training window "
            f"({_span(train_window)}), need at least {min_train_rows}",
        )
    return Split(train_part, eval_part, train_window, eval_window)


def _span(window: Window) -> str:
    return f"after {window.start.date()} up to {window.end.date()}"
