"""Drift statistics: hand-computed cases, scipy as the oracle, and the real rainfall drift."""

from __future__ import annotations

import math
from dataclasses import replace

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


# --- tied values, Azure ML's definitions, one drifted feature ------------------------------------

#: Seven tied values whose textbook interpolation ``v * (1 - f) + v * f`` at the deciles (f = 0.2,
#: 0.8) lands one ulp below ``v``.
TIED = -48.487744897678844


def test_quantile_edges_return_the_tied_value_exactly():
    x = np.full(7, TIED)
    pos = np.arange(1, 10) / 10 * (x.size - 1)
    frac = pos - np.floor(pos)
    assert (x[0] * (1 - frac) + x[0] * frac < TIED).any()  # the trap the edges must avoid
    edges = drift.quantile_edges(x, 10)
    assert edges.tolist() == [TIED]
    assert drift.bin_counts(x, edges).tolist() == [7, 0]  # every tied row in one bin


def test_quantile_edges_stay_between_their_order_statistics(rng):
    x = np.sort(np.concatenate([np.full(50, TIED), rng.normal(size=50)]))
    edges = drift.quantile_edges(x, 10)
    assert edges.min() >= x[0] and edges.max() <= x[-1]
    assert TIED in edges.tolist()


def test_azure_definitions_match_a_hand_computed_case():
    ref, cur = [0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    # ceil(log2(4) + 1) = 3 equal-width bins over [0, 5]: ref counts [2, 2, 0], current [0, 2, 2]
    assert drift.azure_bin_count(4, 4) == 3
    r, c = drift.azure_histograms(np.array(ref), np.array(cur))
    assert r.tolist() == [2, 2, 0] and c.tolist() == [0, 2, 2]
    # (count + 1) / n: p = [.75, .75, .25], q = [.25, .75, .75]; PSI = 2 * 0.5 * ln 3
    assert drift.azure_psi(ref, cur) == pytest.approx(math.log(3))
    # unsmoothed, base 2: m = [.25, .5, .25], each KL = 0.5 bit, JS divergence 0.5
    assert drift.azure_jensen_shannon(ref, cur) == pytest.approx(math.sqrt(0.5))
    assert drift.azure_bin_count(100, 1000) == 8  # ceil(6.64 + 1)
    table = drift.feature_table(pd.DataFrame({"a": ref}), pd.DataFrame({"a": cur}), ["a"], bins=2)
    assert table.loc[0, "azure_psi"] == pytest.approx(math.log(3))


def test_azure_bins_see_out_of_range_values_the_quantile_form_saturates(rng):
    ref = rng.normal(size=2000)
    far, farther = rng.normal(size=2000) + 10, rng.normal(size=2000) + 20
    # quantile bins: everything beyond the reference lands in the last open bin either way
    assert drift.numerical_drift(ref, far, bins=10)["jensen_shannon"] == pytest.approx(
        drift.numerical_drift(ref, farther, bins=10)["jensen_shannon"]
    )
    assert drift.azure_jensen_shannon(ref, far) == pytest.approx(1.0, abs=1e-3)


def test_importance_weighting_catches_one_drifted_feature_of_twenty(rng):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ctloop import metrics
    from ctloop.monitor.settings import MonitorSettings
    from ctloop.monitor.window import Reference, data_drift

    features = [f"x{i}" for i in range(20)]
    ref = pd.DataFrame(rng.normal(size=(2000, 20)), columns=features)
    y = (ref["x0"] + 0.2 * rng.normal(size=2000) > 0).astype(int).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(ref, y)
    importance = metrics.permutation_importance(
        lambda x: model.predict_proba(x)[:, 1], ref, y, features, seed=0
    )
    assert max(importance, key=importance.get) == "x0" and importance["x0"] > 0.8
    current = pd.DataFrame(rng.normal(size=(400, 20)), columns=features)
    current["x0"] += 5  # one feature of twenty, five standard deviations
    reference = Reference("1", ref, model.predict_proba(ref)[:, 1], features, importance)
    settings = MonitorSettings(
        "roc_auc", 24, 365, 100, 365, 100, 10, "mean", "jensen_shannon", 0.1, 10, 500, "importance"
    )
    weighted = data_drift(current, reference, settings)["drift_score"]
    uniform = data_drift(current, reference, replace(settings, drift_weights="uniform"))["drift_score"]
    threshold = 0.3  # policies/retraining.yml triggers.drift.threshold
    assert weighted >= threshold > uniform
    calm = data_drift(pd.DataFrame(rng.normal(size=(400, 20)), columns=features), reference, settings)
    assert calm["drift_score"] < threshold


def test_monitor_compares_categorical_features_as_categories(rng):
    from ctloop.monitor.settings import MonitorSettings
    from ctloop.monitor.window import Reference, data_drift

    # codes 0..19 become the even codes only: as numbers, every decile bin keeps its share
    ref = pd.DataFrame({"code": rng.integers(0, 20, 2000), "x": rng.normal(size=2000)})
    cur = pd.DataFrame({"code": 2 * rng.integers(0, 10, 500), "x": rng.normal(size=500)})
    settings = MonitorSettings(
        "roc_auc", 24, 365, 100, 365, 100, 10, "mean", "jensen_shannon", 0.1, 10, 500, "uniform", ("code",)
    )
    reference = Reference("1", ref, np.zeros(2000), ["code", "x"])
    out = data_drift(cur, reference, settings)
    assert out["drift_features"]["code"] > 0.5  # half the categories vanished
    numeric = data_drift(cur, reference, replace(settings, categorical_features=()))
    # binned as numbers, each bin keeps an odd and an even code: most of the change is invisible
    assert out["drift_features"]["code"] - numeric["drift_features"]["code"] > 0.2
