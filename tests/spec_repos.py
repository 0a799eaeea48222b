"""A clean miniature ctloop repository (tests/fixtures/specs/base) copied to a temporary folder.

Shared by the gitops and azure tests: their conftests import the fixtures from here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop.gitops.versions import update_lock

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "specs"


def make_spec_repo(dest: Path, overlay: str | None = None) -> Path:
    """Copy the base fixture to ``dest``, lock it, apply ``overlay`` and lock what it adds."""
    shutil.copytree(FIXTURES / "base", dest)
    update_lock(dest)
    if overlay:
        shutil.copytree(FIXTURES / overlay, dest, dirs_exist_ok=True)
        update_lock(dest)  # adds new versions; never rewrites a locked one
    return dest


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    return make_spec_repo(tmp_path / "repo")


@pytest.fixture
def make_repo(tmp_path: Path):
    """``make_repo(overlay=None, name="repo")``: a fresh copy per call."""

    def make(overlay: str | None = None, name: str = "repo") -> Path:
        return make_spec_repo(tmp_path / name, overlay)

    return make
