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


# --- labels --------------------------------------------------------------------------------------

LABEL_RULE = {"values": [0, 1], "min_class_fraction": 0.1}


@pytest.mark.parametrize(("positives", "passes"), [(2, True), (1, False)])
def test_a_class_share_at_its_floor_passes(positives: int, passes: bool) -> None:
    rain = [1] * positives + [0] * (20 - positives)
    found = contracts.check_label(frame(rain=rain), policy(label=LABEL_RULE), None)
    assert (found == []) is passes
    if not passes:
        assert found == [
            contracts.Violation("label", "rain", "class 1 is 5.0% of labelled rows, below the 10.0% floor")
        ]


def test_each_class_can_have_its_own_floor() -> None:
    rule = {"values": [0, 1], "min_class_fraction": [0.5, 0.0]}
    rain = [1] * 11 + [0] * 9
    found = contracts.check_label(frame(rain=rain), policy(label=rule), None)
    assert [v.reason for v in found] == ["class 0 is 45.0% of labelled rows, below the 50.0% floor"]
    assert (
        contracts.check_label(
            frame(rain=[1] * 20), policy(label={**rule, "min_class_fraction": [0.0, 0.0]}), None
        )
        == []
    )


def test_labels_outside_the_allowed_values_are_named() -> None:
    rain = [0, 1, 2, 3, 7, 9, 11, 12] + [0] * 12
    found = contracts.check_label(frame(rain=rain), policy(label=LABEL_RULE), None)
    assert found == [
        contracts.Violation("label", "rain", "not binary: 6 value(s) outside [0, 1] (e.g. 11, 12, 2, 3, 7)")
    ]


def test_unlabelled_and_empty_frames() -> None:
    found = contracts.check_label(frame(rain=[None] * 20), policy(label=LABEL_RULE), None)
    assert found == [contracts.Violation("label", "rain", "no labelled rows")]
    assert contracts.check_label(frame().iloc[:0], policy(label=LABEL_RULE), None) == []
    assert contracts.check_label(frame().drop(columns="rain"), policy(label=LABEL_RULE), None) == []


# --- dtypes and required columns -----------------------------------------------------------------


def test_numbers_written_with_a_decimal_comma_are_named_with_a_hint() -> None:
    found = contracts.check_dtypes(frame(x=["0,5"] + ["1.0"] * 19), policy(), None)
    assert found == [
        contracts.Violation(
            "dtypes", "x", "expected numeric, found str (e.g. '0,5') (decimal comma? write numbers with '.')"
        )
    ]


def test_numbers_stored_as_text_are_named() -> None:
    found = contracts.check_dtypes(frame(x=["0.5"] * 20), policy(), None)
    assert found == [
        contracts.Violation("dtypes", "x", "expected numeric, found str (numbers stored as text, e.g. '0.5')")
    ]


def test_a_text_value_among_numbers_is_shown() -> None:
    found = contracts.check_dtypes(frame(x=["n/a"] + [0.5] * 19), policy(), None)
    assert found[0].reason == "expected numeric, found float/str (e.g. 'n/a')"


@pytest.mark.parametrize(
    ("kind", "values", "passes"),
    [
        ("integer", [1, 2], True),
        ("integer", [1.0, 2.0], False),
        ("float", [1.0, 2.0], True),
        ("float", [1, 2], False),
        ("boolean", [True, False], True),
        ("boolean", [1, 0], False),
        ("string", ["a", "b"], True),
        ("datetime", pd.to_datetime(["2021-01-01", "2021-01-02"]), True),
        ("datetime", ["2021-01-01", "2021-01-02"], False),
    ],
)
def test_each_declared_kind_matches_only_its_dtypes(kind: str, values: list[Any], passes: bool) -> None:
    rules = copy.deepcopy(BASE["contract"]["dtypes"]) | {"extra": kind}
    data = frame(rows=2, x=[0.0, 0.0], rain=[0, 1]).assign(extra=values)
    assert (contracts.check_dtypes(data, policy(dtypes=rules), None) == []) is passes


def test_an_empty_frame_has_no_types_to_check() -> None:
    assert contracts.check_dtypes(frame(x=["a"] * 20).iloc[:0], policy(), None) == []


