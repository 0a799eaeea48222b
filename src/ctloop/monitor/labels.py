"""Labels that arrive after the predictions: files keyed by request id.

Format (CSV or Parquet; a single file or every ``*.csv``/``*.parquet`` under a folder):

========== ========================================================================
column     meaning
========== ========================================================================
request_id the request id the endpoint returned (the collector's ``correlationid``)
row        0-based row of that request (optional; 0 when absent: one row per request)
label      the true class, 0 or 1
time       when the label became known (ISO-8601; UTC when no offset is given)
========== ========================================================================

A label is joined to its prediction whenever it arrives, so a label for a request scored in an
earlier window counts in the window in which it *arrived*. When the same (request_id, row) is
labelled twice, the first arrival counts and the repeat is reported.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LABEL_COLUMNS = ("request_id", "row", "label", "time")
SUFFIXES = (".csv", ".parquet")


class LabelError(ValueError):
    """A labels file that cannot be used; names the file, the field and the reason."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{file}: {field}: {reason}")


def label_files(path: str | Path) -> list[Path]:
    """The labels files at ``path`` (a file, or a folder searched recursively), in name order."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def _read_one(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, dtype={"request_id": str})
    except Exception as exc:
        raise LabelError(path, "<file>", f"unreadable: {exc}") from None
    missing = [c for c in ("request_id", "label", "time") if c not in frame.columns]
    if missing:
        raise LabelError(path, missing[0], "required column missing")
    frame = frame.copy()
    if "row" not in frame.columns:
        frame["row"] = 0
    if frame["request_id"].isna().any():
        raise LabelError(path, "request_id", "empty request id")
    frame["request_id"] = frame["request_id"].astype(str)
    row = pd.to_numeric(frame["row"], errors="coerce")
    if row.isna().any() or (row < 0).any() or (row % 1 != 0).any():
        raise LabelError(path, "row", "must be a non-negative integer")
    frame["row"] = row.astype("int64")
    label = pd.to_numeric(frame["label"], errors="coerce")
    if label.isna().any() or not set(label.unique()).issubset({0, 1}):
        raise LabelError(path, "label", "must be 0 or 1")
    frame["label"] = label.astype("int64")
    try:
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
    except (ValueError, TypeError) as exc:
        raise LabelError(path, "time", f"not a timestamp: {exc}") from None
    if frame["time"].isna().any():
        raise LabelError(path, "time", "missing arrival time")
    return frame[list(LABEL_COLUMNS)]


def _combine(frames: list[pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(LABEL_COLUMNS, _DTYPES, strict=True)})
        return empty, 0
    labels = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable")
    first = ~labels.duplicated(["request_id", "row"], keep="first")
    return labels[first].reset_index(drop=True), int((~first).sum())


def read_labels(path: str | Path) -> tuple[pd.DataFrame, int]:
    """Every label under ``path`` ordered by arrival; returns (labels, repeated labels dropped)."""
    return _combine([_read_one(p) for p in label_files(path)])


class LabelReader:
    """Labels under one path, each file parsed once (again only when its size or mtime changes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._cache: dict[Path, tuple[tuple[int, int], pd.DataFrame]] = {}

    def read(self) -> tuple[pd.DataFrame, int]:
        frames = []
        for file in label_files(self.path):
            st = file.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            cached = self._cache.get(file)
            if cached is None or cached[0] != stamp:
                cached = (stamp, _read_one(file))
                self._cache[file] = cached
            frames.append(cached[1])
        return _combine(frames)


_DTYPES = ("object", "int64", "int64", "datetime64[ns, UTC]")


def write_labels(path: str | Path, labels: pd.DataFrame) -> Path:
    """Write one labels file (Parquet, or CSV by suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = labels[list(LABEL_COLUMNS)]
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path
