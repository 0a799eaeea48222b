"""Drift statistics at their edges: the std floor, thresholds at equality, bools, new categories."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from ctloop import drift

# --- normalized Wasserstein and the reference std floor --------------------------------------


def test_a_constant_reference_is_scaled_by_the_std_floor() -> None:
    reference, current = np.zeros(50), np.full(50, 0.01)
    stats = drift.numerical_drift(reference, current, bins=5)
    assert stats["normalized_wasserstein"] == pytest.approx(0.01 / drift.STD_FLOOR)
    assert drift.normalized_wasserstein_from_sorted(reference, current) == pytest.approx(10.0)


def test_the_std_floor_is_a_parameter_and_only_a_floor() -> None:
    reference, current = np.zeros(50), np.full(50, 0.01)
    assert drift.numerical_drift(reference, current, bins=5, std_floor=0.5)["normalized_wasserstein"] == (
        pytest.approx(0.02)
    )
    spread = np.array([0.0, 2.0])  # sample std (ddof=1) sqrt(2); population std would be 1
    shifted = spread + 1.0
    assert drift.normalized_wasserstein_from_sorted(spread, shifted, std_floor=0.5) == pytest.approx(
        1.0 / math.sqrt(2.0)
    )
    assert drift.normalized_wasserstein_from_sorted(spread, shifted, std_floor=2.0) == pytest.approx(0.5)


def test_a_single_reference_value_has_no_spread_and_uses_the_floor() -> None:
    stats = drift.numerical_drift([1.0], [1.5, 1.5], bins=3)
    assert stats["normalized_wasserstein"] == pytest.approx(0.5 / drift.STD_FLOOR)
    assert (stats["n_reference"], stats["n_current"]) == (1, 2)


def test_non_finite_values_are_dropped_before_any_statistic() -> None:
    reference = [0.0, 1.0, 2.0, math.nan, math.inf, -math.inf]
    stats = drift.numerical_drift(reference, [0.0, 1.0, 2.0, None], bins=3)
    assert (stats["n_reference"], stats["n_current"]) == (3, 3)
    assert stats["ks_statistic"] == 0.0 and stats["normalized_wasserstein"] == 0.0
    assert stats["psi"] == 0.0 and stats["jensen_shannon"] == 0.0


def test_no_data_on_one_side_gives_nan_for_every_metric() -> None:
    stats = drift.numerical_drift([math.nan], [1.0, 2.0], bins=3)
    assert all(math.isnan(stats[m]) for m in drift.NUMERICAL_METRICS)
    cats = drift.categorical_drift([None], ["a"])
    assert all(math.isnan(cats[m]) for m in drift.CATEGORICAL_METRICS)


# --- thresholds at equality ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "threshold", "crossed"),
    [
        ("jensen_shannon", 0.3, 0.3, False),
        ("jensen_shannon", 0.3000001, 0.3, True),
        ("jensen_shannon", 0.2999999, 0.3, False),
        ("normalized_wasserstein", 0.1, 0.1, False),
        ("ks_pvalue", 0.05, 0.05, False),
        ("ks_pvalue", 0.0499999, 0.05, True),
        ("ks_pvalue", 0.0500001, 0.05, False),
        ("chi2_pvalue", 0.01, 0.01, False),
        ("chi2_pvalue", 0.0, 0.01, True),
        ("psi", math.nan, 0.1, False),
        ("ks_pvalue", math.nan, 0.05, False),
    ],
)
def test_crosses_is_strict_and_points_the_right_way(
    metric: str, value: float, threshold: float, crossed: bool
) -> None:
    assert drift.crosses(metric, value, threshold) is crossed


def table(values: dict[str, float], kind: str = "numerical") -> pd.DataFrame:
    rows = [{"feature": f, "kind": kind, "jensen_shannon": v, "ks_pvalue": 1 - v} for f, v in values.items()]
    return pd.DataFrame(rows)


def test_flags_only_values_beyond_their_threshold() -> None:
    frame = table({"at": 0.3, "above": 0.31, "below": 0.2, "missing": math.nan})
    flagged = drift.flags(frame, {"numerical": {"jensen_shannon": 0.3}, "categorical": {"psi": 0.0}})
    assert flagged == [
        {"feature": "above", "kind": "numerical", "metric": "jensen_shannon", "value": 0.31, "threshold": 0.3}
    ]


def test_flags_p_values_below_their_threshold() -> None:
    frame = table({"a": 0.96, "b": 0.95, "c": 0.5})  # ks_pvalue 0.04, 0.05, 0.5
    flagged = drift.flags(frame, {"numerical": {"ks_pvalue": 0.05}})
    assert [(f["feature"], f["value"]) for f in flagged] == [("a", pytest.approx(0.04))]


def test_share_drifted_counts_only_crossings() -> None:
    frame = table({"at": 0.3, "above": 0.31, "below": 0.2, "far": 0.9})
    assert drift.overall_score(frame, "share_drifted", "jensen_shannon", threshold=0.3) == 0.5
    assert drift.overall_score(frame, "share_drifted", "ks_pvalue", threshold=0.1) == 0.25  # 1 - 0.9


def test_overall_max_takes_the_most_drifted_value_in_each_direction() -> None:
    frame = table({"a": 0.1, "b": 0.4, "c": math.nan})
    assert drift.overall_score(frame, "max", "jensen_shannon") == 0.4
    assert drift.overall_score(frame, "max", "ks_pvalue") == pytest.approx(0.6)
    assert drift.overall_score(frame, "mean", "jensen_shannon") == pytest.approx(0.25)
    assert drift.overall_score(
        frame, "mean", "jensen_shannon", weights={"a": 3.0, "b": 1.0}
    ) == pytest.approx(0.175)
    assert math.isnan(drift.overall_score(frame, "mean", "jensen_shannon", weights={"c": 1.0}))
    assert math.isnan(drift.overall_score(frame, "max", "jensen_shannon", kind="categorical"))


def test_overall_score_refuses_unknown_methods_metrics_and_a_missing_threshold() -> None:
    frame = table({"a": 0.1})
    with pytest.raises(ValueError, match=r"^unknown overall drift method 'median'; expected one of "):
        drift.overall_score(frame, "median", "jensen_shannon")
    with pytest.raises(ValueError, match=r"^unknown drift metric 'psi'$"):
        drift.overall_score(frame, "max", "psi")
    with pytest.raises(ValueError, match=r"^method 'share_drifted' needs a threshold$"):
        drift.overall_score(frame, "share_drifted", "jensen_shannon")


# --- kinds: bools are categories -------------------------------------------------------------


def test_bool_columns_are_categorical_and_integer_flags_numerical() -> None:
    reference = pd.DataFrame({"flag": [True, False] * 50, "count": [0, 1] * 50})
    current = pd.DataFrame({"flag": [True] * 90 + [False] * 10, "count": [1] * 90 + [0] * 10})
    out = drift.feature_table(reference, current, ["flag", "count"], bins=4).set_index("feature")
    assert out.loc["flag", "kind"] == "categorical"
    assert out.loc["count", "kind"] == "numerical"
    assert math.isfinite(out.loc["flag", "chi2_statistic"]) and math.isnan(out.loc["flag", "ks_statistic"])
    assert math.isnan(out.loc["count", "chi2_statistic"]) and math.isfinite(out.loc["count", "ks_statistic"])
    assert math.isfinite(out.loc["flag", "psi"]) and out.loc["flag", "psi"] > 0


def test_listed_and_non_numeric_columns_are_categorical() -> None:
    reference = pd.DataFrame({"code": [1, 2] * 20, "city": ["a", "b"] * 20, "x": np.arange(40.0)})
    current = reference.copy()
    out = drift.feature_table(reference, current, ["code", "city", "x"], categorical=["code"], bins=4)
    assert list(out["kind"]) == ["categorical", "categorical", "numerical"]
    assert list(out["n_reference"]) == [40, 40, 40]
    with pytest.raises(KeyError, match="absent"):
        drift.feature_table(reference, current.drop(columns="x"), ["x"], bins=4)


# --- categorical PSI: smoothed, so a new category stays finite --------------------------------


def test_a_new_category_gives_a_finite_smoothed_psi() -> None:
    stats = drift.categorical_drift(["a"] * 10, ["a"] * 5 + ["new"] * 5)
    p = np.array([11, 1]) / 12  # (count + 1) over ["a", "new"]
    q = np.array([6, 6]) / 12
    assert stats["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert math.isfinite(stats["chi2_statistic"]) and stats["chi2_pvalue"] < 0.05
    assert 0 < stats["jensen_shannon"] < 1


def test_the_pseudo_count_is_the_policys_and_zero_means_unsmoothed() -> None:
    smoothed = drift.categorical_drift(["a"] * 10, ["a"] * 5 + ["new"] * 5, pseudo_count=0.5)
    p = np.array([10.5, 0.5]) / 11
    q = np.array([5.5, 5.5]) / 11
    assert smoothed["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))))
    assert drift.psi_from_counts(np.array([10, 0]), np.array([5, 5]), pseudo_count=0.0) == math.inf


def test_identical_and_disjoint_distributions_bound_jensen_shannon() -> None:
    assert drift.js_distance_from_counts(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0)
    assert drift.js_distance_from_counts(np.array([5, 0]), np.array([0, 5])) == pytest.approx(1.0)
    assert math.isnan(drift.js_distance_from_counts(np.array([0, 0]), np.array([1, 1])))
    assert drift.psi_from_counts(np.array([3, 7]), np.array([3, 7])) == 0.0


def test_chi_squared_of_a_single_category_is_no_evidence() -> None:
    assert drift.chi_squared_from_counts(np.array([5, 0]), np.array([7, 0])) == (0.0, 1.0)
    statistic, p = drift.chi_squared_from_counts(np.array([50, 50]), np.array([50, 50]))
    assert statistic == 0.0 and p == pytest.approx(1.0)


def test_quantile_edges_and_bin_counts_at_their_edges() -> None:
    ref = np.arange(10.0)
    assert drift.quantile_edges(ref, 1).size == 0
    assert drift.quantile_edges(np.empty(0), 4).size == 0
    with pytest.raises(ValueError, match="bins must be >= 1"):
        drift.quantile_edges(ref, 0)
    edges = drift.quantile_edges(ref, 2)
    assert edges.tolist() == [4.5]
    # a value equal to an edge falls in the bin the edge closes: (-inf, 4.5], (4.5, inf)
    assert drift.bin_counts(np.array([4.5, 4.5, 5.0]), edges).tolist() == [2, 1]
    tied = np.array([1.0] * 7 + [2.0] * 3)
    assert drift.bin_counts(tied, drift.quantile_edges(tied, 4)).sum() == 10


# --- Azure ML's forms: equal-width bins over the combined range, (count + 1) / n -----------------


@pytest.mark.parametrize(
    ("n_ref", "n_cur", "bins"), [(100, 50, 7), (8, 8, 4), (9, 1000, 5), (1, 5, 1), (0, 5, 1), (2, 2, 2)]
)
def test_azure_bin_count_is_ceil_log2_of_the_smaller_sample_plus_one(
    n_ref: int, n_cur: int, bins: int
) -> None:
    assert drift.azure_bin_count(n_ref, n_cur) == bins


def test_azure_psi_and_jensen_shannon_by_hand() -> None:
    ref, cur = [0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    # three bins over [0, 5]: reference counts (2, 2, 0), current (0, 2, 2)
    assert [c.tolist() for c in drift.azure_histograms(np.array(ref), np.array(cur))] == [
        [2, 2, 0],
        [0, 2, 2],
    ]
    assert drift.azure_psi(ref, cur) == pytest.approx(math.log(3))  # p = (3, 3, 1)/4, q = (1, 3, 3)/4
    assert drift.azure_jensen_shannon(ref, cur) == pytest.approx(math.sqrt(0.5))
    stats = drift.numerical_drift(ref, cur, bins=2)
    assert stats["azure_psi"] == pytest.approx(math.log(3))
    assert stats["azure_jensen_shannon"] == pytest.approx(math.sqrt(0.5))


def test_azure_forms_of_identical_or_constant_samples() -> None:
    same = np.arange(20.0)
    assert drift.azure_psi(same, same) == 0.0 and drift.azure_jensen_shannon(same, same) == 0.0
    assert [c.tolist() for c in drift.azure_histograms(np.ones(3), np.ones(5))] == [[3], [5]]
    assert drift.azure_psi(np.ones(3), np.ones(5)) == pytest.approx(
        (6 / 5 - 4 / 3) * math.log((6 / 5) / (4 / 3))
    )


def test_azure_forms_without_data_are_undefined() -> None:
    assert math.isnan(drift.azure_psi([], [1.0])) and math.isnan(drift.azure_psi([1.0], [math.nan]))
    assert math.isnan(drift.azure_jensen_shannon([math.nan], [1.0]))
    assert math.isnan(drift.azure_jensen_shannon([1.0], []))
    assert math.isnan(drift.azure_psi_from_counts(np.array([0, 0]), np.array([1, 1])))


def test_nullable_integer_columns_are_numbers_with_gaps() -> None:
    reference = pd.Series([1, None, 3, 5], dtype="Int64")
    stats = drift.numerical_drift(reference, pd.Series([1, 3, 5, None], dtype="Int64"), bins=2)
    assert (stats["n_reference"], stats["n_current"]) == (3, 3)
    assert stats["ks_statistic"] == 0.0


def test_weighted_mean_with_small_weights_is_still_a_mean() -> None:
    frame = table({"a": 0.1, "b": 0.4})
    assert drift.overall_score(
        frame, "mean", "jensen_shannon", weights={"a": 0.25, "b": 0.25}
    ) == pytest.approx(0.25)


# --- tiny samples, empty sides, degenerate counts ---------------------------------------------


def quietly(compute: Callable[[], Any]) -> Any:
    """``compute()`` with every warning an error: degenerate input must not spill RuntimeWarnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute()


