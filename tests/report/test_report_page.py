"""``ctloop report`` writes a static page whose images load in a real (headless) browser."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from ctloop.cli import main
from ctloop.monitor.history import History, WindowRow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _history(path: Path) -> None:
    history = History(path)
    for i in range(12):
        start, end = (
            f"2024-{i + 1:02d}-01T00:00:00Z",
            f"2024-{i + 2:02d}-01T00:00:00Z" if i < 11 else "2025-01-01T00:00:00Z",
        )
        metrics = {
            "primary": 0.85 - 0.03 * (i % 6),
            "recent_primary": 0.84 - 0.02 * (i % 6),
            "drift_score": 0.05 * i,
            "prediction_drift": 0.02 * i,
            "labels_matched": 30,
        }
        history.append_window(WindowRow("endpoint", start, end, "now", "1", metrics))
    for month in (4, 9):
        when = f"2024-{month:02d}-02T06:00:00Z"
        history.append_event(
            "endpoint", when, "retrain", {"fired": ["drift"], "promoted": True, "fit_seconds": 1.5}
        )
        history.append_event("endpoint", when, "deploy", {"version": str(month)})


def _replay(path: Path, history: Path) -> None:
    batches = [
        {
            "batch": i,
            "start_row": 4015 + 90 * i,
            "end_row": 4105 + 90 * i,
            "start": f"1960-{i + 1:02d}-01",
            "end": "",
            "metric": 0.8,
            "accuracy": 0.8,
            "version": "1",
        }
        for i in range(6)
    ]
    policy = {"batches": batches, "retrains": [], "compute_seconds": 1.0, "wall_seconds": 1.0}
    table = [
        {
            "policy": p,
            "mean_metric": 0.8,
            "drifted_metric": None,
            "retrains": n,
            "promotions": 0,
            "compute_seconds": float(n),
            "wall_seconds": 1.0,
        }
        for p, n in (("trigger", 1), ("every", 6))
    ]
    path.write_text(
        json.dumps(
            {
                "dataset": "rainfall",
                "batch_days": 90,
                "batches": 6,
                "drifted_from_row": 4200,
                "primary_metric": "roc_auc",
                "wall_seconds": 3.0,
                "table": table,
                "policies": {"trigger": policy, "every": policy},
                "trigger_history": str(history),
                "thresholds": {"drift": {"enabled": True, "threshold": 0.3}},
            }
        )
    )


@pytest.fixture
def page(tmp_path: Path, repo_root: Path, ctloop_home: Path) -> Path:
    _history(tmp_path / "history.sqlite")
    _replay(tmp_path / "replay.json", tmp_path / "history.sqlite")
    code = main(
        [
            "report",
            "--history",
            str(tmp_path / "history.sqlite"),
            "--replay",
            str(tmp_path / "replay.json"),
            "--policies",
            str(repo_root / "policies"),
            "--out",
            str(tmp_path / "report"),
        ]
    )
    assert code == 0
    return tmp_path / "report" / "index.html"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_page_links_every_plot_and_the_replay_table(page: Path) -> None:
    text = page.read_text()
    images = re.findall(r'<img src="([^"]+)"', text)
    assert images == ["metric.png", "drift.png", "trainings.png", "compute.png", "replay.png"]
    for name in images:
        width, height = _png_size(page.parent / name)
        assert width >= 600 and height >= 200
    assert '<table id="replay-table">' in text and "<td>every</td>" in text
    assert "12 windows, 2 retrains, 2 deployments" in text


def test_report_without_any_source_fails_clearly(tmp_path: Path, ctloop_home: Path) -> None:
    from ctloop.report.page import ReportError, write_report

    with pytest.raises(ReportError, match="no metrics history and no replay"):
        write_report(history=tmp_path / "none.sqlite", replay=None, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_page_renders_with_images_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    cmd = [
        browser,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body is not None, done.stderr[-2000:]
    assert 'data-images-loaded="true"' in body.group(0), body.group(0)
    assert 'data-images-count="5"' in body.group(0)
