"""Under CI=true a skipped test fails the run (the suite's own conftest, run in a real pytest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CASES = """
import pytest

def test_passes():
    assert True

def test_skips():
    pytest.skip("chromium is not installed")

@pytest.mark.azure_live
def test_live_skips():
    pytest.skip("no Azure subscription")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""

MODULE_SKIP = """
import pytest

pytest.importorskip("a_module_that_is_not_installed")

def test_never_runs():
    assert True
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite")
    shutil.copy(Path(__file__).with_name("conftest.py"), root / "conftest.py")
    (root / "test_cases.py").write_text(CASES)
    (root / "test_module_skip.py").write_text(MODULE_SKIP)
    (root / "pytest.ini").write_text("[pytest]\nmarkers =\n  azure_live: needs Azure\n")
    return root


def run(root: Path, ci: str | None, target: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-rA", target],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_outside_ci_a_skip_is_a_skip(suite: Path) -> None:
    result = run(suite, None, ".")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in result.stdout


def test_under_ci_a_skipped_test_fails_unless_its_marker_allows_it(suite: Path) -> None:
    result = run(suite, "true", "test_cases.py")
    out = result.stdout
    assert result.returncode == 1, out
    assert "FAILED test_cases.py::test_skips" in out
    assert "where a skip would hide a failure: Skipped: chromium is not installed" in out
    assert "SKIPPED [1] test_cases.py" in out and "no Azure subscription" in out  # azure_live may skip
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed" in out


def test_under_ci_a_skipped_module_is_a_collection_error(suite: Path) -> None:
    result = run(suite, "true", "test_module_skip.py")
    assert result.returncode == 2, result.stdout
    assert "ERROR test_module_skip.py - skipped under CI=true" in result.stdout