def test_ks_and_wasserstein_of_an_empty_side_are_undefined() -> None:
    assert all(math.isnan(v) for v in drift.ks_from_sorted(np.empty(0), np.array([1.0, 2.0])))
    assert math.isnan(drift.wasserstein_from_sorted(np.array([1.0, 2.0]), np.empty(0)))


def test_a_single_current_value_is_compared_like_any_sample() -> None:
    reference = [0.0, 1.0, 2.0, 3.0]
    stats = drift.numerical_drift(reference, [1.5], bins=2)
    assert stats["n_current"] == 1
    assert stats["ks_statistic"] == pytest.approx(scipy_stats.ks_2samp(reference, [1.5]).statistic)
    assert stats["normalized_wasserstein"] == pytest.approx(1.0 / np.std(reference, ddof=1))
    assert stats["psi"] > 0 and 0 < stats["jensen_shannon"] < 1


def test_numerical_psi_by_hand_with_the_policys_pseudo_count() -> None:
    # one interior edge at 1.5: reference counts (2, 2), current (0, 4); +0.5 each
    stats = drift.numerical_drift([0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0], bins=2, pseudo_count=0.5)
    p, q = np.array([0.5, 0.5]), np.array([0.1, 0.9])
    assert stats["psi"] == pytest.approx(float(np.sum((q - p) * np.log(q / p))))


