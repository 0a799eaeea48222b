"""Fixtures for the serving tests (defined in serving_fixtures.py, shared with tests/rollout)."""

from serving_fixtures import _one_openmp_thread, built, no_leaks  # noqa: F401
