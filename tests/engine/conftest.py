"""Engine test helpers: a private copy of the toy fixtures, an isolated state dir, the CLI in-process."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ctloop.engine import commands

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engine"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Toy:
    """A writable copy of tests/fixtures/engine and the state dir the engine writes to."""

    root: Path
    home: Path
    trace: Path

    def pipeline(self, name: str) -> Path:
        return self.root / "pipelines" / f"{name}.yml"

    def runs(self) -> list[Path]:
        """Run folders, oldest first (by the start time in their record)."""
        runs_dir = self.home / "runs"
        found = [d for d in runs_dir.iterdir() if (d / "run.json").is_file()] if runs_dir.is_dir() else []
        return sorted(found, key=lambda d: (json.loads((d / "run.json").read_text())["started"], d.name))

    def record(self, run_dir: Path | None = None) -> dict[str, Any]:
        run_dir = run_dir or self.runs()[-1]
        return json.loads((run_dir / "run.json").read_text())

    def traces(self) -> list[dict[str, Any]]:
        """What the toy steps recorded about each execution (start/end time, cwd, python...)."""
        return [json.loads(p.read_text()) for p in sorted(self.trace.glob("*.json"))]

    def executed(self) -> set[str]:
        """Steps that actually ran since the trace folder was last cleared."""
        return {t["step"] for t in self.traces()}

    def clear_trace(self) -> None:
        for p in self.trace.glob("*.json"):
            p.unlink()


@pytest.fixture
def toy(tmp_path: Path, ctloop_home: Path, monkeypatch: pytest.MonkeyPatch) -> Toy:
    root = tmp_path / "toy"
    shutil.copytree(FIXTURES, root, ignore=shutil.ignore_patterns("__pycache__"))
    trace = tmp_path / "trace"
    trace.mkdir()
    monkeypatch.setenv("TOY_TRACE_DIR", str(trace))
    monkeypatch.chdir(tmp_path)
    return Toy(root, ctloop_home, trace)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``ctloop <args>`` (the engine's verbs) in-process and capture its output."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = commands.main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
