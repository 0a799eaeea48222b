"""The monitor: windows, late labels joined by request id, metrics, and the append-only history."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from monitor_helpers import labels_frame, reference, request, write_requests

from ctloop import drift
from ctloop.monitor.history import History
from ctloop.monitor.labels import LabelError, LabelReader, read_labels, write_labels
from ctloop.monitor.logs import LogReader
from ctloop.monitor.service import Monitor
from ctloop.monitor.settings import load_settings


@pytest.fixture
def settings(repo_root: Path):
    base = load_settings(repo_root / "policies").monitor
    # small numbers so that a handful of rows in a test is enough
    return replace(
        base, min_labelled_rows=2, drift_min_rows=3, performance_lookback_days=30, drift_lookback_days=30
    )


def make_monitor(tmp_path: Path, settings, ref=None) -> Monitor:
    return Monitor(
        settings,
        History(tmp_path / "history.sqlite"),
        LogReader([tmp_path / "logs"]),
        LabelReader(tmp_path / "labels"),
        lambda: ref,
    )


def test_late_labels_join_in_the_window_they_arrive(tmp_path: Path, settings) -> None:
    logs = tmp_path / "logs"
    write_requests(
        logs,
        request("r1", "2024-01-01T09:00", [0.9]),
        request("r2", "2024-01-01T10:00", [0.2]),
        request("r3", "2024-01-01T11:00", [0.7, 0.1]),  # two rows in one request
        request("r4", "2024-01-02T09:00", [0.6]),
    )
    write_labels(
        tmp_path / "labels" / "day1.csv",
        labels_frame(
            [
                ("r1", 0, 1, "2024-01-01T20:00"),  # arrives the same day
                ("r3", 1, 0, "2024-01-01T21:00"),  # second row of r3
            ]
        ),
    )
    write_labels(
        tmp_path / "labels" / "day2.parquet",
        labels_frame(
            [
                ("r2", 0, 0, "2024-01-02T08:00"),  # prediction of day 1, label arrives on day 2
                ("r3", 0, 1, "2024-01-02T08:30"),
                ("ghost", 0, 1, "2024-01-02T09:00"),  # no such request
                ("r1", 0, 0, "2024-01-02T10:00"),  # a repeat: the first arrival counts
            ]
        ),
    )
    monitor = make_monitor(tmp_path, settings)
    rows = monitor.run("2024-01-03T00:00")
    assert [(r.window_start, r.window_end) for r in rows] == [
        ("2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        ("2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z"),
    ]
    day1, day2 = (r.metrics for r in rows)
    assert (day1["requests"], day1["rows_scored"]) == (3, 4)
    assert (day1["labels_arrived"], day1["labels_matched"], day1["labels_unmatched"]) == (2, 2, 0)
    # day 1: r1 (p=.9, y=1) and r3 row 1 (p=.1, y=0) -> both right
    assert day1["roc_auc"] == 1.0 and day1["accuracy"] == 1.0
    # day 2: r2 and r3 row 0 come from day-1 predictions; the ghost label matches nothing
    assert (day2["requests"], day2["labels_arrived"], day2["labels_matched"], day2["labels_unmatched"]) == (
        1,
        3,
        2,
        1,
    )
    assert day2["roc_auc"] == 1.0  # r3/0 p=.7 y=1 above r2 p=.2 y=0
    assert day2["labels_repeated_total"] == 1
    # the recent metric pools every label of the lookback: 4 labelled rows by the end of day 2
    assert day2["recent_labelled_rows"] == 4 and day2["recent_primary"] == 1.0
    # nothing new to record, and a later run only adds windows that closed since
    assert monitor.run("2024-01-03T12:00") == []
    assert len(make_monitor(tmp_path, settings).history.windows()) == 2


def test_traffic_metrics_and_errors(tmp_path: Path, settings) -> None:
    write_requests(
        tmp_path / "logs",
        *[request(f"ok{i}", "2024-03-05T10:00", [0.8], latency_ms=float(i + 1)) for i in range(100)],
        request("bad", "2024-03-05T11:00", [], status=500, latency_ms=2.0),
        request("client", "2024-03-05T11:30", [], status=400, latency_ms=1.0),
    )
    (row,) = make_monitor(tmp_path, settings).run("2024-03-06T00:00")
    m = row.metrics
    assert m["requests"] == 102 and m["rows_scored"] == 100
    assert m["error_rate"] == pytest.approx(1 / 102) and m["client_error_rate"] == pytest.approx(1 / 102)
    latencies = [float(i + 1) for i in range(100)] + [2.0, 1.0]
    assert m["latency_p50_ms"] == pytest.approx(np.percentile(latencies, 50))
    assert m["latency_p99_ms"] == pytest.approx(np.percentile(latencies, 99))
    assert m["confidence_mean"] == pytest.approx(0.8) and m["predicted_positive_rate"] == 1.0


def test_drift_goes_through_ctloop_drift(tmp_path: Path, settings) -> None:
    ref = reference()
    rng = np.random.default_rng(1)
    shifted = [
        {"a": float(v), "b": float(w)}
        for v, w in zip(rng.uniform(0.5, 1.5, 50), rng.uniform(0, 1, 50), strict=True)
    ]
    write_requests(tmp_path / "logs", request("x", "2024-05-01T10:00", [0.5] * 50, features=shifted))
    (row,) = make_monitor(tmp_path, settings, ref).run("2024-05-02")
    table = drift.feature_table(ref.frame, pd.DataFrame(shifted), ["a", "b"], bins=settings.drift_bins)
    expected = drift.overall_score(
        table, settings.drift_method, settings.drift_metric, threshold=settings.drift_feature_threshold
    )
    assert row.metrics["drift_score"] == pytest.approx(expected)
    assert row.metrics["drift_features"]["a"] > row.metrics["drift_features"]["b"]
    assert row.metrics["prediction_drift"] is not None and row.metrics["champion_version"] == "1"


def test_recent_metric_counts_only_the_champions_rows(tmp_path: Path, settings) -> None:
    write_requests(
        tmp_path / "logs",
        request("old1", "2024-02-01T10:00", [0.9], version="1"),
        request("old2", "2024-02-01T10:00", [0.1], version="1"),
        request("new1", "2024-02-01T12:00", [0.2], version="2"),
    )
    write_labels(
        tmp_path / "labels" / "l.csv",
        labels_frame(
            [
                ("old1", 0, 0, "2024-02-01T20:00"),
                ("old2", 0, 1, "2024-02-01T20:00"),
                ("new1", 0, 1, "2024-02-01T20:00"),
            ]
        ),
    )
    (row,) = make_monitor(tmp_path, settings, reference(version="2")).run("2024-02-02")
    assert row.metrics["labels_matched"] == 3
    assert row.metrics["recent_labelled_rows"] == 1  # only version 2's row
    assert row.metrics["recent_primary"] is None  # under min_labelled_rows


def test_bad_labels_file_names_file_and_field_and_writes_nothing(tmp_path: Path, settings) -> None:
    write_requests(tmp_path / "logs", request("r1", "2024-01-01T09:00", [0.9]))
    bad = tmp_path / "labels" / "bad.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("request_id,label,time\nr1,yes,2024-01-01T10:00\n")
    monitor = make_monitor(tmp_path, settings)
    with pytest.raises(LabelError) as info:
        monitor.run("2024-01-02")
    assert info.value.field == "label" and info.value.file.endswith("bad.csv")
    assert monitor.history.windows() == []
    bad.write_text("request_id,time\nr1,2024-01-01\n")
    with pytest.raises(LabelError, match=r"bad\.csv: label: required column missing"):
        read_labels(bad)


def test_reads_the_serving_collectors_own_logs(tmp_path: Path) -> None:
    from ctloop.serving.collector import RequestLog

    log = RequestLog(tmp_path / "logs", source="test", model_version="7")
    log.write(
        correlation_id="c1",
        x_request_id="x1",
        status=200,
        latency_ms=4.5,
        inputs=[{"a": 1.0}, {"a": 2.0}],
        outputs=[{"prediction": 1, "probability": 0.9}, {"prediction": 0, "probability": 0.3}],
    )
    log.write(
        correlation_id="c2",
        x_request_id="x2",
        status=413,
        latency_ms=0.5,
        inputs=[],
        outputs=None,
        reason="too large",
    )
    log.close()
    requests, scored = LogReader([tmp_path / "logs"]).read()
    assert sorted(requests["request_id"]) == ["c1", "c2"]
    assert dict(zip(requests["request_id"], requests["status"], strict=True)) == {"c1": 200, "c2": 413}
    assert list(scored["probability"]) == [0.9, 0.3] and list(scored["row"]) == [0, 1]
    assert set(scored["model_version"]) == {"7"} and not math.isnan(requests["latency_ms"].iloc[0])
