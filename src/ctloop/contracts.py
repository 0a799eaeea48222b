"""The data contract: small checks, each returning the violations it finds, all driven by
``policies/data.yml`` (no threshold lives here).

Every check has the signature ``check(frame, policy, batches) -> list[Violation]``; ``batches``
is the manifest's list of landing batches (``file``, ``rows``, ``columns``) or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop.policies import PolicyError, load_policy, policies_dir


@dataclass(frozen=True)
class Violation:
    """One broken rule: which check, which column (or batch file, or ``<dataset>``), and why."""

    check: str
    column: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


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
    return policy


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
            if batch.get("rows", 0) and col not in batch.get("columns", [col]):
                out.append(Violation("required_columns", col, f"missing from batch {batch['file']}"))
    return out


def _dtype_ok(series: pd.Series, kind: str) -> bool:
    t = series.dtype
    api = pd.api.types
    if kind == "numeric":
        return api.is_numeric_dtype(t) and not api.is_bool_dtype(t)
    if kind == "integer":
        return api.is_integer_dtype(t) and not api.is_bool_dtype(t)
    if kind == "float":
        return api.is_float_dtype(t)
    if kind == "boolean":
        return api.is_bool_dtype(t)
    if kind == "datetime":
        return api.is_datetime64_any_dtype(t)
    if kind == "string":
        return api.is_string_dtype(t) or api.is_object_dtype(t)
    raise ValueError(f"unknown dtype kind {kind!r}")


def _bad_example(series: pd.Series, kind: str) -> str:
    """A first value that does not fit a numeric kind, for the error message."""
    if kind not in ("numeric", "integer", "float"):
        return ""
    values = series.dropna()
    bad = values[pd.to_numeric(values, errors="coerce").isna()]
    return f" (e.g. {bad.iloc[0]!r})" if len(bad) else ""


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
            found = frame[col].dtype
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
        low, high = bounds.get("min"), bounds.get("max")
        outside = pd.Series(False, index=values.index)
        if low is not None:
            outside |= values < low
        if high is not None:
            outside |= values > high
        count = int(outside.sum())
        if count / len(values) > tolerance:
            span = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
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
    floor = float(rule["min_class_fraction"])
    for value in allowed:
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


Check = Callable[[pd.DataFrame, dict[str, Any], Batches], list[Violation]]

#: The contract, in report order.
CHECKS: dict[str, Check] = {
    "batches": check_batches,
    "required_columns": check_required_columns,
    "dtypes": check_dtypes,
    "min_rows": check_min_rows,
    "missing": check_missing,
    "value_ranges": check_value_ranges,
    "duplicate_keys": check_duplicate_keys,
    "label": check_label,
}


def run_contract(
    frame: pd.DataFrame, policy: dict[str, Any], batches: Batches = None
) -> dict[str, list[Violation]]:
    """Run every check; check name -> its violations (empty when it passed)."""
    return {name: check(frame, policy, batches) for name, check in CHECKS.items()}
