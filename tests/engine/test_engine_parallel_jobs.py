"""``type: parallel`` jobs: mini-batches, worker processes, append_row, error thresholds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from ctloop.engine.parallel_run import mini_batches, parse_size

SAMPLE = Path(__file__).parent / "samples" / "parallel"


@pytest.fixture
def sample(tmp_path: Path, ctloop_home: Path) -> Path:
    root = tmp_path / "parallel"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_parallel_jobs_run_every_mini_batch_and_append_rows_in_order(sample, cli, toy):
    result = cli("run", sample / "pipeline.yml", "--no-mlflow")
    assert result.code == 0, result.out + result.err
    steps = toy.record()["steps"]
    scores = Path(steps["score_files"]["outputs"]["scores"]).read_text().splitlines()
    # mini-batch 0 ([bad.txt, doc1.txt]) raised: within mini_batch_error_threshold 1, its rows are lost
    assert scores == ["doc2.txt 20", "doc3.txt 30", "doc4.txt 40", "doc5.txt 50"]
    log = Path(steps["score_files"]["log"]).read_text()
    assert "3 mini-batches on 3 worker processes" in log and "2 mini-batches succeeded, 1 failed" in log
    rows = (Path(steps["score_table"]["outputs"]["rows"]) / "parallel_run_step.txt").read_text().splitlines()
    assert len(rows) == 200 and rows[7] == "7 14 21"  # a, b, c = a * factor 3
    assert "2 mini-batches" in Path(steps["score_table"]["log"]).read_text()  # 1kb of a ~1.5 kB table


def test_more_failed_mini_batches_than_the_threshold_fail_the_step(sample, cli, toy):
    yml = sample / "pipeline.yml"
    yml.write_text(yml.read_text().replace("mini_batch_error_threshold: 1", "mini_batch_error_threshold: 0"))
    result = cli("run", yml, "--no-mlflow")
    assert result.code == 1
    step = toy.record()["steps"]["score_files"]
    assert step["status"] == "failed"
    assert "exceed mini_batch_error_threshold 0" in Path(step["log"]).read_text()


def test_mini_batches_count_files_and_size_tables(tmp_path):
    for i in range(5):
        (tmp_path / "files").mkdir(exist_ok=True)
        (tmp_path / "files" / f"f{i}").write_text("x")
    assert [len(b) for b in mini_batches(tmp_path / "files", "2")] == [2, 2, 1]
    table = tmp_path / "t.csv"
    pd.DataFrame({"a": range(100)}).to_csv(table, index=False)
    size = table.stat().st_size
    batches = mini_batches(table, str(size // 4))
    assert sum(len(b) for b in batches) == 100 and 4 <= len(batches) <= 5
    assert parse_size("10kb") == (10240, True) and parse_size("3") == (3, False)
    with pytest.raises(ValueError, match="mini_batch_size"):
        parse_size("ten")
