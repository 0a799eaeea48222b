"""ingest -> validate_data -> prep on real rainfall batches, and every bad batch fixture.

The happy path and two failures run the steps as real subprocesses (``python -m ctloop.steps.x``);
the fixture matrix calls the same ``main(argv)`` in-process to stay fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from data_helpers import BATCH_FIXTURES, POLICIES, read_json, write_reference

from ctloop.data_commands import write_landing
from ctloop.steps import ingest, prep, validate_data
from ctloop.tabular import read_dataset


@pytest.fixture
def reference(rainfall, tmp_path) -> Path:
    """A drift reference like a champion's: a sample of the 1970s."""
    decade = rainfall[(rainfall["date"] >= "1970-01-01") & (rainfall["date"] < "1980-01-01")]
    return write_reference(
        decade.sample(2000, random_state=0), tmp_path / "model" / "ctloop" / "reference.parquet"
    )


def test_data_steps_as_subprocesses(run_step, tmp_path, reference):
    landing = tmp_path / "landing"
    files, rows, first, last = write_landing("rainfall", "1985-12-31", "1980-01-01", landing, "month")
    assert (files, rows, first, last) == (72, 2192, "1980-01-01", "1985-12-31")

    done = run_step(
        "ingest", "--landing", landing, "--dataset", "rainfall", "--policies", POLICIES, "--data", "data"
    )
    assert done.returncode == 0, done.stderr
    frame, manifest = read_dataset(tmp_path / "data")
    assert manifest["rows"] == 2192 and manifest["source"] == "landing"
    assert manifest["time_range"] == ["1980-01-01", "1985-12-31"] and frame["date"].is_monotonic_increasing
    assert len(manifest["batches"]) == 72 and manifest["batches"][0]["file"] == "rainfall-1980-01.parquet"
    assert all(len(b["sha256"]) == 64 and b["rows"] in (28, 29, 30, 31) for b in manifest["batches"])

    done = run_step(
        "validate_data",
        *("--data", "data", "--policies", POLICIES, "--model_name", "rainfall-classifier"),
        *("--reference", reference.parent.parent, "--report", "report"),
    )
    assert done.returncode == 0, done.stderr
    report = read_json(tmp_path / "report" / "report.json")
    assert report["status"] == "passed" and report["failures"] == []
    assert {c["check"] for c in report["checks"]} >= {"required_columns", "dtypes", "missing", "label"}
    assert report["dataset"]["content_hash"] == manifest["content_hash"]
    assert report["drift"]["status"] == "computed" and len(report["drift"]["table"]) == 8
    assert report["drift"]["current"]["window"] == ["1985-01-01", "1985-12-31"]
    assert report["drift"]["reference"]["rows"] == 2000

    done = run_step(
        "prep",
        "--data",
        "data",
        "--report",
        "report",
        "--policies",
        POLICIES,
        "--train",
        "train",
        "--eval",
        "eval",
    )
    assert done.returncode == 0, done.stderr
    train, train_manifest = read_dataset(tmp_path / "train")
    evaluation, eval_manifest = read_dataset(tmp_path / "eval")
    assert eval_manifest["time_range"] == ["1985-01-01", "1985-12-31"] and len(evaluation) == 365
    assert train_manifest["time_range"] == ["1980-01-01", "1984-12-31"] and len(train) == 1827
    assert train_manifest["parent"]["content_hash"] == manifest["content_hash"]
    assert train_manifest["features"] == manifest["features"] and train_manifest["label"] == "rain"


def test_unreadable_batch_fails_ingest_subprocess(run_step, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(BATCH_FIXTURES / "unreadable.parquet", landing)
    done = run_step("ingest", "--landing", landing, "--policies", POLICIES, "--data", "data")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "ingest: unreadable.parquet: <file>: cannot read as Parquet: Parquet magic bytes"
    )
    assert "Traceback" not in done.stderr
    rejected = read_json(tmp_path / "data" / "rejected.json")
    assert [r["file"] for r in rejected["rejected"]] == ["unreadable.parquet"]
    assert not (tmp_path / "data" / "data.parquet").exists()