def test_required_columns_are_checked_in_every_batch_with_rows() -> None:
    batches = [
        {"file": "a.csv", "rows": 10, "columns": ["date", "x", "rain"]},
        {"file": "b.csv", "rows": 10, "columns": ["date", "rain"]},
        {"file": "c.csv", "rows": 0, "columns": ["date"]},
    ]
    found = contracts.check_required_columns(frame(), policy(), batches)
    assert found == [contracts.Violation("required_columns", "x", "missing from batch b.csv")]
    missing = contracts.check_required_columns(frame().drop(columns="x"), policy(), None)
    assert missing == [contracts.Violation("required_columns", "x", "required column missing")]


def test_an_empty_batch_is_a_failed_export() -> None:
    batches = [{"file": "a.csv", "rows": 3}, {"file": "b.csv", "rows": 0}, {"file": "c.csv"}]
    found = contracts.check_batches(frame(), policy(), batches)
    assert [v.column for v in found] == ["b.csv", "c.csv"]
    assert {v.reason for v in found} == {"batch holds no rows (header only)"}
    assert contracts.check_batches(frame(), policy(), None) == []


# --- per batch -----------------------------------------------------------------------------------

BATCH = {
    "max_missing_fraction": {"default": 0.3, "columns": {"date": 0.0, "rain": 1.0}},
    "max_out_of_range_fraction": 0.2,
    "label_min_rows": 10,
    "label_min_class_fraction": [0.2, 0.0],
}


def batch_policy() -> dict[str, Any]:
    return policy(label=LABEL_RULE, batch=BATCH)


@pytest.mark.parametrize(("labelled", "floors"), [(10, [0.2, 0.0]), (9, [0.0, 0.0])])
def test_the_batch_policy_uses_the_batch_shares_and_class_floors_from_enough_labels(
    labelled: int, floors: list[float]
) -> None:
    base = batch_policy()
    view = contracts.batch_policy(base, labelled)
    assert view["contract"]["max_missing_fraction"] == BATCH["max_missing_fraction"]
    assert view["contract"]["value_ranges"]["max_out_of_range_fraction"] == 0.2
    assert view["contract"]["label"]["min_class_fraction"] == floors
    assert base["contract"]["label"]["min_class_fraction"] == 0.1  # the dataset's policy is untouched


def test_a_batch_is_judged_by_the_batch_shares_and_names_its_file() -> None:
    x = [math.nan] * 5 + [5.0] * 4 + [0.0] * 11  # 25% missing, 4 of 15 values out of range
    rain = [0] * 3 + [1] * 17  # class 0 at 15%: below the 20% batch floor
    found = contracts.check_batch(frame(x=x, rain=rain), batch_policy(), "2021-01.csv")
    assert {(v.check, v.column, v.batch) for v in found} == {
        ("value_ranges", "x", "2021-01.csv"),
        ("label", "rain", "2021-01.csv"),
    }
    assert all(v.line().startswith("2021-01.csv: ") for v in found)
    label = next(v for v in found if v.check == "label")
    assert label.reason == "class 0 is 15.0% of labelled rows, below the 20.0% floor"


def test_a_batch_without_its_label_column_is_named_not_a_crash() -> None:
    found = contracts.check_batch(frame().drop(columns="rain"), batch_policy(), "nolabel.csv")
    assert found == [
        contracts.Violation("required_columns", "rain", "required column missing", batch="nolabel.csv")
    ]


def test_a_batch_with_few_labels_has_no_class_floor() -> None:
    rain = [1] * 9 + [None] * 11
    assert contracts.check_batch(frame(rain=rain), batch_policy(), "b.csv") == []


def test_an_empty_batch_fails_on_its_own() -> None:
    found = contracts.check_batch(frame().iloc[:0], batch_policy(), "empty.csv")
    assert found == [
        contracts.Violation("batches", "<rows>", "batch holds no rows (header only)", batch="empty.csv")
    ]


