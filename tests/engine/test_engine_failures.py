"""Failed, killed and interrupted steps and runs: what is recorded, printed and reused afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ctloop.engine.records import list_runs


def test_failed_step_skips_dependents_and_names_step_reason_log(toy, cli):
    result = cli("run", toy.pipeline("failing"), "--no-mlflow")
    assert result.code == 1
    steps = toy.record()["steps"]
    assert toy.record()["status"] == "failed"
    assert steps["boom"]["status"] == "failed" and steps["boom"]["exit_code"] == 3
    assert steps["after"]["status"] == "skipped" and "boom did not succeed" in steps["after"]["reason"]
    assert steps["first"]["status"] == "completed"
    assert steps["side"]["status"] == "completed"  # continue_on_step_failure: true lets it run
    log = steps["boom"]["log"]
    assert "step boom failed: exit code 3" in result.err
    assert f"log: {log}" in result.err
    assert "boom: boom: the toy step failed on purpose" in result.err  # the tail of its log
    assert "boom: the toy step failed on purpose" in Path(log).read_text()
    assert any("the toy step failed on purpose" in line for line in steps["boom"]["log_tail"])
    assert "FAILED" in result.out and "skipped" in result.out
    shown = cli("runs", "show", "latest")
    assert "step boom failed: exit code 3" in shown.out and "last lines of the log:" in shown.out


def test_killed_step_is_recorded_and_a_rerun_reuses_completed_steps(toy, cli, monkeypatch):
    monkeypatch.setenv("TOY_KILL_STEP", "boom")
    result = cli("run", toy.pipeline("failing"), "--no-mlflow", "--set", "mode=ok")
    assert result.code == 1
    first = toy.record()
    boom = first["steps"]["boom"]
    assert (boom["status"], boom["signal"]) == ("killed", "SIGKILL")
    assert "step boom killed: killed by SIGKILL" in result.err
    assert first["steps"]["after"]["status"] == "skipped"
    monkeypatch.delenv("TOY_KILL_STEP")
    toy.clear_trace()
    assert cli("run", toy.pipeline("failing"), "--no-mlflow", "--set", "mode=ok").code == 0
    steps = toy.record()["steps"]
    assert steps["first"]["status"] == "cached" and steps["first"]["reused_from"] == first["run_id"]
    assert steps["side"]["status"] == "cached"
    assert steps["boom"]["status"] == "completed" and steps["after"]["status"] == "completed"
    assert toy.executed() == {"boom", "after"}


def _write_record(run_dir: Path, pid: int) -> None:
    run_dir.mkdir(parents=True)
    record = {
        "run_id": run_dir.name,
        "status": "running",
        "started": "2025-01-01T00:00:00+00:00",
        "pid": pid,
        "host": os.uname().nodename,
        "pipeline": "p.yml",
        "steps": {"a": {"status": "completed"}, "b": {"status": "running"}, "c": {"status": "pending"}},
    }
    (run_dir / "run.json").write_text(json.dumps(record))


def test_stale_running_record_is_marked_interrupted_when_listed(toy, cli):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = toy.home / "runs" / "20250101-000000-000-dead"
    _write_record(stale, dead.pid)
    live = toy.home / "runs" / "20250101-000000-001-live"
    _write_record(live, os.getpid())
    result = cli("runs", "list")
    assert result.code == 0
    rows = {line.split()[0]: line.split()[1] for line in result.out.splitlines()[1:]}
    assert rows == {stale.name: "interrupted", live.name: "running"}
    data = json.loads((stale / "run.json").read_text())  # rewritten on disk
    assert data["status"] == "interrupted" and f"pid {dead.pid}" in data["reason"]
    assert [data["steps"][s]["status"] for s in "abc"] == ["completed", "interrupted", "not-run"]


def _start_engine(toy, release: Path) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "TOY_RELEASE_FILE": str(release), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctloop.engine.commands", "run", str(toy.pipeline("wait")), "--no-mlflow"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        runs = toy.runs()
        if runs and "step started" in (runs[-1] / "events.jsonl").read_text():
            return proc, runs[-1]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the engine never started its step")


def test_engine_killed_mid_run_leaves_a_record_that_reads_interrupted(toy, tmp_path):
    release = tmp_path / "release"
    proc, run_dir = _start_engine(toy, release)
    try:
        assert json.loads((run_dir / "run.json").read_text())["status"] == "running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        runs = list_runs(toy.home / "runs")
        assert [r["status"] for r in runs] == ["interrupted"]
        assert runs[0]["steps"]["wait"]["status"] == "interrupted"
    finally:
        release.touch()  # lets the orphaned step exit


def test_engine_stopped_by_sigterm_stops_its_steps_and_records_interrupted(toy, tmp_path):
    release = tmp_path / "release"
    proc, run_dir = _start_engine(toy, release)
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130
        record = json.loads((run_dir / "run.json").read_text())
        assert record["status"] == "interrupted"
        assert record["steps"]["wait"]["status"] == "interrupted"
        assert "Traceback" not in err
    finally:
        release.touch()


def test_step_over_its_time_limit_is_stopped(toy, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TOY_RELEASE_FILE", str(tmp_path / "never"))
    result = cli("run", toy.pipeline("timeout"), "--no-mlflow")
    assert result.code == 1
    step = toy.record()["steps"]["wait"]
    assert step["status"] == "timeout"
    assert step["reason"].startswith("timed out after") and "limits.timeout" in step["reason"]
    assert "step wait timeout: timed out after" in result.err


class _WatchedLock:
    """The pool's lock, telling the test when another thread asks for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.asked = threading.Event()
        self.owner: int | None = None

    def __enter__(self) -> None:
        if threading.get_ident() != self.owner:
            self.asked.set()
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_stop_all_while_a_step_process_is_starting_stops_that_process_too(tmp_path, monkeypatch):
    """SIGTERM can land between a step's 'started' and its process: that process must not escape."""
    from ctloop.engine import process

    real_popen = subprocess.Popen
    pool = process.ProcessPool()
    lock = pool._lock = _WatchedLock()
    entered = threading.Event()

    def slow_popen(*args, **kwargs):
        entered.set()
        assert lock.asked.wait(60)  # stop_all has asked for the pool's lock: only now does the process start
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(process.subprocess, "Popen", slow_popen)
    outcome: list[process.Outcome] = []
    argv = [sys.executable, "-c", "import time; time.sleep(120)"]

    def step() -> None:
        lock.owner = threading.get_ident()
        outcome.append(pool.run(argv, tmp_path, os.environ, tmp_path / "log", None))

    runner = threading.Thread(target=step)
    runner.start()
    assert entered.wait(60)
    stopper = threading.Thread(target=pool.stop_all)
    stopper.start()
    stopper.join(60)
    runner.join(60)
    assert not runner.is_alive() and outcome[0].status == "interrupted"
    # a step that reaches run() after stop_all never starts a process
    lock.owner = threading.get_ident()
    monkeypatch.setattr(process.subprocess, "Popen", real_popen)
    assert pool.run(argv, tmp_path, os.environ, tmp_path / "log", None).status == "interrupted"
