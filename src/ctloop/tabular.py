"""Dataset folders (``data.parquet`` + ``manifest.json``) and landing batches: read and write.

A dataset folder is what steps pass each other (docs/architecture.md). Its ``data.parquet`` is
written canonically: rows sorted by time, keys and then every other column, columns in role order
(time, keys, features, label, the rest by name), the time column as ``datetime64[ns]``, no index,
fixed Parquet settings. ``content_hash`` is the sha256 of those bytes, so the same data always
gets the same hash however its batches were ordered or formatted.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
BATCH_SUFFIXES: tuple[str, ...] = (".parquet", ".csv")


class DataError(ValueError):
    """Unusable data: names the file, the field (column or key) and the reason."""

    def __init__(self, file: str | Path, field: str, reason: str) -> None:
        self.file = str(file)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.file}: {field}: {reason}")


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- landing batches ---------------------------------------------------------------------------


def list_batches(folder: str | Path) -> list[Path]:
    """Batch files under ``folder`` (recursively; ``.parquet``/``.csv``, hidden ones skipped),
    in the order of their path relative to ``folder``: that order decides which duplicate wins."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(root, "<folder>", "landing folder does not exist")
    found = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in BATCH_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def read_batch(path: str | Path, time_column: str) -> pd.DataFrame:
    """Read one Parquet or CSV batch and parse its time column; DataError on anything unreadable."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            raise DataError(path, "<file>", f"unsupported batch format {suffix!r} (use .parquet or .csv)")
    except DataError:
        raise
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError) as exc:
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        text = str(exc).strip()
        # pyarrow repeats the path ("Could not open Parquet input source '<path>': <why>").
        text = re.sub(r"^Could not open Parquet input source '.*?': ", "", text)
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise DataError(path, "<file>", f"cannot read as {kind}: {reason}") from None
    if time_column not in frame.columns:
        raise DataError(path, time_column, "time column missing")
    frame[time_column] = parse_times(frame[time_column], path, time_column)
    return frame


def parse_times(values: pd.Series, file: str | Path, column: str) -> pd.Series:
    """A column as naive ``datetime64[ns]`` (timezones converted to UTC); DataError on bad values."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        # utc=True: mixed offsets become one timeline; naive values are taken as UTC already.
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
        bad = parsed.isna() & values.notna()
        if bad.any():
            first = values[bad].iloc[0]
            raise DataError(file, column, f"{int(bad.sum())} value(s) are not ISO dates (first: {first!r})")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


# --- dataset folders ---------------------------------------------------------------------------


def canonical_frame(
    frame: pd.DataFrame,
    time_column: str,
    key_columns: Sequence[str] = (),
    features: Sequence[str] = (),
    label: str | None = None,
) -> pd.DataFrame:
    """Rows sorted (time, keys, then all other columns) and columns in role order."""
    roles = [time_column, *key_columns, *features, *([label] if label else [])]
    first = [c for c in dict.fromkeys(roles) if c in frame.columns]
    rest = sorted(c for c in frame.columns if c not in first)
    out = frame[first + rest].copy()
    if time_column in out.columns:
        out[time_column] = out[time_column].astype("datetime64[ns]")
    if len(out) and first:
        try:
            out = out.sort_values(by=list(out.columns), kind="mergesort", na_position="last")
        except TypeError:  # mixed types in a column: order by the roles alone (stable)
            out = out.sort_values(by=first, kind="mergesort", na_position="last")
    return out.reset_index(drop=True)


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
    )
    return sink.getvalue()


def _iso(ts: Any) -> str | None:
    if ts is None or pd.isna(ts):
        return None
    ts = pd.Timestamp(ts)
    return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()


def dtype_strings(frame: pd.DataFrame) -> dict[str, str]:
    """Column name -> dtype string, as the manifest records it."""
    return {str(c): str(t) for c, t in frame.dtypes.items()}


def write_dataset(
    frame: pd.DataFrame,
    folder: str | Path,
    *,
    name: str,
    time_column: str,
    key_columns: Sequence[str] = (),
    features: Sequence[str] = (),
    label: str | None = None,
    source: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``frame`` canonically as a dataset folder and return its manifest."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    canon = canonical_frame(frame, time_column, key_columns, features, label)
    payload = _parquet_bytes(canon)
    (folder / DATA_FILE).write_bytes(payload)
    times = canon[time_column] if time_column in canon.columns else pd.Series([], dtype="datetime64[ns]")
    manifest: dict[str, Any] = {
        "name": name,
        "rows": len(canon),
        "columns": dtype_strings(canon),
        "time_column": time_column,
        "time_range": [_iso(times.min()), _iso(times.max())] if len(times) else [None, None],
        "key_columns": list(key_columns),
        "label": label,
        "features": list(features),
        "content_hash": hashlib.sha256(payload).hexdigest(),
        "source": source,
    }
    manifest.update(extra or {})
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder; DataError naming the file when absent or malformed."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        raise DataError(path, "<file>", "not a dataset folder: manifest.json missing")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    if not isinstance(manifest, dict):
        raise DataError(path, "<root>", "manifest is not a JSON object")
    for key in ("rows", "time_column", "content_hash"):
        if key not in manifest:
            raise DataError(path, key, "required manifest key missing")
    return manifest


def read_dataset(folder: str | Path, *, verify: bool = True) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a dataset folder; with ``verify`` the data must match the manifest's content hash."""
    manifest = read_manifest(folder)
    data = Path(folder) / DATA_FILE
    if not data.is_file():
        raise DataError(data, "<file>", "dataset folder has no data.parquet")
    if verify and sha256_file(data) != manifest["content_hash"]:
        raise DataError(data, "content_hash", "data does not match the manifest's content hash")
    try:
        frame = pd.read_parquet(data)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise DataError(data, "<file>", f"cannot read as Parquet: {exc}") from None
    if len(frame) != manifest["rows"]:
        raise DataError(data, "rows", f"{len(frame)} rows but the manifest says {manifest['rows']}")
    return frame, manifest
