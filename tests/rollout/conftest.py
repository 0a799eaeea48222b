"""Fixtures for the rollout tests (defined in tests/serving/serving_fixtures.py, shared with serving)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))

from serving_fixtures import _one_openmp_thread, built, no_leaks  # noqa: F401
