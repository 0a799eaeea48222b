"""Time-ordered split on the real rainfall data and its failure modes; the bundled datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctloop import datasets
from ctloop.splits import SplitError, time_split


def split(frame: pd.DataFrame, policy: dict, **overrides):
    return time_split(frame, time_column="date", label="rain", **(policy["split"] | overrides))


def test_policy_split_on_real_data(rainfall, data_policy):
    s = split(rainfall, data_policy)
    assert len(s.eval) == data_policy["split"]["eval_days"]
    assert len(s.train) == data_policy["split"]["train_days"]
    assert s.eval["date"].max() == rainfall["date"].max()  # the latest labelled slice
    assert s.train["date"].max() < s.eval["date"].min()  # strictly before: never random, no overlap
    assert (s.eval["date"].min() - s.train["date"].max()).days == 1  # gap_days 0
    assert s.train["date"].is_monotonic_increasing or s.train["date"].is_unique


def test_unlabelled_newest_rows_are_left_out(rainfall, data_policy):
    frame = rainfall.copy()
    frame.loc[frame.index[-30:], "rain"] = np.nan  # labels not known yet for the last month
    s = split(frame, data_policy)
    last_labelled = frame["date"].iloc[-31]
    assert s.eval["date"].max() == last_labelled and s.eval["rain"].notna().all()


def test_gap_days_leave_a_hole(rainfall, data_policy):
    s = split(rainfall, data_policy, gap_days=30)
    assert (s.eval["date"].min() - s.train["date"].max()).days == 31


def test_too_few_rows_fail_clearly(rainfall, data_policy):
    two_years = rainfall.iloc[:730]
    with pytest.raises(SplitError) as info:
        split(two_years, data_policy)
    assert info.value.field == "train" and "need at least 730" in info.value.reason
    sparse = rainfall.copy()
    sparse.loc[sparse.index[-365:-100], "rain"] = np.nan
    with pytest.raises(SplitError) as info:
        split(sparse, data_policy)
    assert info.value.field == "eval" and "labelled rows in the last 365 days" in info.value.reason
    with pytest.raises(SplitError, match="no labelled rows"):
        split(rainfall.assign(rain=np.nan), data_policy)


def test_rainfall_bundle():
    frame = datasets.load_rainfall()
    assert frame.shape == (18159, 10)
    assert list(frame.columns) == ["date", *datasets.RAINFALL_FEATURES, "rain"]
    assert frame["date"].iloc[0] == pd.Timestamp("1949-01-01")
    assert frame["date"].iloc[-1] == pd.Timestamp("1949-01-01") + pd.Timedelta(days=18158)
    assert frame["date"].diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert set(frame["rain"].unique()) == {0, 1} and 0.30 < frame["rain"].mean() < 0.33
    assert datasets.names() == ["rainfall"]
    with pytest.raises(KeyError, match="unknown bundled dataset 'weather'; known: rainfall"):
        datasets.load("weather")
