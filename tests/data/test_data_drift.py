"""Drift statistics: hand-computed cases, scipy as the oracle, and the real rainfall drift."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from ctloop import drift


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


# --- binning -----------------------------------------------------------------------------------


def test_quantile_edges_match_numpy_quantiles(rng):
    x = np.sort(rng.normal(size=1001))
    expected = np.quantile(x, np.arange(1, 10) / 10)
    np.testing.assert_allclose(drift.quantile_edges(x, 10), expected)


def test_quantile_edges_collapse_on_ties():
    x = np.sort(np.array([0.0] * 95 + [1.0] * 5))
    assert drift.quantile_edges(x, 10).tolist() == [0.0]


def test_bin_counts_are_right_closed_and_cover_everything():
    edges = np.array([1.0, 2.0])
    values = np.sort(np.array([-5.0, 1.0, 1.5, 2.0, 2.5, 9.0]))
    # (-inf, 1] (1, 2] (2, inf)
    assert drift.bin_counts(values, edges).tolist() == [2, 2, 2]


# --- PSI -----------------------------------------------------------------------------------------


def test_psi_hand_computed():
    # p = (.5, .5), q = (.25, .75): (.25-.5) ln(.5) + (.75-.5) ln(1.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert drift.psi_from_counts([50, 50], [25, 75], pseudo_count=0) == pytest.approx(expected)


def test_psi_is_zero_for_identical_and_finite_for_empty_bins():
    assert drift.psi_from_counts([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0, abs=0.02)
    assert drift.psi_from_counts([10, 20, 30], [1, 2, 3], pseudo_count=0) == pytest.approx(0.0)
    smoothed = drift.psi_from_counts([50, 50, 0], [0, 50, 50])
    assert math.isfinite(smoothed) and smoothed > 1.0
    assert math.isinf(drift.psi_from_counts([50, 50, 0], [0, 50, 50], pseudo_count=0))


# --- Jensen-Shannon ----------------------------------------------------------------------------


def test_js_distance_bounds_hand_computed():
    assert drift.js_distance_from_counts([5, 5], [5, 5]) == 0.0
    assert drift.js_distance_from_counts([10, 0], [0, 10]) == pytest.approx(1.0)
    # p = (1, 0), q = (.5, .5): m = (.75, .25); JSD = .5*log2(1/.75) + .5*(.5*log2(.5/.75) + .5*log2(.5/.25))
    jsd = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(2))
    assert drift.js_distance_from_counts([4, 0], [3, 3]) == pytest.approx(math.sqrt(jsd))


def test_js_distance_matches_scipy(rng):
    for _ in range(5):
        p, q = rng.integers(0, 50, size=12), rng.integers(0, 50, size=12)
        assert drift.js_distance_from_counts(p, q) == pytest.approx(jensenshannon(p, q, base=2))


# --- chi-squared ---------------------------------------------------------------------------------


def test_chi_squared_hand_computed():
    # Table [[10, 20], [20, 10]]: expected 15 everywhere -> 4 * 25 / 15
    statistic, pvalue = drift.chi_squared_from_counts([10, 20], [20, 10])
    assert statistic == pytest.approx(100 / 15)
    assert pvalue == pytest.approx(stats.chi2.sf(100 / 15, 1))


def test_chi_squared_matches_scipy_contingency(rng):
    ref, cur = rng.integers(5, 80, size=6), rng.integers(5, 80, size=6)
    expected = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    statistic, pvalue = drift.chi_squared_from_counts(ref, cur)
    assert statistic == pytest.approx(expected.statistic)
    assert pvalue == pytest.approx(expected.pvalue)


def test_chi_squared_new_category_stays_finite_and_single_category_is_no_drift():
    statistic, pvalue = drift.chi_squared_from_counts([50, 50, 0], [40, 40, 20])
    assert math.isfinite(statistic) and pvalue < 1e-3
    assert drift.chi_squared_from_counts([30], [70]) == (0.0, 1.0)


# --- KS and Wasserstein ------------------------------------------------------------------------


def test_ks_hand_computed():
    assert drift.ks_from_sorted(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]))[0] == 1.0
    # F_ref - F_cur after 2: 0.5 - 0; after 4: 1 - 0.5 -> D = 0.5
    assert drift.ks_from_sorted(np.array([1.0, 2, 3, 4]), np.array([3.0, 4, 5, 6]))[0] == 0.5


def test_ks_statistic_equals_scipy_with_ties(rng):
    for n, m in [(40, 55), (1000, 700), (5000, 5000)]:
        a = np.round(rng.normal(size=n), 1)  # rounded: many ties, as in the rainfall data
        b = np.round(rng.normal(0.15, 1.2, size=m), 1)
        d, _ = drift.ks_from_sorted(np.sort(a), np.sort(b))
        assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)


def test_ks_pvalue_close_to_scipy_exact(rng):
    for shift in (0.0, 0.15, 0.3):
        a, b = rng.normal(size=400), rng.normal(shift, size=300)
        _, p = drift.ks_from_sorted(np.sort(a), np.sort(b))
        exact = stats.ks_2samp(a, b, method="exact").pvalue
        assert p == pytest.approx(exact, rel=0.1)


def test_wasserstein_hand_computed_and_normalized_by_reference_std():
    ref, cur = np.array([0.0, 1, 3]), np.array([5.0, 6, 8])
    assert drift.wasserstein_from_sorted(ref, cur) == pytest.approx(5.0)
    expected = 5.0 / np.std(ref, ddof=1)
    assert drift.normalized_wasserstein_from_sorted(ref, cur) == pytest.approx(expected)


def test_normalized_wasserstein_constant_reference_uses_floor():
    ref, cur = np.array([2.0, 2, 2]), np.array([2.0, 2, 3])
    assert drift.normalized_wasserstein_from_sorted(ref, cur, std_floor=0.5) == pytest.approx((1 / 3) / 0.5)


def test_wasserstein_matches_scipy(rng):
    for n, m in [(30, 70), (2000, 3000)]:
        a, b = np.round(rng.exponential(size=n), 2), np.round(rng.normal(1, 2, size=m), 2)
        assert drift.wasserstein_from_sorted(np.sort(a), np.sort(b)) == pytest.approx(
            stats.wasserstein_distance(a, b)
        )


def test_numerical_drift_drops_missing_and_infinite_values():
    out = drift.numerical_drift([1.0, 2.0, np.nan, 3.0], [1.0, np.inf, 2.0, 3.0], bins=2)
    assert out["n_reference"] == 3 and out["n_current"] == 3
    assert out["ks_statistic"] == 0.0 and out["normalized_wasserstein"] == 0.0


def test_empty_side_gives_nan_not_an_error():
    out = drift.numerical_drift([np.nan, np.nan], [1.0, 2.0], bins=4)
    assert out["n_reference"] == 0 and all(math.isnan(out[m]) for m in drift.NUMERICAL_METRICS)


# --- the per-feature table -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def frames(rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = 3000
    ref = pd.DataFrame(
        {
            "same": rng.normal(size=n),
            "shifted": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]),
        }
    )
    cur = pd.DataFrame(
        {
            "same": rng.normal(size=n),
            "shifted": rng.normal(1.0, 1.0, size=n),
            "colour": rng.choice(["red", "green", "blue", "pink"], size=n, p=[0.2, 0.3, 0.2, 0.3]),
        }
    )
    cur.loc[:9, "same"] = np.nan
    return ref, cur


def test_feature_table_matches_single_feature_functions(frames):
    ref, cur = frames
    table = drift.feature_table(ref, cur, ["same", "shifted", "colour"], bins=10).set_index("feature")
    assert table.loc["colour", "kind"] == "categorical" and table.loc["same", "kind"] == "numerical"
    assert table.loc["same", "n_current"] == len(cur) - 10
    single = drift.numerical_drift(ref["shifted"], cur["shifted"], bins=10)
    for metric in drift.NUMERICAL_METRICS:
        assert table.loc["shifted", metric] == pytest.approx(single[metric])
    assert table.loc["shifted", "ks_statistic"] == pytest.approx(
        stats.ks_2samp(ref["shifted"], cur["shifted"]).statistic
    )
    assert math.isnan(table.loc["colour", "ks_statistic"]) and math.isnan(table.loc["same", "chi2_pvalue"])
    assert table.loc["colour", "chi2_pvalue"] < 1e-6


def test_feature_table_treats_listed_features_as_categorical(frames):
    ref, cur = frames
    table = drift.feature_table(ref, cur, ["same"], categorical=["same"], bins=10)
    assert table.loc[0, "kind"] == "categorical"


def test_feature_table_rejects_absent_features(frames):
    ref, cur = frames
    with pytest.raises(KeyError, match="nope"):
        drift.feature_table(ref, cur, ["same", "nope"], bins=10)


def test_flags_use_the_right_direction_per_metric(frames):
    ref, cur = frames
    table = drift.feature_table(ref, cur, ["same", "shifted", "colour"], bins=10)
    thresholds = {
        "numerical": {"normalized_wasserstein": 0.1, "ks_pvalue": 0.01},
        "categorical": {"chi2_pvalue": 0.01},
    }
    flagged = {(f["feature"], f["metric"]) for f in drift.flags(table, thresholds)}
    assert flagged == {
        ("shifted", "normalized_wasserstein"),
        ("shifted", "ks_pvalue"),
        ("colour", "chi2_pvalue"),
    }


def test_overall_score_methods():
    table = pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d"],
            "kind": ["numerical", "numerical", "numerical", "categorical"],
            "psi": [0.1, 0.3, np.nan, 0.5],
            "ks_pvalue": [0.5, 0.001, 0.2, np.nan],
        }
    )
    assert drift.overall_score(table, "max", "psi") == 0.5
    assert drift.overall_score(table, "max", "psi", kind="numerical") == 0.3
    assert drift.overall_score(table, "max", "ks_pvalue") == 0.001  # most drifted p-value is the smallest
    assert drift.overall_score(table, "mean", "psi") == pytest.approx(0.3)
    assert drift.overall_score(table, "mean", "psi", weights={"a": 3, "b": 1}) == pytest.approx(0.15)
    assert drift.overall_score(table, "share_drifted", "psi", threshold=0.25) == pytest.approx(2 / 3)
    assert drift.overall_score(table, "share_drifted", "ks_pvalue", threshold=0.01) == pytest.approx(1 / 3)
    assert math.isnan(drift.overall_score(table.iloc[2:3], "max", "psi"))
    with pytest.raises(ValueError, match="threshold"):
        drift.overall_score(table, "share_drifted", "psi")
    with pytest.raises(ValueError, match="unknown overall drift method"):
        drift.overall_score(table, "median", "psi")


def test_real_rainfall_drift_is_flagged_where_documented(rainfall, data_policy):
    """The early decade against the last decade: dew point and pressure moved, max temperature did not."""
    features = data_policy["features"]
    early, late = rainfall.iloc[:3650], rainfall.iloc[-3650:]
    table = drift.feature_table(early, late, features, bins=data_policy["drift"]["bins"])
    warned = {f["feature"] for f in drift.flags(table, data_policy["drift"]["warn"])}
    assert {"dew_point", "sea_level_pressure"} <= warned
    assert "maximum_temperature" not in warned
    # The same decade against itself (two halves of the same years) stays quiet on the distances.
    first, second = early.iloc[::2], early.iloc[1::2]
    quiet = drift.feature_table(first, second, features, bins=data_policy["drift"]["bins"])
    assert drift.flags(quiet, data_policy["drift"]["warn"]) == []