def test_run_contract_reports_every_check_in_order() -> None:
    result = contracts.run_contract(frame(), policy(label=LABEL_RULE))
    assert list(result) == list(contracts.CHECKS)
    assert all(found == [] for found in result.values())
    with_batches = contracts.run_contract(frame(), policy(label=LABEL_RULE), [{"file": "b.csv", "rows": 0}])
    assert with_batches["batches"] == [
        contracts.Violation("batches", "b.csv", "batch holds no rows (header only)")
    ]


# --- what each message says, and the columns a check must skip -----------------------------------


def with_extra(kind: str, values: list[Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A two-row frame with an ``extra`` column declared as ``kind``."""
    rules = copy.deepcopy(BASE["contract"]["dtypes"]) | {"extra": kind}
    return frame(rows=2, x=[0.0, 0.0], rain=[0, 1]).assign(extra=values), policy(dtypes=rules)


@pytest.mark.parametrize(
    ("kind", "values", "reason"),
    [
        ("integer", ["n/a", 1], "expected integer, found int/str (e.g. 'n/a')"),
        ("float", ["1.5", "2"], "expected float, found str (numbers stored as text, e.g. '1.5')"),
        ("float", [1, 2], "expected float, found int64"),
        ("integer", [1.5, 2.0], "expected integer, found float64"),
        ("integer", [True, False], "expected integer, found bool"),
        ("boolean", [1, 0], "expected boolean, found int64"),
        ("datetime", ["2021-01-01", "x"], "expected datetime, found str"),
        ("string", [1.0, 2.0], "expected string, found float64"),
    ],
)
def test_a_dtype_mismatch_names_what_was_found(kind: str, values: list[Any], reason: str) -> None:
    data, rules = with_extra(kind, values)
    assert contracts.check_dtypes(data, rules, None) == [contracts.Violation("dtypes", "extra", reason)]


def test_text_columns_of_any_text_dtype_are_found_as_str() -> None:
    text = pd.array(["1"] * 20, dtype="string")  # pandas' nullable string dtype, not object
    found = contracts.check_dtypes(frame(x=text), policy(), None)
    assert found[0].reason == "expected numeric, found str (numbers stored as text, e.g. '1')"
    assert contracts.check_dtypes(frame(x=[None] * 20), policy(), None)[0].reason == (
        "expected numeric, found str"
    )


def test_the_types_found_are_read_from_the_first_thousand_values() -> None:
    x = [0.5] * 1000 + ["a", "b"]
    found = contracts.check_dtypes(frame(rows=1002, x=x), policy(), None)
    assert found[0].reason == "expected numeric, found float (e.g. 'a')"


def test_an_unknown_dtype_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^unknown dtype kind 'decimal'$"):
        contracts.check_dtypes(*with_extra("decimal", [1, 2]), None)


def keyed(*keys: str) -> dict[str, Any]:
    out = policy()
    out["key_columns"] = list(keys)
    return out


def test_integer_and_string_examples_are_shown_plainly() -> None:
    found = contracts.check_value_ranges(frame(x=[5] * 20), policy(), None)
    assert found[0].reason.endswith("(e.g. 5)")  # a numpy integer, not np.int64(5)
    keys = keyed("date", "station")
    dates = [pd.Timestamp("2021-01-01")] * 3 + list(pd.date_range("2021-01-02", periods=17, freq="D"))
    dup = frame(date=dates, station=["a", "a", "b", *["a"] * 17])
    assert contracts.check_duplicate_keys(dup, keys, None) == [
        contracts.Violation(
            "duplicate_keys",
            "date,station",
            "1 key value(s) occur more than once (2 rows; first: date=2021-01-01, station='a')",
        )
    ]


def test_duplicate_keys_need_every_key_column() -> None:
    same_day = frame(date=[pd.Timestamp("2021-01-01")] * 20)
    assert contracts.check_duplicate_keys(same_day, keyed("date", "station"), None) == []
    assert len(contracts.check_duplicate_keys(same_day, policy(), None)) == 1


def test_class_floors_must_match_the_label_values_one_to_one() -> None:
    rule = {"values": [0, 1], "min_class_fraction": [0.1, 0.1, 0.1]}
    with pytest.raises(ValueError, match="longer than"):
        contracts.check_label(frame(), policy(label=rule), None)


def test_missing_shares_without_overrides_use_the_default_for_every_column() -> None:
    limits = {"default": 0.1}
    found = contracts.check_missing(frame(date=[None] * 20), policy(max_missing_fraction=limits), None)
    assert found == [contracts.Violation("missing", "date", "all 20 values missing, above the 10.0% allowed")]


def test_a_column_absent_from_the_frame_does_not_stop_the_missing_check() -> None:
    found = contracts.check_missing(frame(rain=[None] * 20).drop(columns="x"), policy(), None)
    assert [v.column for v in found] == ["rain"]


def test_a_non_finite_value_is_named_with_its_check_and_the_policy_field() -> None:
    found = contracts.check_non_finite(frame(x=[0.0] * 19 + [-math.inf]), policy(), None)
    assert found == [
        contracts.Violation(
            "non_finite",
            "x",
            "1 value(s) infinite or beyond +/-100 (e.g. -inf); policy contract.value_ranges.absolute_limit",
        )
    ]


def test_nullable_integers_with_gaps_are_checked_for_size() -> None:
    x = pd.array([None, 500, *[0] * 18], dtype="Int64")
    found = contracts.check_non_finite(frame(x=x), policy(), None)
    assert [(v.column, v.reason[:40]) for v in found] == [("x", "1 value(s) infinite or beyond +/-100 (e.")]


def test_boolean_columns_are_not_numeric_columns() -> None:
    rules = copy.deepcopy(BASE["contract"]["dtypes"]) | {"flag": "boolean"}
    data = frame(flag=[True] * 20)
    assert contracts.numeric_columns(data, policy(dtypes=rules)) == ["x", "rain"]


def test_a_missing_column_does_not_stop_the_batch_columns_check() -> None:
    batches = [{"file": "a.csv", "rows": 5, "columns": ["date", "x"]}]
    found = contracts.check_required_columns(frame().drop(columns="x"), policy(), batches)
    assert found == [
        contracts.Violation("required_columns", "x", "required column missing"),
        contracts.Violation("required_columns", "rain", "missing from batch a.csv"),
    ]


def test_batches_without_a_row_count_or_a_column_list_are_not_judged_on_columns() -> None:
    batches = [{"file": "a.csv", "columns": ["date"]}, {"file": "b.csv", "rows": 4}]
    assert contracts.check_required_columns(frame(), policy(), batches) == []


def test_the_time_grain_needs_a_datetime_time_column() -> None:
    assert contracts.check_time_grain(frame().drop(columns="date"), policy(), None) == []
    assert contracts.check_time_grain(frame(date=["2021-01-01 12:00"] * 20), policy(), None) == []


def test_value_ranges_skip_absent_text_and_empty_columns_and_go_on() -> None:
    ranges = {
        "max_out_of_range_fraction": 0.0,
        "columns": {"gone": {"min": 0}, "word": {"min": 0}, "blank": {"min": 0}, "x": {"max": 0.5}},
        "absolute_limit": 100.0,
    }
    data = frame(x=[1.0] + [0.0] * 19, word=["a"] * 20, blank=[math.nan] * 20)
    found = contracts.check_value_ranges(data, policy(value_ranges=ranges), None)
    assert [(v.column, v.reason) for v in found] == [
        ("x", "1 of 20 values (5.00%) outside [-inf, 0.5], above the 0.00% allowed (e.g. 1)")
    ]


def test_values_below_the_minimum_of_a_two_sided_range_are_outside() -> None:
    found = contracts.check_value_ranges(frame(x=[-5.0] * 3 + [0.0] * 17), policy(), None)
    assert found[0].reason == (
        "3 of 20 values (15.00%) outside [-1.0, 1.0], above the 10.00% allowed (e.g. -5)"
    )


def test_a_batch_without_a_label_column_has_no_class_floor_to_apply() -> None:
    view = contracts.batch_policy(batch_policy(), labelled_rows=0)
    assert view["contract"]["label"]["min_class_fraction"] == [0.0, 0.0]
    found = contracts.check_batch(frame().drop(columns="rain"), batch_policy(), "b.csv")
    assert [v.check for v in found] == ["required_columns"]
