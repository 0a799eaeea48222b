"""Keep a CI job's Azure login alive for as long as the job runs.

An OIDC login (``azure/login``, Azure DevOps ``AzureCLI@2``) exchanges one short-lived federated token
once; the access token it yields expires after about an hour and cannot be renewed, so a pipeline that
streams for four hours loses its login. Instead, this process asks the CI system for a fresh federated
token every few minutes and writes it to ``AZURE_FEDERATED_TOKEN_FILE``. azure-identity's
``WorkloadIdentityCredential`` (part of ``DefaultAzureCredential``, selected by ``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID`` and ``AZURE_FEDERATED_TOKEN_FILE``) reads that file each time it needs a new access
token, so azure-ai-ml and MLflow stay logged in. The Pulumi provider needs none of this: with
``ARM_USE_OIDC=true`` it requests fresh tokens from the same CI endpoint itself.

Sources, from the environment:
- GitHub Actions (job with ``id-token: write``): ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
  ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, audience ``api://AzureADTokenExchange``;
- Azure DevOps: ``SYSTEM_OIDCREQUESTURI``, ``SYSTEM_ACCESSTOKEN`` and ``AZURE_SERVICE_CONNECTION_ID``.

    python -m infra.oidc_refresh --file "$AZURE_FEDERATED_TOKEN_FILE" [--every 240] [--once]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

AUDIENCE = "api://AzureADTokenExchange"
ADO_API_VERSION = "7.1"
TIMEOUT_S = 30


class TokenSourceError(RuntimeError):
    """No federated-token source in the environment, or it refused."""


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    field: str  # where the token is in the JSON answer


def token_request(environ: Mapping[str, str]) -> Request:
    """The request that yields a fresh federated token on this CI system."""
    if environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") and environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        url = environ["ACTIONS_ID_TOKEN_REQUEST_URL"]
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"audience": AUDIENCE})
        auth = {"Authorization": f"bearer {environ['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"}
        return Request("GET", url, auth, "value")
    if environ.get("SYSTEM_OIDCREQUESTURI") and environ.get("SYSTEM_ACCESSTOKEN"):
        connection = environ.get("AZURE_SERVICE_CONNECTION_ID", "")
        if not connection:
            raise TokenSourceError("AZURE_SERVICE_CONNECTION_ID is not set (the service connection's id)")
        query = urllib.parse.urlencode({"api-version": ADO_API_VERSION, "serviceConnectionId": connection})
        url = f"{environ['SYSTEM_OIDCREQUESTURI']}?{query}"
        headers = {
            "Authorization": f"Bearer {environ['SYSTEM_ACCESSTOKEN']}",
            "Content-Type": "application/json",
        }
        return Request("POST", url, headers, "oidcToken")
    raise TokenSourceError(
        "no OIDC token source: on GitHub give the job `permissions: id-token: write`; on Azure DevOps map "
        "SYSTEM_ACCESSTOKEN into the step and set AZURE_SERVICE_CONNECTION_ID"
    )


def fetch_token(request: Request) -> str:
    """Ask the CI system for a federated token."""
    data = b"{}" if request.method == "POST" else None
    req = urllib.request.Request(request.url, data=data, headers=request.headers, method=request.method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:
            body = json.loads(answer.read())
    except (OSError, ValueError) as exc:
        raise TokenSourceError(f"{request.method} {request.url.split('?')[0]}: {exc}") from None
    token = body.get(request.field) if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenSourceError(f"the answer has no {request.field!r}")
    return token


def write_token(path: Path, token: str) -> None:
    """Replace the token file atomically (a reader never sees half a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(token)
    tmp.chmod(0o600)
    tmp.replace(path)


def run(
    path: Path,
    environ: Mapping[str, str],
    *,
    every_s: float,
    rounds: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    fetch: Callable[[Request], str] = fetch_token,
) -> int:
    """Refresh ``path`` every ``every_s`` seconds, ``rounds`` times (None: until killed); rounds done."""
    request = token_request(environ)
    done = 0
    while rounds is None or done < rounds:
        if done:
            sleep(every_s)
        write_token(path, fetch(request))
        done += 1
    return done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.oidc_refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=os.environ.get("AZURE_FEDERATED_TOKEN_FILE"))
    parser.add_argument(
        "--every", type=float, default=240.0, help="seconds between refreshes (tokens live ~5 min)"
    )
    parser.add_argument("--once", action="store_true", help="write one token and exit")
    args = parser.parse_args(argv)
    if args.file is None:
        print("oidc_refresh: set AZURE_FEDERATED_TOKEN_FILE or pass --file", file=sys.stderr)
        return 2
    try:
        run(args.file, os.environ, every_s=args.every, rounds=1 if args.once else None)
    except TokenSourceError as exc:
        print(f"oidc_refresh: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
