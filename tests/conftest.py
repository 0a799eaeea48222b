"""Suite-wide settings: no telemetry, no writes into the repository, quiet SDK warnings."""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("AZUREML_LOG_LEVEL", "ERROR")
# Local endpoints in tests take a free router port (then keep it), never the policy's fixed one.
os.environ.setdefault("CTLOOP_ROUTER_PORT", "0")
warnings.filterwarnings("ignore", category=DeprecationWarning)
TEST_RUN_ENV = "CTLOOP_TEST_RUN"
# Pools the interpreter itself keeps for reuse and ends at exit (not started by the code under test).
_INTERPRETER_HELPERS = (
    "multiprocessing.resource_tracker",
    "joblib.externals.loky",
    "multiprocessing.forkserver",
)


def _processes_of_run(run_id: str) -> list[psutil.Process]:
    """Live processes of this test session: descendants of this process, and any process whose
    environment carries the session's run id (detached servers and their workers inherit it)."""
    me = psutil.Process()
    found = {p.pid: p for p in me.children(recursive=True)}
    needle = f"{TEST_RUN_ENV}={run_id}".encode()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in found and int(entry.name) != me.pid:
            with contextlib.suppress(OSError):
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    with contextlib.suppress(psutil.Error):
                        found[int(entry.name)] = psutil.Process(int(entry.name))
    alive = []
    for proc in found.values():
        with contextlib.suppress(psutil.Error):
            helper = any(h in " ".join(proc.cmdline()) for h in _INTERPRETER_HELPERS)
            if proc.status() != psutil.STATUS_ZOMBIE and not helper:
                alive.append(proc)
    return alive


@pytest.fixture(autouse=True, scope="session")
def _no_process_left_behind() -> Iterator[None]:
    """The suite leaves no process behind: whatever this session started and still runs at its
    end is killed and fails the run, named by its command line."""
    run_id = uuid.uuid4().hex
    os.environ[TEST_RUN_ENV] = run_id
    yield
    leftover = _processes_of_run(run_id)
    names = []
    for proc in leftover:
        with contextlib.suppress(psutil.Error):
            names.append(f"{proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()
    psutil.wait_procs(leftover, timeout=10)
    assert not leftover, "processes left running by the test session:\n" + "\n".join(names)


@pytest.fixture
def repo_root() -> Path:
    """The repository root (specs and policies are read from here, never written)."""
    return REPO


@pytest.fixture
def ctloop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated CTLOOP_HOME and MLflow store under tmp_path."""
    home = tmp_path / "ctloop-home"
    home.mkdir()
    monkeypatch.setenv("CTLOOP_HOME", str(home))
    monkeypatch.setenv("CTLOOP_SPEC_MEMO", str(tmp_path / "spec-memo"))  # the per-user spec memo
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'registry' / 'mlflow.db'}")
    (home / "registry").mkdir()
    return home


# --- under CI=true a skip is a failure ---------------------------------------------------------

#: Markers whose tests may skip under CI=true: they need what CI does not have and `make test`
#: does not select them.
CI_SKIP_ALLOWED = frozenset({"azure_live"})


def _skip_fails(report: pytest.CollectReport | pytest.TestReport, markers: set[str]) -> bool:
    """True when CI=true and ``report`` is a skip (not an xfail) that no allowed marker covers."""
    return (
        os.environ.get("CI", "").lower() == "true"
        and report.skipped
        and not hasattr(report, "wasxfail")
        and not markers & CI_SKIP_ALLOWED
    )


def _as_failure(report: pytest.CollectReport | pytest.TestReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where a skip would hide a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if _skip_fails(report, {m.name for m in item.iter_markers()}):
        _as_failure(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if _skip_fails(report, {m.name for m in getattr(collector, "own_markers", [])}):
        _as_failure(report)
