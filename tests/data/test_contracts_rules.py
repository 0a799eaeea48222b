"""Rules between fields of policies/data.yml that its schema cannot say: each named exactly."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ctloop.contracts import cross_field_problems, load_data_policy
from ctloop.policies import PolicyError


@pytest.fixture
def shipped(data_policy: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the shipped data policy (edit freely)."""
    return copy.deepcopy(data_policy)


def ranges(policy: dict[str, Any], **columns: dict[str, float]) -> dict[str, Any]:
    policy["contract"]["value_ranges"]["columns"] = columns
    return policy


def test_the_shipped_policy_has_no_cross_field_problem(shipped: dict[str, Any]) -> None:
    assert cross_field_problems(shipped) == []


def test_the_label_cannot_be_a_key_column(shipped: dict[str, Any]) -> None:
    shipped["key_columns"] = ["date", "rain"]
    assert cross_field_problems(shipped) == [("key_columns", "the label 'rain' cannot be a key column")]


def test_a_key_column_cannot_be_a_feature(shipped: dict[str, Any]) -> None:
    shipped["key_columns"] = ["date", "dew_point", "visibility"]
    assert cross_field_problems(shipped) == [
        ("key_columns", "key column(s) ['dew_point', 'visibility'] cannot also be features")
    ]


def test_a_range_whose_min_is_above_its_max_is_named(shipped: dict[str, Any]) -> None:
    ranges(shipped, a={"min": 2.0, "max": 1.0}, b={"min": 1.0, "max": 1.0})
    assert cross_field_problems(shipped) == [
        ("contract.value_ranges.columns.a", "min 2.0 is greater than max 1.0")
    ]


@pytest.mark.parametrize("bounds", [{"min": 5.0}, {"max": -5.0}, {}], ids=["min", "max", "none"])
def test_a_one_sided_range_has_nothing_to_compare(shipped: dict[str, Any], bounds: dict[str, float]) -> None:
    assert cross_field_problems(ranges(shipped, a=bounds)) == []


@pytest.mark.parametrize("side", ["min", "max"])
def test_a_bound_beyond_the_absolute_limit_is_named_and_the_limit_itself_is_allowed(
    shipped: dict[str, Any], side: str
) -> None:
    limit = float(shipped["contract"]["value_ranges"]["absolute_limit"])
    sign = -1.0 if side == "min" else 1.0
    assert cross_field_problems(ranges(shipped, a={side: sign * limit})) == []
    beyond = sign * (limit + 0.5)
    assert cross_field_problems(ranges(shipped, a={side: beyond})) == [
        (
            f"contract.value_ranges.columns.a.{side}",
            f"{beyond} lies beyond contract.value_ranges.absolute_limit {limit:g}",
        )
    ]


def test_both_bounds_beyond_the_limit_are_named_in_order(shipped: dict[str, Any]) -> None:
    limit = float(shipped["contract"]["value_ranges"]["absolute_limit"])
    found = cross_field_problems(ranges(shipped, a={"min": -2 * limit, "max": 2 * limit}))
    assert [field for field, _ in found] == [
        "contract.value_ranges.columns.a.min",
        "contract.value_ranges.columns.a.max",
    ]


def test_the_time_column_must_be_declared_datetime_or_not_at_all(shipped: dict[str, Any]) -> None:
    shipped["contract"]["dtypes"]["date"] = "string"
    assert cross_field_problems(shipped) == [("contract.dtypes.date", "the time column must be datetime")]
    del shipped["contract"]["dtypes"]["date"]
    assert cross_field_problems(shipped) == []


def test_the_time_column_is_read_from_the_policy(shipped: dict[str, Any]) -> None:
    shipped["time_column"] = "day"
    shipped["contract"]["dtypes"]["day"] = "integer"
    assert cross_field_problems(shipped) == [("contract.dtypes.day", "the time column must be datetime")]


def test_a_string_label_needs_string_values(shipped: dict[str, Any]) -> None:
    shipped["contract"]["dtypes"]["rain"] = "string"
    shipped["contract"]["label"]["values"] = ["no", 1]
    assert cross_field_problems(shipped) == [
        ("contract.dtypes.rain", "string label but contract.label.values are not strings")
    ]
    shipped["contract"]["label"]["values"] = ["no", "yes"]
    assert cross_field_problems(shipped) == []
    shipped["contract"]["dtypes"]["rain"] = "numeric"
    shipped["contract"]["label"]["values"] = [0, 1]
    assert cross_field_problems(shipped) == []


def test_every_problem_is_reported_in_rule_order(shipped: dict[str, Any]) -> None:
    shipped["key_columns"] = ["rain", "dew_point"]
    shipped["contract"]["dtypes"]["date"] = "string"
    ranges(shipped, a={"min": 2.0, "max": 1.0})
    assert [field for field, _ in cross_field_problems(shipped)] == [
        "key_columns",
        "key_columns",
        "contract.value_ranges.columns.a",
        "contract.dtypes.date",
    ]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            lambda d: d.update(key_columns=["date", "rain"]),
            "key_columns",
            "the label 'rain' cannot be a key column",
        ),
        (
            lambda d: d["contract"]["value_ranges"]["columns"].update(dew_point={"min": 3, "max": -3}),
            "contract.value_ranges.columns.dew_point",
            "min 3 is greater than max -3",
        ),
        (
            lambda d: d["contract"]["dtypes"].update(date="integer"),
            "contract.dtypes.date",
            "the time column must be datetime",
        ),
    ],
    ids=["label-key", "min-above-max", "time-dtype"],
)
def test_load_data_policy_refuses_a_cross_field_problem_naming_file_field_and_reason(
    policy_copy: Callable[..., Path], change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    folder = policy_copy(change)
    with pytest.raises(PolicyError) as info:
        load_data_policy(folder)
    assert (info.value.file, info.value.field, info.value.reason) == (str(folder / "data.yml"), field, reason)


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d.update(label="dew_point"), "label", "'dew_point' cannot also be a feature"),
        (
            lambda d: d.update(time_column="visibility"),
            "time_column",
            "'visibility' cannot also be a feature",
        ),
        (
            lambda d: d.update(categorical_features=["colour", "dew_point", "size"]),
            "categorical_features",
            "not listed in features: ['colour', 'size']",
        ),
    ],
    ids=["label", "time-column", "categorical"],
)
def test_load_data_policy_names_role_clashes_exactly(
    policy_copy: Callable[..., Path], change: Callable[[dict[str, Any]], None], field: str, reason: str
) -> None:
    folder = policy_copy(change)
    with pytest.raises(PolicyError) as info:
        load_data_policy(folder)
    assert (info.value.file, info.value.field, info.value.reason) == (str(folder / "data.yml"), field, reason)


def test_load_data_policy_accepts_categorical_features_that_are_features(
    policy_copy: Callable[..., Path],
) -> None:
    folder = policy_copy(lambda d: d.update(categorical_features=["visibility"]))
    assert load_data_policy(folder)["categorical_features"] == ["visibility"]


def test_categorical_features_are_optional(policy_copy: Callable[..., Path]) -> None:
    folder = policy_copy(lambda d: d.pop("categorical_features"))
    assert "categorical_features" not in load_data_policy(folder)