def test_psi_from_counts_without_smoothing_at_the_smallest_sums() -> None:
    assert quietly(lambda: drift.psi_from_counts([1, 0], [1, 0], pseudo_count=0)) == 0.0
    assert quietly(lambda: drift.psi_from_counts([50, 50, 0], [0, 50, 50], pseudo_count=0)) == math.inf
    assert math.isnan(quietly(lambda: drift.psi_from_counts([0, 0], [1, 1], pseudo_count=0)))
    assert math.isnan(quietly(lambda: drift.psi_from_counts([1, 1], [0, 0], pseudo_count=0)))


def test_jensen_shannon_at_the_smallest_sums() -> None:
    assert drift.js_distance_from_counts([1, 0], [0, 1]) == pytest.approx(1.0)
    assert drift.js_distance_from_counts([0, 1], [0, 1]) == 0.0
    assert math.isnan(quietly(lambda: drift.js_distance_from_counts([0, 0], [1, 1])))
    assert math.isnan(quietly(lambda: drift.js_distance_from_counts([1, 1], [0, 0])))


def test_azure_psi_at_the_smallest_sums() -> None:
    # p = (1 + 1, 0 + 1) / 1, q = (0 + 1, 1 + 1) / 1
    assert drift.azure_psi_from_counts([1, 0], [0, 1]) == pytest.approx(2 * math.log(2))
    assert math.isnan(quietly(lambda: drift.azure_psi_from_counts([1, 1], [0, 0])))


