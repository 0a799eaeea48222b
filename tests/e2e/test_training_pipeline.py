"""The real training pipeline, end to end, through the local engine and the real CLI.

A slice of the bundled rainfall data lands as yearly batches; `ctloop run` executes
pipelines/training.yml as subprocesses; the registry is checked afterwards. A second run reuses
the deterministic steps; a bad batch stops the pipeline at validate_data and leaves the registry
and the champion exactly as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

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
        timeout=600,
    )


def _registry_state(env: dict[str, str]) -> tuple[list[tuple[str, str]], str | None]:
    """(version, status) pairs and the champion version, read in a fresh process."""
    code = (
        "import json;from ctloop.registry import open_registry;"
        f"r=open_registry({MODEL!r});c=r.champion();"
        "print(json.dumps({'versions':[[v.version,v.status] for v in r.list_versions()],"
        "'champion':c.version if c else None}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    state = json.loads(out.stdout.strip().splitlines()[-1])
    return [tuple(v) for v in state["versions"]], state["champion"]


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
    first = _ctloop(["run", "pipelines/training.yml", "--set", f"landing={landing}"], env)
    yield {"root": root, "env": env, "landing": landing, "first": first}
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
    assert set(steps) == {"ingest", "validate_data", "prep", "train", "evaluate", "register", "deploy"}
    assert all(s["status"] == "completed" for s in steps.values())
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
    again = _ctloop(["run", "pipelines/training.yml", "--set", f"landing={workspace['landing']}"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    steps = _run_record(env, again.stdout)["steps"]
    assert steps["prep"]["cache"] == "hit"
    assert steps["train"]["cache"] == "hit"


def test_bad_batch_stops_at_validation_and_changes_nothing(workspace: dict[str, object]) -> None:
    env = workspace["env"]
    assert workspace["first"].returncode == 0
    before = _registry_state(env)
    bad_landing = workspace["root"] / "bad-landing"
    shutil.copytree(workspace["landing"], bad_landing)
    last = sorted(bad_landing.glob("*.parquet"))[-1]
    frame = pd.read_parquet(last)
    frame["rain"] = frame["rain"].where(frame.index % 2 == 0, 3)  # a non-binary label
    frame.to_parquet(last)
    bad = _ctloop(["run", "pipelines/training.yml", "--set", f"landing={bad_landing}"], env)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    steps = _run_record(env, bad.stdout)["steps"]
    assert steps["validate_data"]["status"] == "failed"
    for later in ("prep", "train", "evaluate", "register", "deploy"):
        assert steps[later]["status"] == "skipped"
    assert "validate_data" in bad.stdout + bad.stderr
    assert _registry_state(env) == before
