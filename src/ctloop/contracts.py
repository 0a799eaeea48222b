"""The data contract: small checks, each returning the violations it finds, all driven by
``policies/data.yml`` (no threshold lives here).

Every check has the signature ``check(frame, policy, batches) -> list[Violation]``; ``batches``
is the manifest's list of landing batches (``file``, ``rows``, ``columns``) or ``None``.
:func:`check_batch` runs the same checks on one landing batch with the per-batch shares of
``contract.batch``, so a bad month cannot hide in fifty good years.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop.policies import PolicyError, load_policy, policies_dir


@dataclass(frozen=True)
class Violation:
    """One broken rule: which check, which column (or batch file, or ``<dataset>``), and why."""

    check: str
    column: str
    reason: str
    batch: str = ""  # the landing batch file, for per-batch findings

    def to_dict(self) -> dict[str, str]:
        out = asdict(self)
        if not self.batch:
            out.pop("batch")
        return out

    def line(self) -> str:
        """``<batch>: <column>: <reason>`` (the batch left out when there is none)."""
        return f"{self.batch + ': ' if self.batch else ''}{self.column}: {self.reason}"


DATASET = "<dataset>"
Batches = Sequence[dict[str, Any]] | None


# --- policy ------------------------------------------------------------------------------------


def load_data_policy(directory: str | Path | None = None) -> dict[str, Any]:
    """``policies/data.yml`` validated by its schema plus the cross-field rules a schema cannot say."""
    policy = load_policy("data", directory)
    file = policies_dir(directory) / "data.yml"
    features = policy["features"]
    if policy["label"] in features:
        raise PolicyError(file, "label", f"{policy['label']!r} cannot also be a feature")
    if policy["time_column"] in features:
        raise PolicyError(file, "time_column", f"{policy['time_column']!r} cannot also be a feature")
    stray = [c for c in policy.get("categorical_features", []) if c not in features]
    if stray:
        raise PolicyError(file, "categorical_features", f"not listed in features: {stray}")
    for problem in cross_field_problems(policy):
        raise PolicyError(file, *problem)
    return policy


def cross_field_problems(policy: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for every rule between fields that the schema cannot express."""
    out: list[tuple[str, str]] = []
    features, label = list(policy["features"]), policy["label"]
    if label in policy["key_columns"]:
        out.append(("key_columns", f"the label {label!r} cannot be a key column"))
    leaked = [k for k in policy["key_columns"] if k in features]
    if leaked:
        out.append(("key_columns", f"key column(s) {leaked} cannot also be features"))
    contract = policy["contract"]
    for col, bounds in contract["value_ranges"]["columns"].items():
        low, high = bounds.get("min"), bounds.get("max")
        if low is not None and high is not None and low > high:
            out.append((f"contract.value_ranges.columns.{col}", f"min {low} is greater than max {high}"))
    limit = float(contract["value_ranges"]["absolute_limit"])
    for col, bounds in contract["value_ranges"]["columns"].items():
        for side in ("min", "max"):
            if bounds.get(side) is not None and abs(float(bounds[side])) > limit:
                out.append(
                    (
                        f"contract.value_ranges.columns.{col}.{side}",
                        f"{bounds[side]} lies beyond contract.value_ranges.absolute_limit {limit:g}",
                    )
                )
    kinds = contract["dtypes"]
    if kinds.get(policy["time_column"], "datetime") != "datetime":
        out.append((f"contract.dtypes.{policy['time_column']}", "the time column must be datetime"))
    if kinds.get(label) == "string" and any(not isinstance(v, str) for v in contract["label"]["values"]):
        out.append((f"contract.dtypes.{label}", "string label but contract.label.values are not strings"))
    return out


def required_columns(policy: dict[str, Any]) -> list[str]:
    """Every column the contract needs: roles first, then any other column with a declared dtype."""
    roles = [policy["time_column"], *policy["key_columns"], *policy["features"], policy["label"]]
    return list(dict.fromkeys([*roles, *policy["contract"]["dtypes"]]))


# --- checks ------------------------------------------------------------------------------------