def test_too_few_rows_fails_validate_subprocess(run_step, tmp_path, reference):
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copy(BATCH_FIXTURES / "too_few_rows.parquet", landing)
    assert run_ingest(landing, tmp_path / "data") == 0
    done = run_step(
        "validate_data",
        *("--data", "data", "--policies", POLICIES, "--model_name", "m", "--reference", reference),
        *("--report", "report"),
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == ["validate_data: min_rows: 200 rows, need at least 1095"]
    report = read_json(tmp_path / "report" / "report.json")
    assert report["status"] == "failed"
    assert report["failures"] == [{"field": "min_rows", "reason": "200 rows, need at least 1095"}]


# --- in-process: the same main() the subprocess runs -------------------------------------------


def run_ingest(landing: Path, out: Path, policies: Path = POLICIES) -> int:
    return ingest.main(["--landing", str(landing), "--policies", str(policies), "--data", str(out)])


def run_validate(data: Path, report: Path, reference: Path | None, policies: Path = POLICIES) -> int:
    args = ["--data", str(data), "--policies", str(policies), "--model_name", "m", "--report", str(report)]
    return validate_data.main(args + (["--reference", str(reference)] if reference else []))


FIXTURES = [
    ("missing_column.parquet", "temperature: required column missing", "required_columns"),
    (
        "wrong_dtype.csv",
        "dew_point: expected numeric, found str (e.g. '-1,0726') (decimal comma? write numbers with '.')",
        "dtypes",
    ),
    ("all_nan_column.parquet", "visibility: all 1100 values missing, above the 20.0% allowed", "missing"),
    ("header_only.csv", "<rows>: batch holds no rows (header only)", "batches"),
    ("non_binary_label.parquet", "rain: not binary: ", "label"),
    ("out_of_range.parquet", "temperature: 1070 of 1100 values (97.27%) outside [-10, 10]", "value_ranges"),
    (
        "duplicate_keys.parquet",
        "date: 10 key value(s) occur more than once (20 rows; first: date=1965-01-01)",
        "duplicate_keys",
    ),
]


@pytest.mark.parametrize(("fixture", "reason", "check"), FIXTURES, ids=[f[0] for f in FIXTURES])
def test_bad_batch_is_rejected_at_ingest_with_its_reason(isolated, capsys, fixture, reason, check):
    landing = isolated / "landing"
    landing.mkdir()
    shutil.copy(BATCH_FIXTURES / fixture, landing)
    assert run_ingest(landing, isolated / "data") == 1
    lines = capsys.readouterr().err.splitlines()
    assert any(line.startswith(f"ingest: {fixture}: {reason}") for line in lines), lines
    rejected = read_json(isolated / "data" / "rejected.json")["rejected"]
    assert [r["file"] for r in rejected] == [fixture]
    assert check in {p["check"] for p in rejected[0]["problems"]}
    assert not (isolated / "data" / "data.parquet").exists()


def test_ingest_uses_the_bundled_dataset_when_landing_is_empty(isolated, capsys):
    landing = isolated / "landing"
    landing.mkdir()
    (landing / ".keep").write_text("hidden files are not batches")
    assert run_ingest(landing, isolated / "data") == 0
    _, manifest = read_dataset(isolated / "data")
    assert (manifest["source"], manifest["rows"], manifest["batches"]) == ("bundled:rainfall", 18159, [])
    assert "18159 rows from bundled:rainfall" in capsys.readouterr().out


def test_unknown_bundled_dataset(isolated, capsys):
    (isolated / "landing").mkdir()
    assert (
        ingest.main(
            ["--landing", "landing", "--dataset", "weather", "--policies", str(POLICIES), "--data", "d"]
        )
        == 1
    )
    assert (
        "ingest: dataset: landing folder landing holds no batch and unknown bundled dataset"
        in capsys.readouterr().err
    )


def _redelivery(rainfall: pd.DataFrame, landing: Path, start: int = -20) -> pd.DataFrame:
    """Four years delivered, then a correction of 10 rows from ``start`` rows before the end."""
    landing.mkdir()
    years = rainfall[(rainfall["date"] >= "1960-01-01") & (rainfall["date"] < "1964-01-01")]
    years.to_parquet(landing / "2024-01-05-delivery.parquet", index=False)
    corrected = years.iloc[start : start + 10].assign(temperature=1.5)
    corrected.to_csv(landing / "2024-02-01-correction.csv", index=False)
    return corrected


def test_redelivered_rows_from_the_later_batch_win(isolated, rainfall):
    corrected = _redelivery(rainfall, isolated / "landing")
    assert run_ingest(isolated / "landing", isolated / "data") == 0
    frame, manifest = read_dataset(isolated / "data")
    assert manifest["duplicates_replaced"] == 10 and len(frame) == 1461
    fixed = frame.set_index("date").loc[corrected["date"], "temperature"]
    assert (fixed == 1.5).all() and frame["date"].is_unique
    assert [b["file"] for b in manifest["batches"]] == [
        "2024-01-05-delivery.parquet",
        "2024-02-01-correction.csv",
    ]


def test_back_dated_batch_cannot_overwrite_immutable_history(isolated, rainfall, capsys):
    _redelivery(rainfall, isolated / "landing", start=100)  # April 1960: years before the newest data
    assert run_ingest(isolated / "landing", isolated / "data") == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "ingest: 2024-02-01-correction.csv: date: 10 row(s) would overwrite history older than 1963-11-01 "
        "(first: 1960-04-10); policy ingest.revisable_days is 60"
    )
    rejected = read_json(isolated / "data" / "rejected.json")["rejected"]
    assert [r["file"] for r in rejected] == ["2024-02-01-correction.csv"]


