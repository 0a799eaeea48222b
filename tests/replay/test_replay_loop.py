"""A small replay through the real loop: logs, late labels, monitor, triggers, in-process pipeline, registry.

The stream is a user's own time-ordered file: the bundled rainfall warm-up, one ordinary year,
then one year taken from the drifted decades (re-dated to follow on). The loop must leave the
champion alone after the ordinary year and retrain after the drifted one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ctloop import datasets
from ctloop.monitor.history import History
from ctloop.replay.compare import format_table, replay

pytestmark = pytest.mark.xdist_group("replay-loop")  # one worker builds the module's replay once

WARMUP = 4015  # data.yml split: train_days 3650 + eval_days 365
YEAR = 365


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("replay")
    frame = datasets.load("rainfall")
    normal = frame.iloc[: WARMUP + YEAR]
    drifted = frame.iloc[15000 : 15000 + YEAR].copy()
    drifted["date"] = pd.date_range(normal["date"].iloc[-1] + pd.Timedelta(days=1), periods=YEAR, freq="D")
    path = root / "my-stream.csv"
    pd.concat([normal, drifted], ignore_index=True).to_csv(path, index=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("CTLOOP_HOME", str(root / "home"))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        repo = Path(__file__).resolve().parents[2]
        report = replay(
            str(path),
            repo / "policies",
            repo / "pipelines/training.yml",
            root / "out",
            compare=True,
            batch_days=YEAR,
            workers=1,
        )
    finally:
        mp.undo()
    report["_root"] = str(root)
    return report


def test_loop_retrains_on_the_drifted_batch_only(result: dict) -> None:
    trigger = result["policies"]["trigger"]
    batches = [r["batch"] for r in trigger["retrains"]]
    assert batches == [-1, 1], trigger["retrains"]  # bootstrap, then only after the drifted year
    first, drifted = trigger["retrains"]
    assert first["fired"] == ["no_champion"] and first["promoted"] and first["status"] == "completed"
    assert "performance_drop" in drifted["fired"] and drifted["status"] == "completed"
    # the drifted year is scored by the first champion, and scored badly
    scores = [b["metric"] for b in trigger["batches"]]
    assert scores[0] > 0.75 and scores[1] < scores[0] - 0.2


def test_history_records_windows_checks_and_retrains(result: dict) -> None:
    history = History(result["trigger_history"])
    windows = history.windows("replay")
    assert len(windows) == 2
    first = windows[0].metrics
    assert (
        first["requests"] == YEAR and first["labels_matched"] >= YEAR - 1
    )  # the last label arrives a day late
    second = windows[1].metrics  # includes the first year's last label, which arrived a day late
    assert (second["labels_arrived"], second["labels_matched"], second["labels_unmatched"]) == (YEAR, YEAR, 0)
    kinds = [e.kind for e in history.events("replay")]
    assert kinds.count("trigger_check") == 3 and kinds.count("retrain") == 2
    assert kinds.count("promote") == kinds.count("deploy") >= 1
    check = [e for e in history.events("replay", "trigger_check")][1]
    assert check.detail["decision"]["retrain"] is False


def test_baselines_run_the_same_stream(result: dict) -> None:
    table = {row["policy"]: row for row in result["table"]}
    assert set(table) == {"trigger", "never", "every", "fixed"}
    assert table["never"]["retrains"] == 0 and table["every"]["retrains"] == 2
    assert table["never"]["mean_metric"] == pytest.approx(
        table["trigger"]["mean_metric"]
    )  # same champion until the end
    saved = json.loads((Path(result["_root"]) / "out" / "replay.json").read_text())
    assert saved["table"] == result["table"]
    text = format_table(result)
    assert "trigger" in text and "every" in text and "wall time" in text


def test_a_bad_dataset_names_file_and_field(tmp_path: Path) -> None:
    from ctloop.replay.stream import StreamError

    bad = tmp_path / "bad.csv"
    pd.DataFrame({"date": ["2020-01-01"], "rain": [1]}).to_csv(bad, index=False)
    repo = Path(__file__).resolve().parents[2]
    with pytest.raises(StreamError) as info:
        replay(str(bad), repo / "policies", repo / "pipelines/training.yml", tmp_path / "out", workers=1)
    assert info.value.field == "temperature" and "bad.csv" in info.value.file


def test_replay_refuses_to_clear_a_folder_it_did_not_write(tmp_path: Path) -> None:
    from ctloop.replay.compare import ReplayError

    keep = tmp_path / "precious.txt"
    keep.write_text("mine")
    repo = Path(__file__).resolve().parents[2]
    with pytest.raises(ReplayError, match="not empty"):
        replay("rainfall", repo / "policies", repo / "pipelines/training.yml", tmp_path, workers=1)
    assert keep.read_text() == "mine"


def test_the_fired_triggers_reach_the_pipeline_and_prep_trains_the_recent_candidate(result: dict) -> None:
    home = Path(result["trigger_history"]).parents[1]
    first, drifted = sorted(home.glob("work/retrain-*/prep/recent"))  # the bootstrap, the drifted year
    note = json.loads((first / "no_candidate.json").read_text())
    assert note["triggers"] == ["no_champion"] and "none of" in note["reason"]
    fired = result["policies"]["trigger"]["retrains"][1]["fired"]
    # a change trigger fired: a recent candidate, judged on the pipeline's year (a half-year of
    # daily rows is under the gate's min_eval_rows)
    assert not (drifted / "no_candidate.json").exists()
    assert json.loads((drifted / "manifest.json").read_text())["triggers"] == fired
