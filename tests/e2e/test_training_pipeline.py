"""The real training pipeline, end to end, through the local engine and the real CLI.

A slice of the bundled rainfall data lands as yearly batches; `ctloop run` executes
pipelines/training.yml as subprocesses; the registry is checked afterwards. A second run reuses
the deterministic steps and registers nothing new; a bad batch stops the pipeline at ingest,
leaves the registry and the champion exactly as they were, and is quarantined so the next run
proceeds; kill -9 of the engine leaves no step process, and the rerun ends with champion = serving.
The module's policies are the repository's with short canary bakes (rollouts take seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REPO = Path(__file__).resolve().parents[2]
MODEL = "rainfall-classifier"


def _ctloop(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctloop.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,  # a hang guard: the whole pipeline on a busy two-core machine
    )


def _python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return out.stdout.strip().splitlines()[-1]


def _registry_state(env: dict[str, str]) -> tuple[list[tuple[str, str]], str | None]:
    """(version, status) pairs and the champion version, read in a fresh process."""
    code = (
        "import json;from ctloop.registry import open_registry;"
        f"r=open_registry({MODEL!r});c=r.champion();"
        "print(json.dumps({'versions':[[v.version,v.status] for v in r.list_versions()],"
        "'champion':c.version if c else None}))"
    )
    state = json.loads(_python(code, env))
    return [tuple(v) for v in state["versions"]], state["champion"]


def _pointers(env: dict[str, str]) -> tuple[str | None, str | None]:
    """(champion, serving) versions, read in a fresh process."""
    code = (
        "import json;from ctloop.registry import open_registry;"
        f"r=open_registry({MODEL!r});c=r.champion();s=r.serving();"
        "print(json.dumps([c.version if c else None, s.version if s else None]))"
    )
    champion, serving = json.loads(_python(code, env))
    return champion, serving


def _run(workspace: dict[str, object], landing: Path | None = None) -> subprocess.CompletedProcess[str]:
    landing = landing or workspace["landing"]
    sets = ["--set", f"landing={landing}", "--set", f"policies={workspace['policies']}"]
    return _ctloop(["run", "pipelines/training.yml", *sets], workspace["env"])


def _fast_policies(root: Path) -> Path:
    """The repository's policies with canary bakes of one second."""
    folder = root / "policies"
    shutil.copytree(REPO / "policies", folder, ignore=shutil.ignore_patterns("__pycache__"))
    rollout = yaml.safe_load((folder / "rollout.yml").read_text())
    for step in rollout["canary"]["steps"]:
        step["bake_s"] = 1
    rollout["health"]["min_requests"] = 1
    (folder / "rollout.yml").write_text(yaml.safe_dump(rollout, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    root = tmp_path_factory.mktemp("e2e")
    env = dict(os.environ)
    env.update(
        CTLOOP_HOME=str(root / "home"),
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'home' / 'registry' / 'mlflow.db'}",
        MLFLOW_DISABLE_TELEMETRY="true",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CTLOOP_TARGET", None)
    (root / "home" / "registry").mkdir(parents=True)
    landing = root / "landing"
    # Eight years of real data: enough for the policy's training window and evaluation slice.
    done = _ctloop(
        [
            "data",
            "landing",
            "--dataset",
            "rainfall",
            "--since",
            "1960-01-01",
            "--until",
            "1967-12-31",
            "--out",
            str(landing),
            "--freq",
            "year",
        ],
        env,
    )
    assert done.returncode == 0, done.stderr
    workspace: dict[str, object] = {
        "root": root,
        "env": env,
        "landing": landing,
        "policies": _fast_policies(root),
    }
    workspace["first"] = _run(workspace)
    yield workspace
    # The deploy step leaves the local endpoint serving: stop its processes.
    down = _ctloop(["endpoint", "down"], env)
    assert down.returncode == 0, down.stdout + down.stderr


def _run_record(env: dict[str, str], stdout: str) -> dict[str, object]:
    runs = Path(env["CTLOOP_HOME"]) / "runs"
    run_id = next(line.split()[1].rstrip(":") for line in stdout.splitlines() if line.startswith("run "))
    return json.loads((runs / run_id / "run.json").read_text())


def test_first_run_registers_and_promotes_a_champion(workspace: dict[str, object]) -> None:
    first = workspace["first"]
    env = workspace["env"]
    assert first.returncode == 0, first.stdout + first.stderr
    record = _run_record(env, first.stdout)
    assert record["status"] == "completed"
    steps = record["steps"]
    assert set(steps) == {
        "ingest",
        "validate_data",
        "prep",
        "train",
        "train_recent",
        "evaluate",
        "register",
        "deploy",
    }
    assert all(s["status"] == "completed" for s in steps.values())
    # A first run (no fired trigger) trains one candidate: train_recent passes prep's note on.
    recent_log = Path(steps["train_recent"]["log"]).read_text()
    assert "nothing to train" in recent_log, recent_log
    versions, champion = _registry_state(env)
    assert versions and champion == versions[-1][0]
    assert dict(versions)[champion] == "deployed"
    # The champion now serves: one scoring request through the local endpoint answers.
    batch = pd.read_parquet(next(workspace["landing"].glob("*.parquet")))
    body = json.dumps({"data": batch.drop(columns=["date", "rain"]).head(2).to_dict(orient="records")})
    invoked = _ctloop(["endpoint", "invoke", "--body", body], env)
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert "probabilit" in invoked.stdout
    # The summary names the gate decision and the champion.
    assert "gate" in first.stdout.lower() and "champion" in first.stdout.lower()


def test_rerun_reuses_deterministic_steps(workspace: dict[str, object]) -> None:
    env = workspace["env"]
    assert workspace["first"].returncode == 0
    before = _registry_state(env)
    again = _run(workspace)
    assert again.returncode == 0, again.stdout + again.stderr
    steps = _run_record(env, again.stdout)["steps"]
    assert steps["prep"]["cache"] == "hit"
    assert steps["train"]["cache"] == "hit"
    # The same model is already registered: nothing new is stored, and the run says so.
    assert _registry_state(env) == before
    log = Path(steps["register"]["log"]).read_text()
    assert "registration skipped" in log, log


def test_bad_batch_is_quarantined_and_the_next_run_proceeds(workspace: dict[str, object]) -> None:
    env = workspace["env"]
    assert workspace["first"].returncode == 0
    before = _registry_state(env)
    bad_landing = workspace["root"] / "bad" / "landing"
    shutil.copytree(workspace["landing"], bad_landing)
    last = sorted(bad_landing.glob("*.parquet"))[-1]
    frame = pd.read_parquet(last)
    frame.loc[:2, "visibility"] = [np.inf, -np.inf, 1e300]  # three corrupt values in one year
    frame.to_parquet(bad_landing / "rainfall-1968-corrupt.parquet")
    bad = _run(workspace, bad_landing)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    record = _run_record(env, bad.stdout)
    steps = record["steps"]
    assert steps["ingest"]["status"] == "failed"
    for later in ("validate_data", "prep", "train", "train_recent", "evaluate", "register", "deploy"):
        assert steps[later]["status"] == "skipped"
    assert "rainfall-1968-corrupt.parquet: visibility: 3 value(s) infinite" in bad.stdout + bad.stderr
    assert _registry_state(env) == before
    # The batch moved to the quarantine with its report; the good batches stayed.
    held = workspace["root"] / "bad" / "quarantine" / record["run_id"]
    assert (held / "rainfall-1968-corrupt.parquet").is_file() and (held / "report.json").is_file()
    assert not (bad_landing / "rainfall-1968-corrupt.parquet").exists()
    assert sorted(p.name for p in bad_landing.iterdir()) == sorted(
        p.name for p in workspace["landing"].iterdir()
    )
    good = _run(workspace, bad_landing)
    assert good.returncode == 0, good.stdout + good.stderr
    assert _registry_state(env) == before


def _run_processes(run_id: str) -> list[int]:
    """Pids of live processes started for ``run_id`` (they carry CTLOOP_RUN_ID in their environment)."""
    marker = f"CTLOOP_RUN_ID={run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _wait_for(condition: Callable[[], bool], timeout_s: float = 300.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _running_step(runs: Path, known: set[str], step: str) -> str | None:
    """The id of a new run whose ``step`` is running."""
    for run in runs.iterdir() if runs.is_dir() else []:
        if run.name in known:
            continue
        try:
            record = json.loads((run / "run.json").read_text())
        except (OSError, ValueError):
            continue
        if (record.get("steps", {}).get(step) or {}).get("status") == "running":
            return run.name
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_mid_register_then_rerun_ends_with_champion_serving(workspace: dict[str, object]) -> None:
    env = workspace["env"]
    assert workspace["first"].returncode == 0
    runs = Path(env["CTLOOP_HOME"]) / "runs"
    known = {p.name for p in runs.iterdir()}
    sets = ["--set", f"landing={workspace['landing']}", "--set", f"policies={workspace['policies']}"]
    engine = subprocess.Popen(
        [sys.executable, "-m", "ctloop.cli", "run", "pipelines/training.yml", *sets],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        run_id = _running_step(runs, known, "register")
        while run_id is None and time.monotonic() < deadline and engine.poll() is None:
            time.sleep(0.05)
            run_id = _running_step(runs, known, "register")
        assert run_id is not None, "the run never reached register"
        os.kill(engine.pid, signal.SIGKILL)
        engine.wait(timeout=60)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=60)
    assert _wait_for(lambda: not _run_processes(run_id), 60), f"stray processes: {_run_processes(run_id)}"

    # The state a kill between register's pointer move and the end of the rollout leaves: the
    # champion names a version that nothing serves.
    champion, serving = _pointers(env)
    assert champion == serving
    code = (
        "import tempfile;from ctloop.registry import open_registry;"
        f"r=open_registry({MODEL!r});c=r.champion();d=r.download(c.version, tempfile.mkdtemp());"
        "v=r.register(d,{'ctloop.model_hash':'copy-of-'+c.version});"
        "print(r.set_champion(v.version,c.version), v.version)"
    )
    moved, pending = _python(code, env).split()
    assert moved == "True" and _pointers(env) == (pending, serving)

    rerun = _run(workspace)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _pointers(env) == (pending, pending)
    deploy = _run_record(env, rerun.stdout)["steps"]["deploy"]
    assert f"champion {pending} does not serve (serving: {serving})" in Path(deploy["log"]).read_text()
