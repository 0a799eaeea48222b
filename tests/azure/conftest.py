"""Fixtures for the Azure tests: a clean miniature repository (tests/spec_repos.py) and a workspace
at the wire (tests/azure/wire.py): the real azure-ai-ml MLClient, only the network replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from spec_repos import make_repo, spec_repo
from wire import Workspace

__all__ = ["make_repo", "spec_repo", "workspace"]


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A fresh workspace; storage traffic is routed to it too. Nothing may go unanswered."""
    ws = Workspace()
    ws.route_storage(monkeypatch)
    yield ws
    assert not ws.unrouted, [f"{r.method} {r.url}" for r in ws.unrouted]