def test_duplicate_policy_fail_stops_ingest(isolated, rainfall, policy_copy, capsys):
    _redelivery(rainfall, isolated / "landing")
    strict = policy_copy(lambda d: d["ingest"].update(duplicate_keys="fail"))
    assert run_ingest(isolated / "landing", isolated / "data", strict) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "ingest: 2024-02-01-correction.csv: date: 10 key(s) already delivered by an earlier batch "
        "(first: date=1963-12-12"
    )
    assert "policy ingest.duplicate_keys is 'fail'" in err
    assert not (isolated / "data" / "data.parquet").exists()


def test_drift_fails_only_with_a_fail_threshold(isolated, rainfall, policy_copy, capsys):
    late = rainfall[rainfall["date"] >= "1990-01-01"]
    late.to_parquet((isolated / "late.parquet"), index=False)
    (isolated / "landing").mkdir()
    shutil.move(isolated / "late.parquet", isolated / "landing" / "late.parquet")
    assert run_ingest(isolated / "landing", isolated / "data") == 0
    early = write_reference(rainfall.iloc[:3650], isolated / "ref" / "reference.parquet")
    assert run_validate(isolated / "data", isolated / "r1", early) == 0
    report = read_json(isolated / "r1" / "report.json")
    assert "dew_point" in {w["feature"] for w in report["drift"]["warnings"]}
    assert report["drift"]["summary"]["features_warned"] >= 2
    strict = policy_copy(lambda d: d["drift"].update(fail={"numerical": {"normalized_wasserstein": 0.5}}))
    capsys.readouterr()
    assert run_validate(isolated / "data", isolated / "r2", early, strict) == 1
    err = capsys.readouterr().err.splitlines()
    assert err and all("beyond the fail threshold 0.5" in line for line in err)
    assert "validate_data: dew_point: drift normalized_wasserstein" in "\n".join(err)


def test_dataset_without_time_column_fails_cleanly(isolated, rainfall, reference, capsys):
    from ctloop.tabular import write_dataset

    frame = rainfall.iloc[:1200].rename(columns={"date": "day"})
    write_dataset(frame, isolated / "data", name="r", time_column="day", source="test")
    assert run_validate(isolated / "data", isolated / "report", reference) == 1
    assert "validate_data: date: required column missing" in capsys.readouterr().err
    report = read_json(isolated / "report" / "report.json")
    assert report["drift"]["status"] == "no comparable data"


def test_validate_writes_a_report_even_when_the_data_is_unreadable(isolated, capsys):
    assert run_validate(isolated / "nothing", isolated / "report", None) == 1
    report = read_json(isolated / "report" / "report.json")
    assert report["status"] == "failed" and "manifest.json missing" in report["failures"][0]["reason"]
    assert "validate_data: " in capsys.readouterr().err


def test_prep_refuses_failed_or_foreign_reports_and_small_windows(
    isolated, rainfall, reference, policy_copy, capsys
):
    landing = isolated / "landing"
    write_landing("rainfall", "1985-12-31", "1983-01-01", landing, "year")
    assert run_ingest(landing, isolated / "data") == 0
    assert run_validate(isolated / "data", isolated / "report", reference) == 0

    def run_prep(report: Path, policies: Path = POLICIES) -> int:
        return prep.main(
            [
                *("--data", str(isolated / "data"), "--report", str(report), "--policies", str(policies)),
                *("--train", str(isolated / "train"), "--eval", str(isolated / "eval")),
            ]
        )

    capsys.readouterr()
    failed = isolated / "failed"
    failed.mkdir()
    (failed / "report.json").write_text('{"status": "failed", "failures": [{"field": "x", "reason": "y"}]}')
    assert run_prep(failed) == 1
    assert "prep: report: " in (err := capsys.readouterr().err) and "validation status is 'failed'" in err

    other = isolated / "other"
    other.mkdir()
    passed = read_json(isolated / "report" / "report.json")
    passed["dataset"]["content_hash"] = "0" * 64
    (other / "report.json").write_text(json.dumps(passed))
    assert run_prep(other) == 1
    assert "the report checked data 000000000000" in capsys.readouterr().err

    longer = policy_copy(lambda d: d["split"].update(min_train_rows=1000))
    assert run_prep(isolated / "report", longer) == 1
    err = capsys.readouterr().err
    assert err.startswith("prep: train: 731 labelled rows in the 3650-day training window")
    assert not (isolated / "train").exists()


def test_steps_and_pure_modules_import_no_platform_glue():
    """The import contract of docs/architecture.md, checked in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import ctloop.steps.ingest, ctloop.steps.validate_data, ctloop.steps.prep\n"
        "import ctloop.drift, ctloop.contracts, ctloop.splits, ctloop.tabular, ctloop.datasets\n"
        "bad = ('azure.ai.ml', 'pulumi', 'ctloop.engine', 'ctloop.azure', 'ctloop.rollout', 'ctloop.cli',"
        " 'mlflow')\n"
        "print(sorted(m for m in sys.modules if m.startswith(bad)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
