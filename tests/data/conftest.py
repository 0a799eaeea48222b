"""Shared helpers for the data-side tests: real rainfall slices, policy copies, step runners."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from data_helpers import POLICIES, step_env

from ctloop.datasets import load_rainfall


@pytest.fixture(scope="session")
def rainfall() -> pd.DataFrame:
    """The full bundled rainfall data (read once per session; copy before mutating)."""
    return load_rainfall()


@pytest.fixture(scope="session")
def data_policy() -> dict[str, Any]:
    from ctloop.contracts import load_data_policy

    return load_data_policy(POLICIES)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Callable[..., Path]:
    """``policy_copy(edit)``: a copy of the repo's policies folder with ``edit(data_yml_dict)`` applied."""

    def make(edit: Callable[[dict[str, Any]], None] | None = None, name: str = "policies") -> Path:
        target = tmp_path / name
        shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("__pycache__"))
        if edit is not None:
            data = yaml.safe_load((target / "data.yml").read_text())
            edit(data)
            (target / "data.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        return target

    return make


@pytest.fixture
def run_step(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_step("ingest", "--landing", ...)``: the step as a real subprocess in tmp_path."""

    def run(
        step: str, *args: str | Path, tracking_uri: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        home = tmp_path / "ctloop-home"
        home.mkdir(exist_ok=True)
        return subprocess.run(
            [sys.executable, "-m", f"ctloop.steps.{step}", *map(str, args)],
            cwd=tmp_path,
            env=step_env(home, tracking_uri) | (env or {}),
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-process step runs: cwd, CTLOOP_HOME under tmp_path and no MLflow tracking URI."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTLOOP_HOME", str(tmp_path / "ctloop-home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return tmp_path
