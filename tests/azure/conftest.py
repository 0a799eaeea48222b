"""A clean miniature ctloop repository copied to a temporary folder (fixtures from tests/spec_repos.py)."""

from __future__ import annotations

from spec_repos import make_repo, spec_repo

__all__ = ["make_repo", "spec_repo"]
