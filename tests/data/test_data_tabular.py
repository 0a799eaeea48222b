"""Dataset folders and landing batches: canonical writing, deterministic hashes, clear read errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from data_helpers import BATCH_FIXTURES

from ctloop import tabular
from ctloop.tabular import DataError

ROLES = {
    "time_column": "date",
    "key_columns": ["date"],
    "features": ["temperature", "dew_point"],
    "label": "rain",
}


@pytest.fixture
def year(rainfall) -> pd.DataFrame:
    return rainfall.iloc[:365][["date", "temperature", "dew_point", "rain"]].copy()


def test_round_trip_and_manifest(year, tmp_path):
    manifest = tabular.write_dataset(year, tmp_path / "ds", name="r", source="test", extra={"k": 1}, **ROLES)
    frame, read_back = tabular.read_dataset(tmp_path / "ds")
    pd.testing.assert_frame_equal(frame, year.reset_index(drop=True))
    assert read_back == manifest == json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["rows"] == 365 and manifest["time_range"] == ["1949-01-01", "1949-12-31"]
    assert manifest["columns"]["date"] == "datetime64[ns]" and manifest["k"] == 1
    assert manifest["content_hash"] == tabular.sha256_file(tmp_path / "ds" / "data.parquet")


def test_content_hash_ignores_row_and_column_order_but_not_content(year, tmp_path):
    first = tabular.write_dataset(year, tmp_path / "a", name="r", source="t", **ROLES)
    shuffled = year.sample(frac=1.0, random_state=3)[["rain", "dew_point", "date", "temperature"]]
    second = tabular.write_dataset(shuffled, tmp_path / "b", name="r", source="t", **ROLES)
    assert first["content_hash"] == second["content_hash"]
    changed = year.copy()
    changed.loc[10, "temperature"] += 0.001
    third = tabular.write_dataset(changed, tmp_path / "c", name="r", source="t", **ROLES)
    assert third["content_hash"] != first["content_hash"]


def test_tampered_or_incomplete_folders_are_refused(year, tmp_path):
    tabular.write_dataset(year, tmp_path / "ds", name="r", source="t", **ROLES)
    year.head(3).to_parquet(tmp_path / "ds" / "data.parquet")
    with pytest.raises(DataError, match="content_hash: data does not match"):
        tabular.read_dataset(tmp_path / "ds")
    with pytest.raises(DataError, match=r"manifest\.json missing"):
        tabular.read_dataset(tmp_path / "nothing")
    (tmp_path / "ds" / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        tabular.read_manifest(tmp_path / "ds")


def test_read_batch_csv_parses_iso_dates(year, tmp_path):
    path = tmp_path / "b.csv"
    year.to_csv(path, index=False)
    frame = tabular.read_batch(path, "date")
    assert str(frame["date"].dtype) == "datetime64[ns]"
    assert frame["date"].iloc[-1] == pd.Timestamp("1949-12-31")


def test_read_batch_errors_name_file_and_reason(year, tmp_path):
    bad_dates = year.astype({"date": str})
    bad_dates.loc[4, "date"] = "5th of January"
    bad_dates.to_csv(tmp_path / "dates.csv", index=False)
    with pytest.raises(
        DataError, match="date: 1 value\\(s\\) are not ISO dates \\(first: '5th of January'\\)"
    ):
        tabular.read_batch(tmp_path / "dates.csv", "date")
    year.drop(columns=["date"]).to_parquet(tmp_path / "no_time.parquet")
    with pytest.raises(DataError, match=r"no_time\.parquet: date: time column missing"):
        tabular.read_batch(tmp_path / "no_time.parquet", "date")
    with pytest.raises(DataError) as info:
        tabular.read_batch(BATCH_FIXTURES / "unreadable.parquet", "date")
    assert info.value.file.endswith("unreadable.parquet")
    assert info.value.reason.startswith("cannot read as Parquet: Parquet magic bytes not found")


def test_timezones_are_converted_to_naive_utc():
    text = pd.Series(["2020-01-01T01:00:00+01:00", "2020-01-02T00:00:00Z", "2020-01-03"])
    expected = [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-03")]
    assert tabular.parse_times(text, "f", "date").tolist() == expected
    aware = pd.Series(pd.date_range("2020-01-01 01:00", periods=2, freq="D", tz="Europe/Paris"))
    assert tabular.parse_times(aware, "f", "date").tolist() == expected[:2]


def test_list_batches_order_and_filters(tmp_path):
    for name in ["b/2.csv", "a.parquet", "b/10.parquet", ".hidden.csv", "README.md", ".tmp/x.csv", "c.CSV"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in tabular.list_batches(tmp_path)]
    assert found == ["a.parquet", "b/10.parquet", "b/2.csv", "c.CSV"]
    with pytest.raises(DataError, match="landing folder does not exist"):
        tabular.list_batches(tmp_path / "missing")
