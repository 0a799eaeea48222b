"""Contract checks at their edges: every share and count at exactly its limit passes, one more fails."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import pytest

from ctloop import contracts

BASE: dict[str, Any] = {
    "time_column": "date",
    "key_columns": ["date"],
    "time_grain": "day",
    "label": "rain",
    "features": ["x"],
    "contract": {
        "min_rows": 20,
        "dtypes": {"date": "datetime", "x": "numeric", "rain": "numeric"},
        "max_missing_fraction": {"default": 0.1, "columns": {"date": 0.0}},
        "value_ranges": {
            "max_out_of_range_fraction": 0.1,
            "columns": {"x": {"min": -1.0, "max": 1.0}},
            "absolute_limit": 100.0,
        },
    },
}


def policy(**contract: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    out["contract"].update(contract)
    return out


def frame(rows: int = 20, **columns: list[Any]) -> pd.DataFrame:
    data = {
        "date": pd.date_range("2021-01-01", periods=rows, freq="D"),
        "x": [0.0] * rows,
        "rain": [0, 1] * (rows // 2),
    }
    return pd.DataFrame(data | columns)


@pytest.mark.parametrize(("need", "passes"), [(20, True), (21, False)])
def test_min_rows_is_met_at_equality(need: int, passes: bool) -> None:
    found = contracts.check_min_rows(frame(rows=20), policy(min_rows=need), None)
    assert (found == []) is passes
    if not passes:
        assert found == [contracts.Violation("min_rows", contracts.DATASET, "20 rows, need at least 21")]


@pytest.mark.parametrize(("missing", "passes"), [(2, True), (3, False)])
def test_a_missing_share_at_the_limit_passes(missing: int, passes: bool) -> None:
    x = [math.nan] * missing + [0.0] * (20 - missing)
    found = contracts.check_missing(frame(x=x), policy(), None)
    assert (found == []) is passes
    if not passes:
        assert found == [contracts.Violation("missing", "x", "15.0% missing, above the 10.0% allowed")]


def test_a_column_limit_overrides_the_default_and_all_missing_is_said_plainly() -> None:
    found = contracts.check_missing(frame(x=[math.nan] * 20), policy(), None)
    assert found == [contracts.Violation("missing", "x", "all 20 values missing, above the 10.0% allowed")]
    strict = policy(max_missing_fraction={"default": 0.5, "columns": {"x": 0.0}})
    assert contracts.check_missing(frame(x=[math.nan] + [0.0] * 19), strict, None)[0].reason == (
        "5.0% missing, above the 0.0% allowed"
    )


def test_values_on_the_bounds_are_inside() -> None:
    x = [-1.0, 1.0] * 10
    assert contracts.check_value_ranges(frame(x=x), policy(), None) == []


@pytest.mark.parametrize(("outside", "passes"), [(2, True), (3, False)])
def test_an_out_of_range_share_at_the_tolerance_passes(outside: int, passes: bool) -> None:
    x = [1.5] * outside + [0.0] * (20 - outside)
    found = contracts.check_value_ranges(frame(x=x), policy(), None)
    assert (found == []) is passes
    if not passes:
        assert found[0].reason == (
            "3 of 20 values (15.00%) outside [-1.0, 1.0], above the 10.00% allowed (e.g. 1.5)"
        )


def test_a_one_sided_range_only_checks_its_side() -> None:
    ranges = {"max_out_of_range_fraction": 0.0, "columns": {"x": {"min": 0.0}}, "absolute_limit": 100.0}
    assert contracts.check_value_ranges(frame(x=[99.0] * 20), policy(value_ranges=ranges), None) == []
    below = contracts.check_value_ranges(frame(x=[-0.5] + [1.0] * 19), policy(value_ranges=ranges), None)
    assert below[0].reason.startswith("1 of 20 values (5.00%) outside [0.0, inf]")


@pytest.mark.parametrize(
    ("value", "passes"), [(100.0, True), (-100.0, True), (100.5, False), (math.inf, False)]
)
def test_the_absolute_limit_is_inclusive(value: float, passes: bool) -> None:
    found = contracts.check_non_finite(frame(x=[value] + [0.0] * 19), policy(), None)
    assert (found == []) is passes
    if not passes:
        assert found[0].column == "x" and found[0].reason.startswith("1 value(s) infinite or beyond +/-100")


def test_duplicate_keys_are_counted_by_key_and_by_row() -> None:
    dates = list(pd.date_range("2021-01-01", periods=17, freq="D"))
    dup = frame(date=[dates[0], dates[0], dates[0], dates[1], dates[1], *dates[2:]])
    assert len(dup) == 20
    found = contracts.check_duplicate_keys(dup, policy(), None)
    assert found == [
        contracts.Violation(
            "duplicate_keys", "date", "2 key value(s) occur more than once (5 rows; first: date=2021-01-01)"
        )
    ]
    assert contracts.check_duplicate_keys(frame(), policy(), None) == []


def test_a_sub_day_time_on_a_day_key_breaks_the_grain() -> None:
    dates = list(pd.date_range("2021-01-01", periods=20, freq="D"))
    dates[3] = dates[3] + pd.Timedelta(hours=12)
    found = contracts.check_time_grain(frame(date=dates), policy(), None)
    assert [(v.check, v.column) for v in found] == [("time_grain", "date")]
    assert found[0].reason.startswith(
        "1 value(s) finer than the key's day grain (first: 2021-01-04T12:00:00)"
    )
    assert contracts.check_time_grain(frame(), policy(), None) == []


def test_a_violation_line_names_the_batch_only_when_there_is_one() -> None:
    plain = contracts.Violation("missing", "x", "why")
    in_batch = contracts.Violation("missing", "x", "why", batch="2021-01.csv")
    assert plain.line() == "x: why" and plain.to_dict() == {
        "check": "missing",
        "column": "x",
        "reason": "why",
    }
    assert in_batch.line() == "2021-01.csv: x: why" and in_batch.to_dict()["batch"] == "2021-01.csv"
