"""Per-batch contract, reader errors and quarantine, with one deliberately bad month among good ones.

Every case lands three real months of rainfall (1960-01..03) plus one defective batch, runs the
ingest step's ``main`` and checks: exit 1, one line naming the batch file and the column, no
traceback, only that batch in ``rejected.json``. The quarantine then moves it away and the next
ingest proceeds with the good months.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_helpers import POLICIES, read_json

from ctloop import data_commands, quarantine
from ctloop.steps import ingest

GOOD = ("1960-01", "1960-02", "1960-03")


def month(rainfall: pd.DataFrame, period: str) -> pd.DataFrame:
    return rainfall[rainfall["date"].dt.to_period("M") == pd.Period(period)].reset_index(drop=True)


def land_good(rainfall: pd.DataFrame, landing: Path) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    for period in GOOD:
        month(rainfall, period).to_parquet(landing / f"rainfall-{period}.parquet", index=False)


def _nan_share(share: float) -> Callable[[pd.DataFrame, Path], str]:
    def make(frame: pd.DataFrame, folder: Path) -> str:
        rows = round(len(frame) * share)
        frame.loc[: rows - 1, "dew_point"] = np.nan
        frame.to_parquet(folder / "rainfall-1960-04.parquet", index=False)
        return "rainfall-1960-04.parquet"

    return make


def _values(column: str, values: list[float]) -> Callable[[pd.DataFrame, Path], str]:
    def make(frame: pd.DataFrame, folder: Path) -> str:
        frame.loc[: len(values) - 1, column] = values
        frame.to_parquet(folder / "rainfall-1960-04.parquet", index=False)
        return "rainfall-1960-04.parquet"

    return make


def _all_rain(frame: pd.DataFrame, folder: Path) -> str:
    frame.assign(rain=1).to_parquet(folder / "rainfall-1960-04.parquet", index=False)
    return "rainfall-1960-04.parquet"


def _yes_no(frame: pd.DataFrame, folder: Path) -> str:
    frame.assign(rain=frame["rain"].map({0: "no", 1: "yes"})).to_csv(
        folder / "rainfall-1960-04.csv", index=False
    )
    return "rainfall-1960-04.csv"


def _numbers_as_text(frame: pd.DataFrame, folder: Path) -> str:
    frame.assign(temperature=frame["temperature"].map(lambda v: f"{v:.3f}")).to_parquet(
        folder / "rainfall-1960-04.parquet", index=False
    )
    return "rainfall-1960-04.parquet"


def _semicolons(frame: pd.DataFrame, folder: Path) -> str:
    frame.to_csv(folder / "rainfall-1960-04.csv", index=False, sep=";")
    return "rainfall-1960-04.csv"


def _latin1(frame: pd.DataFrame, folder: Path) -> str:
    text = frame.rename(columns={"visibility": "visibilité"}).to_csv(index=False)
    (folder / "rainfall-1960-04.csv").write_bytes(text.encode("latin-1"))
    return "rainfall-1960-04.csv"


def _noon_rows(frame: pd.DataFrame, folder: Path) -> str:
    """Rows at 12:00 on days already delivered in February, with flipped labels."""
    noon = frame.head(0)
    feb = month(pd.read_parquet(folder / "rainfall-1960-02.parquet"), "1960-02").head(10)
    noon = feb.assign(date=feb["date"] + pd.Timedelta(hours=12), rain=1 - feb["rain"])
    noon.to_parquet(folder / "rainfall-1960-02-noon.parquet", index=False)
    return "rainfall-1960-02-noon.parquet"


def _text_file(frame: pd.DataFrame, folder: Path) -> str:
    frame.to_csv(folder / "rainfall-1960-04.txt", index=False)
    return "rainfall-1960-04.txt"


def _truncated_gzip(frame: pd.DataFrame, folder: Path) -> str:
    data = gzip.compress(frame.to_csv(index=False).encode())
    (folder / "rainfall-1960-04.csv.gz").write_bytes(data[: len(data) // 2])
    return "rainfall-1960-04.csv.gz"


CASES = [
    ("all-nan feature", _nan_share(1.0), "dew_point: all 30 values missing, above the 20.0% allowed"),
    ("40% nan", _nan_share(0.4), "dew_point: 40.0% missing, above the 20.0% allowed"),
    ("one label class", _all_rain, "rain: class 0 is 0.0% of labelled rows, below the 5.0% floor"),
    ("three 1e300", _values("sea_level_pressure", [1e300, -1e300, 1e300]), "sea_level_pressure: 3 value(s)"),
    ("three inf", _values("visibility", [np.inf, -np.inf, np.inf]), "visibility: 3 value(s) infinite"),
    ("labels yes/no", _yes_no, "rain: expected numeric, found str (e.g. 'yes')"),
    ("numbers as text", _numbers_as_text, "temperature: expected numeric, found str (numbers stored as text"),
    ("semicolon csv", _semicolons, "<header>: one column named with ';'"),
    ("not utf-8", _latin1, "<file>: cannot read as CSV: not UTF-8 text"),
    (
        "noon on a day key",
        _noon_rows,
        "date: 10 value(s) finer than the key's day grain (first: 1960-02-01T12:00:00)",
    ),
    ("unknown extension", _text_file, "<file>: unsupported extension '.txt' (use .parquet, .csv or .csv.gz)"),
    ("truncated gzip", _truncated_gzip, "<file>: cannot read as CSV: "),
]


@pytest.mark.parametrize(("case", "make", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_batch_is_named_and_rejected_alone(isolated, rainfall, capsys, case, make, reason):
    landing = isolated / "landing"
    land_good(rainfall, landing)
    bad = make(month(rainfall, "1960-04"), landing)
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", "data"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    assert first.startswith(f"ingest: {bad}: {reason}"), err
    assert err.splitlines()[-1] == "ingest: quarantine: 1 batch(es) rejected, 3 kept for the next run"
    rejected = read_json(isolated / "data" / "rejected.json")
    assert [r["file"] for r in rejected["rejected"]] == [bad]
    assert not (isolated / "data" / "data.parquet").exists()


def test_gzip_csv_batches_are_read(isolated, rainfall):
    landing = isolated / "landing"
    land_good(rainfall, landing)
    april = month(rainfall, "1960-04")
    (landing / "rainfall-1960-04.csv.gz").write_bytes(gzip.compress(april.to_csv(index=False).encode()))
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", "data"]) == 0
    manifest = read_json(isolated / "data" / "manifest.json")
    assert manifest["rows"] == 31 + 29 + 31 + 30
    assert manifest["batches"][-1]["file"] == "rainfall-1960-04.csv.gz"


def test_a_rainless_month_is_real_data_not_a_broken_feed(isolated, rainfall):
    landing = isolated / "landing"
    land_good(rainfall, landing)
    month(rainfall, "1960-04").assign(rain=0).to_parquet(landing / "rainfall-1960-04.parquet", index=False)
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", "data"]) == 0


def run_cli(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="ctloop")
    data_commands.register(parser.add_subparsers(dest="verb"))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_quarantine_moves_the_bad_batch_and_the_next_run_proceeds(isolated, rainfall, capsys):
    landing = isolated / "data" / "landing"
    land_good(rainfall, landing)
    bad = _all_rain(month(rainfall, "1960-04"), landing)
    (landing / "notes.txt").write_text("not a batch")
    out = isolated / "run-1" / "outputs" / "ingest" / "data"
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", str(out)]) == 1

    moved = quarantine.quarantine_run(isolated / "run-1", "run-1")
    root = isolated / "data" / "quarantine"
    assert sorted(m.file for m in moved) == sorted([bad, "notes.txt"])
    assert all(m.target and m.target.startswith(str(root / "run-1")) for m in moved)
    assert sorted(p.name for p in landing.iterdir()) == [f"rainfall-{p}.parquet" for p in GOOD]
    report = read_json(root / "run-1" / "report.json")
    assert report["run_id"] == "run-1" and {b["file"] for b in report["batches"]} == {bad, "notes.txt"}
    assert (root / "run-1" / bad).is_file()

    # The next run proceeds with the good batches.
    capsys.readouterr()
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", "d2"]) == 0
    assert read_json(isolated / "d2" / "manifest.json")["rows"] == 31 + 29 + 31

    assert run_cli("data", "quarantine", "list", "--landing", str(landing)) == 0
    listing = capsys.readouterr().out
    assert f"run-1  {bad}  rain: class 0 is 0.0%" in listing and "run-1  notes.txt  <file>" in listing

    assert run_cli("data", "quarantine", "release", "run-1", "nope.csv", "--landing", str(landing)) == 2
    assert "not quarantined in run run-1: nope.csv" in capsys.readouterr().err
    assert run_cli("data", "quarantine", "release", "run-1", "notes.txt", "--landing", str(landing)) == 0
    assert (landing / "notes.txt").is_file() and not (root / "run-1" / "notes.txt").exists()
    assert [b["file"] for b in read_json(root / "run-1" / "report.json")["batches"]] == [bad]


def test_a_batch_changed_since_rejection_is_left_in_place(isolated, rainfall):
    landing = isolated / "landing"
    land_good(rainfall, landing)
    bad = _all_rain(month(rainfall, "1960-04"), landing)
    out = isolated / "run" / "outputs" / "ingest" / "data"
    assert ingest.main(["--landing", str(landing), "--policies", str(POLICIES), "--data", str(out)]) == 1
    month(rainfall, "1960-04").to_parquet(landing / bad, index=False)  # fixed in place meanwhile
    moved = quarantine.quarantine_run(isolated / "run", "run")
    assert [(m.file, m.target) for m in moved] == [(bad, None)]
    assert "changed since it was rejected" in moved[0].line()
    assert (landing / bad).is_file()
    assert not (isolated / "quarantine" / "run" / "report.json").exists()


def test_quarantine_list_is_empty_without_rejections(tmp_path, capsys):
    assert run_cli("data", "quarantine", "list", "--landing", str(tmp_path / "landing"), "--json") == 0
    assert json.loads(capsys.readouterr().out) == []
