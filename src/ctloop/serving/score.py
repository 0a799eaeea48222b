"""Entry script for azureml-inference-server-http 1.5.1 (``azmlinfsrv --entry_script score.py``).

``init()`` loads the model under ``AZUREML_MODEL_DIR`` once per worker; ``run()`` receives the raw
request (``@rawhttp``) so that bad JSON, a wrong body size or an empty body answer 4xx with a
reason instead of reaching the model. The JSON answer is
``{"predictions", "probabilities", "model_version", "deployment", "request_id"}``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # loaded by file path: make ``ctloop`` importable from the code folder
    _src = str(Path(__file__).resolve().parents[2])
    if _src not in sys.path:
        sys.path.insert(0, _src)

try:  # the name Azure ML scoring scripts use; azmlinfsrv 1.5.1 aliases it inside the server
    from azureml.contrib.services.aml_request import rawhttp
    from azureml.contrib.services.aml_response import AMLResponse
except ImportError:
    from azureml_inference_server_http.api.aml_request import rawhttp
    from azureml_inference_server_http.api.aml_response import AMLResponse

from ctloop.serving.service import ScoringService

# Bodies up to this many times the payload limit are read (and rejected) so the client gets the
# 413; anything larger is refused from its Content-Length without reading it.
_DRAIN_FACTOR = 16
_service: ScoringService | None = None


def init() -> None:
    """Load the model, its signature and the serving limits (once per worker)."""
    global _service
    _service = ScoringService.from_environment()


def _json(status: int, payload: dict[str, Any]) -> AMLResponse:
    return AMLResponse(payload, status, json_str=True)


@rawhttp
def run(request: Any) -> AMLResponse:
    """Score one POST; every bad request answers 4xx with ``{"error": reason}``."""
    service = _service
    if service is None:
        return _json(503, {"error": "model not loaded"})
    if request.method != "POST":
        return _json(405, {"error": f"{request.method} is not allowed: POST a JSON body to /score"})
    limit = service.limits.max_payload_bytes
    length = request.content_length
    if length is not None and length > limit * _DRAIN_FACTOR:
        return _json(413, {"error": f"payload of {length} bytes exceeds the limit of {limit}"})
    if length is None:  # chunked: read at most one byte past the limit, never the whole body
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            return _json(413, {"error": f"payload exceeds the limit of {limit} bytes"})
    else:
        body = request.get_data(cache=False)
    reply = service.score(body, _headers(request))
    return _json(reply.status, reply.payload)


def _headers(request: Any) -> dict[str, str]:
    """Request headers, plus the id the server generated when the client sent none (so the logged
    correlation id is the ``x-request-id`` the client gets back)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "x-request-id" not in headers and "x-ms-client-request-id" not in headers:
        try:
            from flask import g

            generated = getattr(g, "request_id", "")
        except (ImportError, RuntimeError):
            generated = ""
        if generated:
            headers["x-request-id"] = generated
    return headers