def check_required_columns(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """Each required column exists, and (when batches are known) in every batch that has rows."""
    out = []
    for col in required_columns(policy):
        if col not in frame.columns:
            out.append(Violation("required_columns", col, "required column missing"))
            continue
        for batch in batches or []:
            if batch.get("rows") and col not in batch.get("columns", [col]):
                out.append(Violation("required_columns", col, f"missing from batch {batch['file']}"))
    return out


def _dtype_ok(series: pd.Series, kind: str) -> bool:
    t = series.dtype
    api = pd.api.types
    if kind == "numeric":
        return api.is_numeric_dtype(t) and not api.is_bool_dtype(t)
    if kind == "integer":
        return api.is_integer_dtype(t)  # never true for bool
    if kind == "float":
        return api.is_float_dtype(t)
    if kind == "boolean":
        return api.is_bool_dtype(t)
    if kind == "datetime":
        return api.is_datetime64_any_dtype(t)
    if kind == "string":
        return api.is_string_dtype(t)  # object columns included
    raise ValueError(f"unknown dtype kind {kind!r}")


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def _found(series: pd.Series) -> str:
    """What a column holds, in words: ``str`` for text columns, else the dtype."""
    values = series.dropna()
    if pd.api.types.is_string_dtype(series.dtype):  # str and object columns
        kinds = sorted({type(v).__name__ for v in values.head(1000)})
        return "/".join(kinds) if kinds else "str"
    return str(series.dtype)


def _bad_example(series: pd.Series, kind: str) -> str:
    """A first text value that does not fit a numeric kind (with a hint), for the error message."""
    if kind not in ("numeric", "integer", "float") or not pd.api.types.is_string_dtype(series.dtype):
        return ""  # a non-text column: its dtype, already in the message, says it all
    values = series.dropna()
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    if len(bad):
        first = bad.iloc[0]
        hint = " (decimal comma? write numbers with '.')" if _DECIMAL_COMMA.match(str(first)) else ""
        return f" (e.g. {first!r}){hint}"
    if len(values):
        return f" (numbers stored as text, e.g. {values.iloc[0]!r})"
    return ""


def _show(value: Any) -> str:
    """A value for a message: dates as ISO, numbers short, text quoted."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, int | float) or hasattr(value, "dtype"):
        try:
            return f"{float(value):.6g}"
        except (TypeError, ValueError):
            pass
    return repr(value)


def check_dtypes(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """Each column with a declared kind has a matching dtype (an empty frame has no types to check)."""
    if frame.empty:
        return []
    out = []
    for col, kind in policy["contract"]["dtypes"].items():
        if col in frame.columns and not _dtype_ok(frame[col], kind):
            found = _found(frame[col])
            out.append(
                Violation("dtypes", col, f"expected {kind}, found {found}{_bad_example(frame[col], kind)}")
            )
    return out


def check_missing(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """The share of missing values in each required column stays within its limit."""
    if frame.empty:
        return []
    limits = policy["contract"]["max_missing_fraction"]
    out = []
    for col in required_columns(policy):
        if col not in frame.columns:
            continue
        limit = float(limits.get("columns", {}).get(col, limits["default"]))
        missing = int(frame[col].isna().sum())
        share = missing / len(frame)
        if share > limit:
            what = f"all {missing} values missing" if missing == len(frame) else f"{share:.1%} missing"
            out.append(Violation("missing", col, f"{what}, above the {limit:.1%} allowed"))
    return out


def check_value_ranges(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """The share of a numeric column's values outside its bounds stays within the tolerance."""
    ranges = policy["contract"]["value_ranges"]
    tolerance = float(ranges["max_out_of_range_fraction"])
    out = []
    for col, bounds in ranges["columns"].items():
        if col not in frame.columns or not pd.api.types.is_numeric_dtype(frame[col]):
            continue
        values = frame[col].dropna()
        if values.empty:
            continue
        low = -math.inf if bounds.get("min") is None else bounds["min"]
        high = math.inf if bounds.get("max") is None else bounds["max"]
        outside = (values < low) | (values > high)
        count = int(outside.sum())
        if count / len(values) > tolerance:
            span = f"[{low}, {high}]"
            example = _show(values[outside].iloc[0])
            out.append(
                Violation(
                    "value_ranges",
                    col,
                    f"{count} of {len(values)} values ({count / len(values):.2%}) outside {span}, "
                    f"above the {tolerance:.2%} allowed (e.g. {example})",
                )
            )
    return out


def check_min_rows(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """The dataset has at least the minimum number of rows."""
    need = int(policy["contract"]["min_rows"])
    if len(frame) < need:
        return [Violation("min_rows", DATASET, f"{len(frame)} rows, need at least {need}")]
    return []


def check_duplicate_keys(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """No two rows share the key columns."""
    keys = [k for k in policy["key_columns"] if k in frame.columns]
    if len(keys) != len(policy["key_columns"]) or frame.empty:
        return []
    dup = frame.duplicated(keys, keep=False)
    if not dup.any():
        return []
    groups = frame.loc[dup, keys].drop_duplicates()
    first = ", ".join(f"{k}={_show(v)}" for k, v in groups.iloc[0].items())
    return [
        Violation(
            "duplicate_keys",
            ",".join(keys),
            f"{len(groups)} key value(s) occur more than once ({int(dup.sum())} rows; first: {first})",
        )
    ]


def check_label(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """The label has labelled rows, only the two allowed values, and enough of each class."""
    label = policy["label"]
    rule = policy["contract"]["label"]
    if label not in frame.columns or frame.empty:  # an empty dataset is min_rows' finding
        return []
    values = frame[label].dropna()
    if values.empty:
        return [Violation("label", label, "no labelled rows")]
    allowed = list(rule["values"])
    unexpected = values[~values.isin(allowed)]
    if len(unexpected):
        shown = sorted({str(v) for v in unexpected.unique()})[:5]
        return [
            Violation(
                "label",
                label,
                f"not binary: {len(unexpected)} value(s) outside {allowed} (e.g. {', '.join(shown)})",
            )
        ]
    out = []
    floors = rule["min_class_fraction"]
    floors = list(floors) if isinstance(floors, list) else [floors] * len(allowed)
    for value, floor in zip(allowed, map(float, floors), strict=True):
        share = float((values == value).mean())
        if share < floor:
            out.append(
                Violation(
                    "label",
                    label,
                    f"class {value!r} is {share:.1%} of labelled rows, below the {floor:.1%} floor",
                )
            )
    return out


def check_batches(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """No landing batch is empty (a header-only file is a failed export, not a quiet day)."""
    return [
        Violation("batches", str(b["file"]), "batch holds no rows (header only)")
        for b in batches or []
        if int(b.get("rows", 0)) == 0
    ]


#: policy time_grain -> pandas frequency
GRAINS: dict[str, str] = {"day": "D", "hour": "h", "minute": "min", "second": "s"}


def check_time_grain(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """Every time value falls on a whole unit of ``time_grain`` (no 12:00 row on a day key)."""
    col, grain = policy["time_column"], policy["time_grain"]
    if col not in frame.columns or not pd.api.types.is_datetime64_any_dtype(frame[col]):
        return []
    times = frame[col].dropna()
    off = times[times.dt.floor(GRAINS[grain]) != times]
    if off.empty:
        return []
    return [
        Violation(
            "time_grain",
            col,
            f"{len(off)} value(s) finer than the key's {grain} grain (first: {_show(off.iloc[0])}); "
            f"policy time_grain is {grain!r}",
        )
    ]


def numeric_columns(frame: pd.DataFrame, policy: dict[str, Any]) -> list[str]:
    """Required columns present in ``frame`` with a numeric (not boolean) dtype."""
    api = pd.api.types
    return [
        c
        for c in required_columns(policy)
        if c in frame.columns and api.is_numeric_dtype(frame[c]) and not api.is_bool_dtype(frame[c])
    ]


def check_non_finite(frame: pd.DataFrame, policy: dict[str, Any], batches: Batches) -> list[Violation]:
    """No numeric value is infinite or beyond ``contract.value_ranges.absolute_limit`` (at any share)."""
    limit = float(policy["contract"]["value_ranges"]["absolute_limit"])
    out = []
    for col in numeric_columns(frame, policy):
        values = frame[col].to_numpy(dtype="float64", na_value=np.nan)
        bad = np.isinf(values) | (np.abs(values) > limit)
        count = int(bad.sum())
        if count:
            first = values[bad][0]
            out.append(
                Violation(
                    "non_finite",
                    col,
                    f"{count} value(s) infinite or beyond +/-{limit:g} (e.g. {first:g}); "
                    "policy contract.value_ranges.absolute_limit",
                )
            )
    return out


Check = Callable[[pd.DataFrame, dict[str, Any], Batches], list[Violation]]

#: The contract, in report order.
CHECKS: dict[str, Check] = {
    "batches": check_batches,
    "required_columns": check_required_columns,
    "dtypes": check_dtypes,
    "min_rows": check_min_rows,
    "missing": check_missing,
    "non_finite": check_non_finite,
    "value_ranges": check_value_ranges,
    "time_grain": check_time_grain,
    "duplicate_keys": check_duplicate_keys,
    "label": check_label,
}

#: The checks run on each landing batch (row counts are the dataset's concern).
BATCH_CHECKS: tuple[str, ...] = (
    "required_columns",
    "dtypes",
    "missing",
    "non_finite",
    "value_ranges",
    "time_grain",
    "duplicate_keys",
    "label",
)


def batch_policy(policy: dict[str, Any], labelled_rows: int) -> dict[str, Any]:
    """``policy`` with the per-batch shares of ``contract.batch`` in place of the dataset's."""
    view = copy.deepcopy(policy)
    contract, batch = view["contract"], policy["contract"]["batch"]
    contract["max_missing_fraction"] = batch["max_missing_fraction"]
    contract["value_ranges"]["max_out_of_range_fraction"] = batch["max_out_of_range_fraction"]
    enough = labelled_rows >= int(batch["label_min_rows"])
    floors = list(batch["label_min_class_fraction"]) if enough else [0.0, 0.0]
    contract["label"]["min_class_fraction"] = floors
    return view


def check_batch(frame: pd.DataFrame, policy: dict[str, Any], file: str) -> list[Violation]:
    """Every per-batch check on one landing batch; each violation names ``file``."""
    if frame.empty:
        return [Violation("batches", "<rows>", "batch holds no rows (header only)", batch=file)]
    label = policy["label"]
    labelled = int(frame.get(label, pd.Series()).count())
    view = batch_policy(policy, labelled)
    found: list[Violation] = []
    for name in BATCH_CHECKS:
        found.extend(CHECKS[name](frame, view, None))
    return [Violation(v.check, v.column, v.reason, batch=file) for v in found]


def run_contract(
    frame: pd.DataFrame, policy: dict[str, Any], batches: Batches = None
) -> dict[str, list[Violation]]:
    """Run every check; check name -> its violations (empty when it passed)."""
    return {name: check(frame, policy, batches) for name, check in CHECKS.items()}
