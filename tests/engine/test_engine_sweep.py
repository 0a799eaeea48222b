"""``type: sweep`` jobs: real trial processes, MLflow child runs, early termination, best trial downstream."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import psutil
import pytest
import yaml
from mlflow.tracking import MlflowClient

from ctloop import paths
from ctloop.engine.sweep_space import parameter_sets, parse_sweep

SAMPLE = Path(__file__).parent / "samples" / "sweep_trials"


@pytest.fixture
def sample(tmp_path: Path, ctloop_home: Path) -> Path:
    root = tmp_path / "sweep_trials"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _trials(step: dict) -> list[dict]:
    return step["sweep"]["trials"]


def test_grid_sweep_runs_two_trials_at_a_time_and_feeds_the_best_trial_downstream(
    sample, cli, toy, tmp_path, monkeypatch
):
    trace = tmp_path / "sweep-trace"
    trace.mkdir()
    monkeypatch.setenv("SWEEP_TRACE_DIR", str(trace))
    result = cli("run", sample / "grid.yml")
    assert result.code == 0, result.out + result.err
    record = toy.record()
    tune = record["steps"]["tune"]
    assert [(t["params"], t["status"]) for t in _trials(tune)] == [
        ({"rank": 0}, "completed"),
        ({"rank": 1}, "completed"),
        ({"rank": 2}, "completed"),
    ]
    assert [t["metric"] for t in _trials(tune)] == pytest.approx([0.2, 0.9, 0.5])
    assert tune["sweep"]["best"] == 1 and tune["best_trial"]["params"] == {"rank": 1}
    assert tune["outputs"]["model"] == _trials(tune)[1]["outputs"]["model"]
    # the downstream step read the best trial's output
    report = Path(record["steps"]["consume"]["outputs"]["report"]) / "best.json"
    assert json.loads(report.read_text())["rank"] == 1
    # max_concurrent_trials 2: ranks 0 and 1 met while both ran, and no trial saw three alive
    assert (trace / "met-0").read_text() == "True" and (trace / "met-1").read_text() == "True"
    alive = [json.loads(p.read_text())["alive"] for p in trace.glob("seen-*.json")]
    assert len(alive) == 3 and max(alive) <= 2
    # every trial is an MLflow child run of the sweep's run, with its parameters and final metric
    client = MlflowClient(paths.tracking_uri())
    sweep_run = client.get_run(tune["mlflow_run_id"])
    assert sweep_run.data.metrics["score"] == pytest.approx(0.9)
    assert sweep_run.data.tags["best_child_run_id"] == tune["best_trial"]["mlflow_run_id"]
    for trial in _trials(tune):
        child = client.get_run(trial["mlflow_run_id"])
        assert child.data.tags["mlflow.parentRunId"] == sweep_run.info.run_id
        assert child.data.tags["ctloop.sweep.param.rank"] == str(trial["params"]["rank"])
        assert len(client.get_metric_history(child.info.run_id, "score")) == 3
    shown = cli("runs", "show", record["run_id"])
    assert "sweep tune: 3 trials, maximize score" in shown.out
    assert "best trial 1: score=0.9 params {'rank': 1}" in shown.out


def test_random_sweep_minimizes_over_seeded_draws_and_picks_the_best_of_the_trials_that_worked(
    sample, cli, toy
):
    result = cli("run", sample / "random.yml")
    assert result.code == 0, result.out + result.err
    tune = toy.record()["steps"]["tune"]
    spec = yaml.safe_load((sample / "random.yml").read_text())["jobs"]["tune"]
    drawn = list(parameter_sets(parse_sweep(spec)))
    assert [t["params"] for t in _trials(tune)] == drawn  # seed 1: the same draws every run
    modes = [d["mode"] for d in drawn]
    assert modes.count("fail") == 2 and modes.count("ok") == 2
    for trial, params in zip(_trials(tune), drawn, strict=True):
        if params["mode"] == "fail":
            assert trial["status"] == "failed" and trial["reason"] == "exit code 3"
            assert "fails on purpose" in Path(trial["log"]).read_text()
        else:
            assert trial["status"] == "completed"
            assert trial["metric"] == pytest.approx(0.2 + abs(params["x"] - 0.3))
    ok = [t for t in _trials(tune) if t["status"] == "completed"]
    best = min(ok, key=lambda t: t["metric"])
    assert tune["sweep"]["best"] == best["trial"]
    report = json.loads(
        (Path(toy.record()["steps"]["consume"]["outputs"]["report"]) / "best.json").read_text()
    )
    assert report["x"] == pytest.approx(best["params"]["x"])


def test_a_sweep_whose_trials_all_fail_fails_with_one_clear_line_and_skips_downstream(sample, cli, toy):
    yml = sample / "random.yml"
    yml.write_text(yml.read_text().replace("values: [ok, fail]", "values: [fail]"))
    result = cli("run", yml)
    assert result.code == 1
    steps = toy.record()["steps"]
    assert steps["tune"]["status"] == "failed"
    assert steps["tune"]["reason"] == (
        "no trial completed with metric 'score' (4 failed); trial 0: exit code 3"
    )
    assert [t["status"] for t in _trials(steps["tune"])] == ["failed"] * 4
    assert steps["consume"]["status"] == "skipped"


def test_bandit_policy_terminates_a_bad_trial_and_its_process_is_gone(sample, cli, toy):
    result = cli("run", sample / "bandit.yml")
    assert result.code == 0, result.out + result.err
    tune = toy.record()["steps"]["tune"]
    good, bad = _trials(tune)
    assert good["status"] == "completed" and tune["sweep"]["best"] == good["trial"]
    # the bad trial never ends by itself (it waits for a signal): only the policy stopped it
    assert bad["status"] == "terminated"
    # judged at whichever interval the poll first saw (it depends on how fast the trials log), always
    # against the good trial's value at that same interval: 0.2 * interval / 3
    reason = r"early termination: bandit at interval (\d): 0\.01 against best ([\d.]+)"
    judged = re.match(reason, bad["reason"])
    assert judged, bad["reason"]
    point = int(judged.group(1))
    assert 1 <= point <= 3 and float(judged.group(2)) == pytest.approx(0.2 * point / 3, abs=1e-6)
    pid = json.loads((Path(bad["outputs"]["model"]) / "params.json").read_text())["pid"]
    assert not psutil.pid_exists(pid)
    client = MlflowClient(paths.tracking_uri())
    assert client.get_run(bad["mlflow_run_id"]).info.status == "KILLED"


def test_a_sweep_needs_mlflow_and_says_so_in_one_line(sample, cli, toy):
    for _ in range(2):  # the second run reads the checked spec back from the memo
        result = cli("run", sample / "grid.yml", "--no-mlflow")
        assert result.code == 1
        steps = toy.record()["steps"]
        assert steps["tune"]["reason"] == (
            "a sweep reads objective.primary_metric from MLflow: run the pipeline without --no-mlflow"
        )
        assert steps["consume"]["status"] == "skipped"
        assert not (toy.home / "runs" / toy.record()["run_id"] / "work" / "tune").exists()  # no trial ran
    assert len(toy.runs()) == 2


@pytest.mark.parametrize(
    ("old", "new", "field", "reason"),
    [
        ("      rank:\n", "      depth:\n", "jobs.tune.search_space.depth", "names no input 'depth'"),
        ("sampling_algorithm: grid", "sampling_algorithm: sobol", "jobs.tune.sampling_algorithm", "unknown"),
        (
            "type: choice\n        values: [0, 1, 2]",
            "type: uniform\n        min_value: 0",
            "max_value",
            "needs",
        ),
        ("goal: maximize", "goal: up", "jobs.tune.objective.goal", "maximize or minimize"),
        ("trial: ./trial.yml", "trial: ./missing.yml", "jobs.tune.component", "not found"),
    ],
)
def test_bad_sweep_settings_are_one_line_naming_file_field_and_reason(
    sample, cli, toy, old, new, field, reason
):
    yml = sample / "grid.yml"
    text = yml.read_text()
    assert old in text
    yml.write_text(text.replace(old, new))
    result = cli("run", yml)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if "grid.yml:" in line]
    assert lines and field in lines[0] and reason in lines[0], result.err
    assert not toy.runs()  # nothing ran


def test_the_sweep_timeout_stops_running_trials_and_fails_when_none_completed(sample, cli, toy):
    yml = sample / "bandit.yml"
    text = yml.read_text().replace("values: [ok, bad]", "values: [bad]")
    text = text.replace("max_total_trials: 2", "max_total_trials: 1\n      timeout: 1")
    yml.write_text(text)
    result = cli("run", yml)
    assert result.code == 1
    tune = toy.record()["steps"]["tune"]
    # the bad trial never ends by itself: only limits.timeout stopped it
    assert tune["reason"] == (
        "no trial completed with metric 'score' (1 interrupted); "
        "trial 0: the sweep reached limits.timeout (1s)"
    )