def test_azure_bins_span_the_current_minimum_too() -> None:
    ref, cur = np.array([2.0, 3.0, 4.0, 5.0]), np.array([0.0, 1.0, 4.0, 5.0])
    # three bins over [0, 5]: (0, 1.67], (1.67, 3.33], (3.33, 5]
    counts = drift.azure_histograms(ref, cur)
    assert [c.tolist() for c in counts] == [[0, 2, 2], [2, 0, 2]]


def test_chi_squared_keeps_a_category_seen_once_and_needs_both_rows() -> None:
    statistic, p = drift.chi_squared_from_counts([10, 10, 1], [10, 10, 0])
    expected = scipy_stats.chi2_contingency(np.array([[10, 10, 1], [10, 10, 0]]), correction=False)
    assert (statistic, p) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
    assert drift.chi_squared_from_counts([1, 0], [0, 1])[0] == pytest.approx(2.0)
    assert quietly(lambda: drift.chi_squared_from_counts([0, 0], [3, 4])) == (0.0, 1.0)


def test_ks_pvalue_uses_stephens_effective_size() -> None:
    en = 8 * 6 / 14
    size = math.sqrt(en) + 0.12 + 0.11 / math.sqrt(en)
    assert drift.ks_pvalue(0.5, 8, 6) == pytest.approx(scipy_stats.kstwobign.sf(size * 0.5))
    assert drift.ks_pvalue(0.0, 8, 6) == 1.0


