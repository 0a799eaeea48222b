"""The time split at its edges: half-open windows, the gap, minimum rows at equality."""

from __future__ import annotations

import pandas as pd
import pytest

from ctloop.splits import SplitError, Window, time_split

DAYS = 40


def daily(days: int = DAYS) -> pd.DataFrame:
    """One labelled row per day, ``x`` numbering the days from 0."""
    return pd.DataFrame(
        {
            "date": pd.date_range("2020-01-01", periods=days, freq="D"),
            "x": range(days),
            "y": [0, 1] * (days // 2),
        }
    )


def split(frame: pd.DataFrame, **changes: int):
    args = {
        "eval_days": 10,
        "train_days": 20,
        "gap_days": 0,
        "min_train_rows": 1,
        "min_eval_rows": 1,
    } | changes
    return time_split(frame, time_column="date", label="y", **args)


def test_windows_are_half_open_and_adjacent_without_a_gap() -> None:
    parts = split(daily())
    assert parts.eval["x"].tolist() == list(range(30, 40))
    assert parts.train["x"].tolist() == list(range(10, 30))
    assert parts.eval_window == Window(pd.Timestamp("2020-01-30"), pd.Timestamp("2020-02-09"))
    assert parts.train_window.end == parts.eval_window.start
    for part in (parts.train, parts.eval):  # a fresh index, no stray column from the old one
        assert list(part.columns) == ["date", "x", "y"]
        assert part.index.tolist() == list(range(len(part)))


def test_the_gap_leaves_exactly_its_days_out() -> None:
    parts = split(daily(), gap_days=3)
    assert parts.eval["x"].tolist() == list(range(30, 40))
    assert parts.train["x"].tolist() == list(range(7, 27))
    assert parts.train_window.end == parts.eval_window.start - pd.Timedelta(days=3)


def test_a_row_on_a_window_start_belongs_to_the_earlier_window() -> None:
    window = Window(pd.Timestamp("2020-01-10"), pd.Timestamp("2020-01-20"))
    stamps = ["2020-01-10", "2020-01-10 00:00:01", "2020-01-20", "2020-01-20 00:00:01"]
    times = pd.Series(pd.to_datetime(stamps, format="ISO8601"))
    assert window.mask(times).tolist() == [False, True, True, False]


def test_unlabelled_rows_are_in_neither_part_and_later_ones_wait() -> None:
    frame = daily()
    frame["y"] = frame["y"].astype("float")
    frame.loc[frame["x"] >= 36, "y"] = None  # the last four days have no label yet
    frame.loc[frame["x"] == 30, "y"] = None
    parts = split(frame)
    assert parts.eval["x"].tolist() == [26, 27, 28, 29, 31, 32, 33, 34, 35]
    assert parts.eval_window.end == pd.Timestamp("2020-02-05")
    assert 30 not in parts.train["x"].tolist() and parts.train["x"].max() == 25


@pytest.mark.parametrize(("need", "ok"), [(10, True), (11, False)])
def test_min_eval_rows_is_met_at_equality(need: int, ok: bool) -> None:
    if ok:
        assert len(split(daily(), min_eval_rows=need).eval) == need
        return
    with pytest.raises(SplitError) as err:
        split(daily(), min_eval_rows=need)
    assert err.value.field == "eval"
    assert err.value.reason == (
        "10 labelled rows in the last 10 days (after 2020-01-30 up to 2020-02-09), need at least 11"
    )


@pytest.mark.parametrize(("need", "ok"), [(20, True), (21, False)])
def test_min_train_rows_is_met_at_equality(need: int, ok: bool) -> None:
    if ok:
        assert len(split(daily(), min_train_rows=need).train) == need
        return
    with pytest.raises(SplitError) as err:
        split(daily(), min_train_rows=need)
    assert err.value.field == "train"
    assert str(err.value) == (
        "train: 20 labelled rows in the 20-day training window "
        "(after 2020-01-10 up to 2020-01-30), need at least 21"
    )


def test_missing_columns_and_no_labels_are_named() -> None:
    with pytest.raises(SplitError, match=r"^date: column missing$"):
        split(daily().drop(columns="date"))
    with pytest.raises(SplitError, match=r"^y: column missing$"):
        split(daily().drop(columns="y"))
    unlabelled = daily().assign(y=None)
    with pytest.raises(SplitError, match=r"^y: no labelled rows to split$"):
        split(unlabelled)
