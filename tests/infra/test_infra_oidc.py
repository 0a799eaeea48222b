"""The CI login refresher against a real local HTTP server shaped like the GitHub and Azure DevOps
OIDC token endpoints: fresh tokens land in the federated token file; a missing source is one clear line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from infra import oidc_refresh


class _Endpoint(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        n = len(self.seen)
        body = {"value": f"gh-token-{n}"} if self.command == "GET" else {"oidcToken": f"ado-token-{n}"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture()
def endpoint() -> Iterator[str]:
    _Endpoint.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_github_tokens_are_refreshed_into_the_file(endpoint: str, tmp_path: Path) -> None:
    environ = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{endpoint}/token?api=1",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req",
    }
    file = tmp_path / "fed" / "token"
    waits: list[float] = []
    seen_in_file: list[str] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        seen_in_file.append(file.read_text())

    assert oidc_refresh.run(file, environ, every_s=240, rounds=3, sleep=sleep) == 3
    assert seen_in_file == ["gh-token-1", "gh-token-2"] and file.read_text() == "gh-token-3"
    assert waits == [240, 240]
    method, path, auth = _Endpoint.seen[0]
    assert (method, auth) == ("GET", "bearer req")
    assert path == "/token?api=1&audience=api%3A%2F%2FAzureADTokenExchange"
    assert oct(file.stat().st_mode & 0o777) == "0o600"


def test_azure_devops_tokens_come_from_the_service_connection(endpoint: str, tmp_path: Path) -> None:
    environ = {
        "SYSTEM_OIDCREQUESTURI": f"{endpoint}/oidctoken",
        "SYSTEM_ACCESSTOKEN": "sys",
        "AZURE_SERVICE_CONNECTION_ID": "conn-1",
    }
    file = tmp_path / "token"
    oidc_refresh.run(file, environ, every_s=1, rounds=1)
    assert file.read_text() == "ado-token-1"
    method, path, auth = _Endpoint.seen[0]
    assert (method, auth) == ("POST", "Bearer sys")
    assert path == "/oidctoken?api-version=7.1&serviceConnectionId=conn-1"


def test_no_token_source_is_one_clear_error_and_writes_nothing(tmp_path: Path, capsys, monkeypatch) -> None:
    for var in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "SYSTEM_OIDCREQUESTURI"):
        monkeypatch.delenv(var, raising=False)
    file = tmp_path / "token"
    assert oidc_refresh.main(["--file", str(file), "--once"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "oidc_refresh: no OIDC token source: on GitHub give the job `permissions: id-token: write`"
    )
    assert len(err.splitlines()) == 1 and not file.exists()


def test_an_answer_without_a_token_is_refused(endpoint: str, tmp_path: Path) -> None:
    request = oidc_refresh.Request("GET", f"{endpoint}/token", {}, "no-such-field")
    with pytest.raises(oidc_refresh.TokenSourceError, match="the answer has no 'no-such-field'"):
        oidc_refresh.fetch_token(request)