def test_quantile_edges_of_one_and_two_values() -> None:
    assert drift.quantile_edges(np.array([0.0, 1.0]), 2).tolist() == [0.5]
    assert drift.quantile_edges(np.array([7.0]), 4).tolist() == [7.0]


def test_a_missing_value_marker_in_a_plain_list_is_dropped() -> None:
    stats = drift.numerical_drift([1.0, pd.NA, 2.0], [1.0, 2.0], bins=2)
    assert (stats["n_reference"], stats["ks_statistic"]) == (2, 0.0)


def test_weights_that_sum_to_zero_give_nan_quietly() -> None:
    frame = table({"a": 0.1, "b": 0.4})
    weights = {"a": 0.0, "b": 0.0}
    assert math.isnan(quietly(lambda: drift.overall_score(frame, "mean", "jensen_shannon", weights=weights)))


# --- categories ------------------------------------------------------------------------------


def test_a_vanished_category_counts_zero_and_mixed_types_sort_as_text() -> None:
    categories, ref, cur = drift.category_counts(["a", "b"] * 5, ["a"] * 10)
    assert (categories, ref.tolist(), cur.tolist()) == (["a", "b"], [5, 5], [10, 0])
    categories, ref, cur = drift.category_counts([1, "a", 1], ["a", 2])
    assert (categories, ref.tolist(), cur.tolist()) == ([1, 2, "a"], [2, 0, 1], [0, 1, 1])


def test_categorical_azure_forms_by_hand_and_a_single_current_value() -> None:
    stats = drift.categorical_drift(["a"] * 3 + ["b"], ["a"] + ["b"] * 3)
    # Azure: p = (3 + 1, 1 + 1) / 4, q = (1 + 1, 3 + 1) / 4
    assert stats["azure_psi"] == pytest.approx(math.log(2))
    assert stats["azure_jensen_shannon"] == stats["jensen_shannon"] > 0
    single = drift.categorical_drift(["a", "b"], ["a"])
    assert single["n_current"] == 1 and math.isfinite(single["psi"]) and single["psi"] > 0


def test_feature_table_passes_the_pseudo_count_to_categories() -> None:
    reference, current = pd.DataFrame({"c": ["a"] * 10}), pd.DataFrame({"c": ["a"] * 5 + ["new"] * 5})
    out = drift.feature_table(reference, current, ["c"], bins=2, pseudo_count=0.5)
    assert out.loc[0, "psi"] == pytest.approx(
        drift.categorical_drift(reference["c"], current["c"], pseudo_count=0.5)["psi"]
    )
    assert out.loc[0, "psi"] != pytest.approx(drift.categorical_drift(reference["c"], current["c"])["psi"])


def test_a_feature_numeric_on_one_side_only_is_categorical() -> None:
    reference, current = pd.DataFrame({"v": [1, 2] * 10}), pd.DataFrame({"v": ["1", "2"] * 10})
    assert drift.feature_table(reference, current, ["v"], bins=2).loc[0, "kind"] == "categorical"
    assert drift.feature_table(current, reference, ["v"], bins=2).loc[0, "kind"] == "categorical"


def test_feature_table_columns_are_fixed_and_nullable_numbers_mix_with_floats() -> None:
    reference = pd.DataFrame(
        {"n": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"), "x": [0.5, 1.5, np.nan, 2.5, 3.5, 4.5]}
    )
    current = pd.DataFrame({"n": pd.array([2, 3, 4, None, 6, 7], dtype="Int64"), "x": np.arange(6.0)})
    out = drift.feature_table(reference, current, ["n", "x"], bins=2)
    assert list(out.columns) == list(drift.TABLE_COLUMNS)
    for feature in ("n", "x"):
        row = out.set_index("feature").loc[feature]
        single = drift.numerical_drift(reference[feature], current[feature], bins=2)
        assert row["ks_statistic"] == pytest.approx(single["ks_statistic"])
        assert row["n_reference"] == single["n_reference"] == 5
    empty = drift.feature_table(reference, current, [], bins=2)
    assert empty.empty and list(empty.columns) == list(drift.TABLE_COLUMNS)
