"""The data contract: every check passes the real data and catches its one defect, by policy."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from ctloop import contracts
from ctloop.contracts import Violation


@pytest.fixture
def good(rainfall: pd.DataFrame) -> pd.DataFrame:
    """Four real years (more than the contract's minimum), safe to mutate."""
    return rainfall.iloc[6000 : 6000 + 1461].reset_index(drop=True).copy()


def only(results: dict[str, list[Violation]]) -> dict[str, list[Violation]]:
    return {name: vs for name, vs in results.items() if vs}


def test_real_rainfall_passes_every_check(rainfall, data_policy):
    assert only(contracts.run_contract(rainfall, data_policy)) == {}


def test_required_column_missing(good, data_policy):
    found = contracts.check_required_columns(good.drop(columns=["dew_point"]), data_policy, None)
    assert found == [Violation("required_columns", "dew_point", "required column missing")]


def test_required_column_missing_from_one_batch(good, data_policy):
    batches = [
        {"file": "a.parquet", "rows": 10, "columns": list(good.columns)},
        {"file": "b.parquet", "rows": 10, "columns": [c for c in good.columns if c != "visibility"]},
        {"file": "empty.csv", "rows": 0, "columns": ["date"]},
    ]
    found = contracts.check_required_columns(good, data_policy, batches)
    assert found == [Violation("required_columns", "visibility", "missing from batch b.parquet")]


def test_dtype_mismatch_names_column_and_example(good, data_policy):
    good["temperature"] = good["temperature"].map(lambda v: f"{v:.2f}".replace(".", ","))
    (found,) = contracts.check_dtypes(good, data_policy, None)
    assert found.column == "temperature" and found.reason.startswith("expected numeric, found ")
    assert "e.g. '" in found.reason


def test_dtype_kinds():
    frame = pd.DataFrame(
        {
            "i": [1, 2],
            "f": [1.0, 2.5],
            "b": [True, False],
            "d": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "s": ["x", "y"],
        }
    )
    policy = {
        "contract": {"dtypes": {"i": "integer", "f": "float", "b": "boolean", "d": "datetime", "s": "string"}}
    }
    assert contracts.check_dtypes(frame, policy, None) == []
    policy["contract"]["dtypes"] = {"b": "numeric", "f": "integer", "s": "datetime", "i": "numeric"}
    assert [v.column for v in contracts.check_dtypes(frame, policy, None)] == ["b", "f", "s"]


def test_missing_fraction_default_and_override(good, data_policy):
    limit = data_policy["contract"]["max_missing_fraction"]["default"]
    n = len(good)
    below = int(n * limit)  # exactly at the limit passes
    good.loc[: below - 1, "visibility"] = np.nan
    assert contracts.check_missing(good, data_policy, None) == []
    good.loc[: below + 5, "visibility"] = np.nan
    (found,) = contracts.check_missing(good, data_policy, None)
    assert found.column == "visibility" and "missing, above the" in found.reason
    # The time column's own limit (0) overrides the default.
    good.loc[3, "date"] = pd.NaT
    assert "date" in {v.column for v in contracts.check_missing(good, data_policy, None)}


def test_all_missing_column_says_so(good, data_policy):
    good["visibility"] = np.nan
    (found,) = contracts.check_missing(good, data_policy, None)
    assert found.reason.startswith(f"all {len(good)} values missing")


def test_value_range_tolerates_rare_glitches_but_not_raw_units(rainfall, good, data_policy):
    # The full data holds two sea-level-pressure readings of 94: within the tolerated share.
    assert (rainfall["sea_level_pressure"] > 10).sum() == 2
    assert contracts.check_value_ranges(rainfall, data_policy, None) == []
    good["temperature"] = good["temperature"] * 20 + 50  # degrees Fahrenheit
    (found,) = contracts.check_value_ranges(good, data_policy, None)
    assert found.column == "temperature" and "outside [-10, 10]" in found.reason


def test_min_rows(good, data_policy):
    need = data_policy["contract"]["min_rows"]
    assert contracts.check_min_rows(good.head(need), data_policy, None) == []
    (found,) = contracts.check_min_rows(good.head(need - 1), data_policy, None)
    assert found == Violation("min_rows", contracts.DATASET, f"{need - 1} rows, need at least {need}")


def test_duplicate_keys(good, data_policy):
    doubled = pd.concat([good, good.iloc[[5, 6]]], ignore_index=True)
    (found,) = contracts.check_duplicate_keys(doubled, data_policy, None)
    assert found.column == "date" and found.reason.startswith("2 key value(s) occur more than once")
    assert str(good.loc[5, "date"].date()) in found.reason


def test_label_binary_present_and_balanced(good, data_policy):
    assert contracts.check_label(good, data_policy, None) == []
    amounts = good.assign(rain=good["rain"] * 2.5)
    (found,) = contracts.check_label(amounts, data_policy, None)
    assert found.reason.startswith("not binary")
    floats = good.assign(rain=good["rain"].astype(float))  # 0.0/1.0 is still binary
    assert contracts.check_label(floats, data_policy, None) == []
    (found,) = contracts.check_label(good.assign(rain=np.nan), data_policy, None)
    assert found.reason == "no labelled rows"
    (found,) = contracts.check_label(good.assign(rain=0), data_policy, None)
    assert found.reason.startswith("class 1 is 0.0% of labelled rows")


def test_empty_batches_are_reported(good, data_policy):
    batches = [{"file": "ok.parquet", "rows": 5}, {"file": "header_only.csv", "rows": 0}]
    found = contracts.check_batches(good, data_policy, batches)
    assert found == [Violation("batches", "header_only.csv", "batch holds no rows (header only)")]


def test_thresholds_come_from_the_policy(good, data_policy):
    strict = copy.deepcopy(data_policy)
    strict["contract"]["min_rows"] = len(good) + 1
    strict["contract"]["value_ranges"]["columns"]["temperature"] = {"min": -1, "max": 1}
    failed = only(contracts.run_contract(good, strict))
    assert set(failed) == {"min_rows", "value_ranges"}
