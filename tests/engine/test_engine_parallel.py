"""Independent steps run at the same time, bounded by --max-parallel."""

from __future__ import annotations

import itertools
from datetime import datetime


def _interval(step: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(step["started"]), datetime.fromisoformat(step["finished"])


def test_independent_steps_overlap(toy, cli, tmp_path, monkeypatch):
    # one and two each wait until the other has started: they can only finish if they overlap
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    monkeypatch.setenv("TOY_BARRIER_DIR", str(barrier))
    monkeypatch.setenv("TOY_BARRIER_STEPS", "one,two")
    result = cli("run", toy.pipeline("parallel"), "--no-mlflow", "--max-parallel", "2")
    assert result.code == 0, result.err
    traces = {t["step"]: t for t in toy.traces()}
    one, two = traces["one"], traces["two"]
    assert one["start"] < two["end"] and two["start"] < one["end"]  # the steps' own timestamps overlap


def test_max_parallel_one_runs_steps_one_after_another(toy, cli):
    assert cli("run", toy.pipeline("parallel"), "--no-mlflow", "--max-parallel", "1").code == 0
    steps = toy.record()["steps"]
    intervals = sorted(_interval(s) for s in steps.values())
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end
    traces = sorted((t["start"], t["end"]) for t in toy.traces())
    for (_, end), (start, _) in itertools.pairwise(traces):
        assert start >= end


def test_max_parallel_must_be_positive(toy, cli, capsys):
    try:
        cli("run", toy.pipeline("parallel"), "--max-parallel", "0")
    except SystemExit as exc:  # argparse refuses it as a usage error
        assert exc.code == 2
    assert "not a positive integer" in capsys.readouterr().err
    assert not (toy.home / "runs").exists()
