"""``ctloop run --target azure``: the Azure implementation of the engine's ``Submitter``.

:class:`AzureSubmitter` points the deploy step at the stack's managed endpoint
(:func:`target_overrides`) and submits with :func:`ctloop.azure.submit.submit_pipeline`; its wait
for the job outlives an expired login (:class:`ReauthenticatingClient`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctloop.gitops.graph import load_yaml
from ctloop.gitops.names import NamesError, stack_endpoint

#: Pipeline inputs a target fills when the pipeline declares them and ``--set`` does not.
DEPLOY_TARGET_INPUT = "deploy_target"
ENDPOINT_INPUT = "endpoint_name"


def target_overrides(
    pipeline: str | Path, target: str, endpoint: str | None, overrides: dict[str, str]
) -> dict[str, str]:
    """``overrides`` plus the target's own inputs (where the deploy step rolls out, and to which
    endpoint: the stack's, from infra naming) for the inputs the pipeline declares."""
    data = load_yaml(Path(pipeline))
    declared = (data.get("inputs") or {}) if isinstance(data, dict) else {}
    filled = dict(overrides)
    if DEPLOY_TARGET_INPUT in declared:
        filled.setdefault(DEPLOY_TARGET_INPUT, target)
    if endpoint and ENDPOINT_INPUT in declared:
        filled.setdefault(ENDPOINT_INPUT, endpoint)
    return filled


#: Job states after which nothing changes any more.
TERMINAL_STATES = ("Completed", "Failed", "Canceled", "NotResponding")


def _auth_expired(exc: BaseException) -> bool:
    """An expired or refused login: azure-identity's error, or the service's 401."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        return True
    return isinstance(exc, HttpResponseError) and getattr(exc, "status_code", None) == 401


class ReauthenticatingClient:
    """An MLClient whose job waits outlive a login (CI OIDC tokens cannot refresh after ~1 h).

    ``make_client`` builds a client with a freshly acquired credential; every other attribute is
    the current client's. ``jobs.stream`` and ``jobs.get`` that fail on authentication acquire the
    credential again and carry on: a broken stream becomes polling ``jobs.get`` every ``poll_s``
    until the job ends (``sleep`` and ``clock`` are injected for tests), at most ``renewals``
    times in a row.
    """

    def __init__(
        self,
        make_client: Callable[[], Any],
        *,
        poll_s: float = 30.0,
        renewals: int = 5,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import time

        self._make = make_client
        self._client = make_client()
        self.poll_s = poll_s
        self.renewals = renewals
        self._sleep = sleep or time.sleep
        self.jobs = _ReauthenticatingJobs(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def renew(self, reason: BaseException) -> None:
        """Acquire the credential again (a new client), saying why on stderr."""
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
        print(f"submit: login expired ({first}); acquiring the credential again", file=sys.stderr)
        self._client = self._make()


class _ReauthenticatingJobs:
    def __init__(self, owner: ReauthenticatingClient) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.jobs, name)

    def _retry(self, call: Callable[[Any], Any]) -> Any:
        for attempt in range(self._owner.renewals + 1):
            try:
                return call(self._owner._client.jobs)
            except Exception as exc:
                if not _auth_expired(exc) or attempt == self._owner.renewals:
                    raise
                self._owner.renew(exc)
        raise AssertionError("unreachable")

    def get(self, name: str) -> Any:
        return self._retry(lambda jobs: jobs.get(name))

    def stream(self, name: str) -> None:
        """Stream the logs; after an expired login, wait for the end by polling instead."""
        try:
            self._owner._client.jobs.stream(name)
            return
        except Exception as exc:
            if not _auth_expired(exc):
                raise
            self._owner.renew(exc)
        while str(getattr(self.get(name), "status", "")) not in TERMINAL_STATES:
            self._owner._sleep(self._owner.poll_s)


class AzureSubmitter:
    """Azure ML: ``ctloop.azure.submit`` checks, registers, submits and follows the pipeline job in
    the stack's workspace. The deploy step is pointed at the stack's managed endpoint, and the wait
    survives an expired login (:class:`ReauthenticatingClient`)."""

    def submit(self, args: argparse.Namespace, overrides: dict[str, str]) -> int:
        try:
            from ctloop.azure.submit import submit_pipeline  # type: ignore[import-not-found]
        except ImportError as exc:
            missing = getattr(exc, "name", None) or ""
            if missing and "ctloop.azure.submit".startswith(missing):
                print(
                    "ctloop run: the azure target is not installed in this build (no ctloop.azure.submit)",
                    file=sys.stderr,
                )
            else:
                print(f"ctloop run: the azure target cannot be loaded: {exc}", file=sys.stderr)
            return 2
        stack = args.stack or "dev"
        root = Path.cwd()
        try:
            endpoint = stack_endpoint(root, stack)
        except NamesError as exc:
            print(f"ctloop run: {exc}", file=sys.stderr)
            return 2
        filled = target_overrides(args.pipeline, "azure", endpoint, overrides)
        client = _reauthenticating_client(root, stack)
        kwargs = {"client": client} if client is not None else {}
        result = submit_pipeline(args.pipeline, filled, args.stack, **kwargs)
        return result if isinstance(result, int) else 0


def _reauthenticating_client(root: Path, stack: str) -> Any:
    """A ReauthenticatingClient for the stack's workspace, or None to let the submitter say why
    there is none (no config, no login: its own clear message)."""
    try:
        from ctloop.azure.workspace import AzureSetupError, ml_client
    except ImportError:
        return None
    try:
        return ReauthenticatingClient(lambda: ml_client(root, stack))
    except AzureSetupError:
        return None
