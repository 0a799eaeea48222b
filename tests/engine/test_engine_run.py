"""A toy pipeline through ``ctloop run``: results, order, environment, record, events, runs list/show."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

EVENT_FIELDS = {"time", "run", "step", "level", "message", "fields"}


def _value(path: str | Path) -> float:
    return float(Path(path, "value.txt").read_text())


def test_diamond_runs_every_step_in_order(toy, cli):
    result = cli("run", toy.pipeline("diamond"), "--no-mlflow")
    assert result.code == 0, result.err
    assert "[4/4]" in result.out and "completed" in result.out
    record = toy.record()
    assert record["status"] == "completed"
    steps = record["steps"]
    assert {s["status"] for s in steps.values()} == {"completed"}
    # seed folder holds 1 2 4, n = 3: source 10, left 10*2.5, right 10*10, merge the sum
    assert _value(steps["source"]["outputs"]["out"]) == 10
    assert _value(steps["left"]["outputs"]["out"]) == 25
    assert _value(steps["right"]["outputs"]["out"]) == 100
    assert _value(steps["merge"]["outputs"]["out"]) == 125
    assert steps["merge"]["output_metrics"] == {"out": {"value": 125.0}}
    # every edge: the consumer starts after the producer finished (engine timestamps)
    edges = [("source", "left"), ("source", "right"), ("left", "merge"), ("right", "merge")]
    for up, down in edges:
        assert datetime.fromisoformat(steps[down]["started"]) >= datetime.fromisoformat(steps[up]["finished"])
    for name, step in steps.items():
        log = Path(step["log"])
        assert log.is_file() and log.parent == toy.runs()[-1] / "logs" and name in log.name


def test_steps_run_in_a_snapshot_of_the_code_folder_with_this_python_and_the_step_environment(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    run_id = toy.record()["run_id"]
    traces = {t["step"]: t for t in toy.traces()}
    assert set(traces) == {"source", "left", "merge"}  # scale.py (right) writes no trace
    for name, trace in traces.items():
        assert trace["cwd"] == str(toy.runs()[-1] / "work" / name / "code")  # a copy, never toy/src
        assert trace["prefix"] == sys.prefix  # `python` in the command is this interpreter's venv
        env = trace["env"]
        assert (
            env["CTLOOP_HOME"] == str(toy.home)
            and env["CTLOOP_RUN_ID"] == run_id
            and env["CTLOOP_STEP"] == name
        )
        assert env["MLFLOW_TRACKING_URI"].startswith("sqlite:///")
    assert (
        "--out" in traces["source"]["argv"]
        and str(toy.runs()[-1] / "outputs" / "source" / "out") in traces["source"]["argv"]
    )


def test_events_are_json_lines_with_required_fields(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    lines = (toy.runs()[-1] / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert all(set(e) == EVENT_FIELDS for e in events)
    run_id = toy.record()["run_id"]
    assert {e["run"] for e in events} == {run_id}
    messages = [(e["step"], e["message"]) for e in events]
    assert messages[0] == (None, "run started") and messages[-1] == (None, "run finished")
    for step in ("source", "left", "right", "merge"):
        assert (step, "step started") in messages and (step, "step completed") in messages
    assert ("merge", "data asset registered") in messages
    assert all(datetime.fromisoformat(e["time"]) for e in events)


def test_runs_list_and_show(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    first, second = (r.name for r in toy.runs())
    listing = cli("runs", "list")
    assert listing.code == 0
    rows = listing.out.splitlines()
    assert rows[0].split()[:2] == ["RUN", "STATUS"]
    assert rows[1].split()[0] == second and rows[2].split()[0] == first  # newest first
    assert rows[1].split()[1] == "completed"
    shown = cli("runs", "show", "latest")
    assert shown.code == 0
    assert shown.out.startswith(f"run {second}  completed")
    assert "cache hits 4" in shown.out
    merge = next(line for line in shown.out.splitlines() if line.startswith("merge "))
    assert "cached" in merge and f"hit (run {first})" in merge
    metric = next(
        line.split() for line in shown.out.splitlines() if line.split()[:2] == ["merge", "out.value"]
    )
    assert metric[2] == "125"  # a whole number prints as a plain integer
    as_json = cli("runs", "show", first[:-2], "--json")  # a unique prefix works too
    assert json.loads(as_json.out)["run_id"] == first
    missing = cli("runs", "show", "no-such-run")
    assert missing.code == 2 and "no run 'no-such-run'" in missing.err


def test_runs_list_without_runs(toy, cli):
    result = cli("runs", "list")
    assert result.code == 0 and "no runs yet" in result.out


def test_inline_component_without_code_runs_in_its_own_folder(toy, cli):
    assert cli("run", toy.pipeline("inline"), "--no-mlflow").code == 0
    step = toy.record()["steps"]["say"]
    out = Path(step["outputs"]["out"])
    assert (out / "message.txt").read_text() == "hello from an inline component\n"
    assert (out / "cwd.txt").read_text().strip() == str(toy.runs()[-1] / "work" / "say")
