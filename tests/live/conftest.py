"""The live suite's workspace: the stack named by ``$CTLOOP_STACK`` (``make test-azure STACK=dev``).

Nothing is provisioned here: the stack must exist (``make up STACK=dev``) and its workspace config
must be written (``make azureml-config STACK=dev``). Every test skips with the reason when the
config or a login is missing, so ``pytest tests/live`` on a machine without Azure says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Live:
    """One stack's workspace, as the suite uses it."""

    root: Path
    stack: str
    client: Any
    endpoint: str


@pytest.fixture(scope="session")
def live() -> Live:
    """The stack's MLClient and endpoint, or a skip that names what is missing."""
    stack = os.environ.get("CTLOOP_STACK", "dev")
    try:
        from ctloop.azure.workspace import AzureSetupError, ml_client
        from ctloop.gitops.names import stack_endpoint
    except ImportError as exc:  # pragma: no cover - a build without the Azure extras
        pytest.skip(f"the Azure client is not installed: {exc}")
    try:
        client = ml_client(REPO, stack)
    except AzureSetupError as exc:
        pytest.skip(f"no Azure workspace for stack {stack!r}: {exc}")
    endpoint = stack_endpoint(REPO, stack)
    if not endpoint:
        pytest.skip(
            f"stack {stack!r} has no endpoint_name in .azureml/config.{stack}.json: "
            f"run `make azureml-config STACK={stack}` after `make up STACK={stack}`"
        )
    return Live(REPO, stack, client, endpoint)


@pytest.fixture(scope="session")
def eval_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The latest 2,000 labelled days of the bundled rainfall data: smoke and canary traffic."""
    from ctloop.datasets import load_rainfall

    path = tmp_path_factory.mktemp("live") / "eval.parquet"
    load_rainfall().tail(2000).to_parquet(path)
    return path
