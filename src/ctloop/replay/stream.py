"""The replay's data: a time-ordered labelled table cut into the warm-up and fixed-length batches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import datasets


class StreamError(ValueError):
    """A dataset the replay cannot stream; names the file, the field and the reason."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{file}: {field}: {reason}")


@dataclass(frozen=True)
class Batch:
    index: int
    start_row: int
    end_row: int  # exclusive
    frame: pd.DataFrame


@dataclass(frozen=True)
class Stream:
    """The whole table (time order), its column roles and the row where the stream begins."""

    name: str
    frame: pd.DataFrame
    time_column: str
    features: list[str]
    label: str
    warmup_rows: int

    def batches(self, batch_days: int) -> list[Batch]:
        """Consecutive ``batch_days``-day batches after the warm-up (the last one may be shorter)."""
        times = self.frame[self.time_column]
        out: list[Batch] = []
        row = self.warmup_rows
        while row < len(self.frame):
            until = times.iloc[row] + pd.Timedelta(days=batch_days)
            end = int(times.searchsorted(until, side="left"))
            end = max(end, row + 1)
            out.append(Batch(len(out), row, end, self.frame.iloc[row:end]))
            row = end
        return out


def load_frame(dataset: str) -> tuple[pd.DataFrame, str]:
    """A bundled dataset by name, or a CSV/Parquet file path; returns (frame, display name)."""
    path = Path(dataset)
    if dataset in datasets.names() and not path.exists():
        return datasets.load(dataset), dataset
    if not path.is_file():
        raise StreamError(
            dataset, "<file>", f"neither a bundled dataset ({', '.join(datasets.names())}) nor a file"
        )
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except Exception as exc:
        raise StreamError(path, "<file>", f"unreadable: {exc}") from None
    return frame, path.stem


def make_stream(dataset: str, data_policy: dict[str, Any]) -> Stream:
    """Load and check ``dataset`` against the data policy's roles; warm-up: the split's train+eval days."""
    frame, name = load_frame(dataset)
    time_column, label = data_policy["time_column"], data_policy["label"]
    features = list(data_policy["features"])
    missing = [c for c in [time_column, label, *features] if c not in frame.columns]
    if missing:
        raise StreamError(dataset, missing[0], "column required by policies/data.yml is missing")
    frame = frame.copy()
    try:
        frame[time_column] = pd.to_datetime(frame[time_column])
    except (ValueError, TypeError) as exc:
        raise StreamError(dataset, time_column, f"not a date/time column: {exc}") from None
    if frame[time_column].dt.tz is not None:
        frame[time_column] = frame[time_column].dt.tz_convert("UTC").dt.tz_localize(None)
    if not frame[time_column].is_monotonic_increasing:
        frame = frame.sort_values(time_column, kind="stable")
    values = pd.to_numeric(frame[label], errors="coerce")
    if values.isna().any() or not set(values.unique()).issubset({0, 1}):
        raise StreamError(dataset, label, "the label must be 0/1 on every row")
    frame[label] = values.astype("int64")
    return stream_from_frame(name, frame, time_column, features, label, data_policy["split"], dataset)


def stream_from_frame(
    name: str,
    frame: pd.DataFrame,
    time_column: str,
    features: list[str],
    label: str,
    split: dict[str, Any],
    source: str | Path = "<frame>",
) -> Stream:
    """A time-sorted frame as a stream whose warm-up is the split's train + gap + eval days."""
    warm_days = int(split["train_days"]) + int(split["eval_days"]) + int(split.get("gap_days", 0))
    start = frame[time_column].iloc[0] + pd.Timedelta(days=warm_days)
    warmup = int(frame[time_column].searchsorted(start, side="left"))
    if warmup >= len(frame):
        raise StreamError(
            source, time_column, f"spans less than the {warm_days}-day warm-up (train + eval days)"
        )
    frame = frame.reset_index(drop=True)
    return Stream(name, frame, time_column, features, label, warmup)
