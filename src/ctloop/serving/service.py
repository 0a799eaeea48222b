"""The scoring service behind ``score.py``: validate, predict, check the output, log, answer.

Independent of the HTTP server so it can be exercised directly. A bad request answers 4xx with a
reason; only a failing model answers 5xx (a deployment fault the rollout must see).
"""

from __future__ import annotations

import math
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop.serving.collector import LOG_DIR_ENV, RequestLog
from ctloop.serving.model import Classifier, find_model_dir, load_model, model_version
from ctloop.serving.settings import ServingLimits, load_serving_limits
from ctloop.serving.validation import NUMBER, RequestError, Signature, parse_body, validate_request

DEPLOYMENT_ENV = "CTLOOP_DEPLOYMENT"
ENDPOINT_ENV = "CTLOOP_ENDPOINT"
MODEL_DIR_ENV = "AZUREML_MODEL_DIR"
_ID_LIMIT = 100


@dataclass(frozen=True)
class Reply:
    status: int
    payload: dict[str, Any]


def request_ids(headers: Mapping[str, str]) -> tuple[str, str]:
    """(correlation id, x-request-id): honour ``x-ms-client-request-id`` / ``x-request-id`` or make one."""
    lower = {k.lower(): v for k, v in headers.items()}
    x_request_id = (lower.get("x-request-id") or "")[:_ID_LIMIT]
    client_id = (lower.get("x-ms-client-request-id") or "")[:_ID_LIMIT]
    correlation = client_id or x_request_id or str(uuid.uuid4())
    return correlation, x_request_id or correlation


class ScoringService:
    """One loaded model with its signature, limits and request log."""

    def __init__(
        self,
        model: Classifier,
        signature: Signature,
        limits: ServingLimits,
        version: str,
        deployment: str = "",
        log: RequestLog | None = None,
    ) -> None:
        self.model = model
        self.signature = signature
        self.limits = limits
        self.version = version
        self.deployment = deployment
        self.log = log
        self._all_numeric = all(c.kind == NUMBER for c in signature.columns)

    @classmethod
    def from_environment(cls) -> ScoringService:
        """Build from ``AZUREML_MODEL_DIR``, the serving policy and ``CTLOOP_SERVING_LOG_DIR``."""
        root = os.environ.get(MODEL_DIR_ENV)
        if not root:
            raise RuntimeError(f"{MODEL_DIR_ENV} is not set: start azmlinfsrv with --model_dir")
        model_dir = find_model_dir(root)
        version = model_version(model_dir)
        deployment = os.environ.get(DEPLOYMENT_ENV, "")
        log_dir = os.environ.get(LOG_DIR_ENV)
        source = f"/endpoints/{os.environ.get(ENDPOINT_ENV, 'local')}/deployments/{deployment or 'default'}"
        return cls(
            model=load_model(model_dir),
            signature=Signature.from_mlmodel(model_dir),
            limits=load_serving_limits(),
            version=version,
            deployment=deployment,
            log=RequestLog(Path(log_dir), source, version) if log_dir else None,
        )

    def score(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """Answer one POST body; never raises for a bad request."""
        started = time.perf_counter()
        correlation, x_request_id = request_ids(headers)
        inputs: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] | None = None
        reason: str | None = None
        try:
            parsed = validate_request(
                parse_body(body, self.limits.max_payload_bytes), self.signature, self.limits.max_rows
            )
            names = self.signature.names
            inputs = [
                dict(zip(names, values, strict=True)) for values in zip(*parsed.columns.values(), strict=True)
            ]
            try:
                frame = self._frame(parsed.columns)
            except (OverflowError, ValueError, TypeError) as exc:  # the input, not the model
                raise RequestError(f"features cannot be represented: {exc}") from None
            probabilities = self._predict(frame, parsed.rows)
            predictions = [int(p >= self.limits.decision_threshold) for p in probabilities]
            outputs = [
                {"prediction": y, "probability": p} for y, p in zip(predictions, probabilities, strict=True)
            ]
            reply = Reply(
                200,
                {
                    "predictions": predictions,
                    "probabilities": probabilities,
                    "model_version": self.version,
                    "deployment": self.deployment,
                    "request_id": correlation,
                },
            )
        except RequestError as exc:
            reason = exc.reason
            reply = Reply(exc.status, {"error": exc.reason, "request_id": correlation})
        except ModelFault as exc:
            reason = str(exc)
            reply = Reply(500, {"error": reason, "request_id": correlation})
        if self.log is not None:
            self.log.write(
                correlation_id=correlation,
                x_request_id=x_request_id,
                status=reply.status,
                latency_ms=(time.perf_counter() - started) * 1e3,
                inputs=inputs if reply.status == 200 else [],
                outputs=outputs,
                reason=reason,
            )
        return reply

    def _frame(self, columns: dict[str, list[Any]]) -> pd.DataFrame:
        names = self.signature.names
        if self._all_numeric:  # one float block: far cheaper than a column-by-column frame
            return pd.DataFrame(np.array([columns[n] for n in names], dtype=float).T, columns=names)
        return pd.DataFrame(columns, columns=names)

    def _predict(self, frame: pd.DataFrame, rows: int) -> list[float]:
        try:
            raw = self.model.predict_proba(frame)
        except Exception as exc:  # the model's fault, not the caller's
            raise ModelFault(f"model failed: {type(exc).__name__}") from exc
        try:
            probabilities = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise ModelFault("model returned malformed output: not numeric") from None
        if probabilities.shape != (rows,):
            raise ModelFault(
                f"model returned malformed output: shape {probabilities.shape}, expected ({rows},)"
            )
        values = probabilities.tolist()
        if not all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in values):
            raise ModelFault("model returned malformed output: probabilities outside [0, 1]")
        return values


class ModelFault(RuntimeError):
    """The model raised or produced output that is not one probability per row."""
