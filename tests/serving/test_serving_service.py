"""The scoring service in-process with a real model: answers, request ids, faults and the request log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ctloop.policies import PolicyError
from ctloop.serving.collector import RequestLog, read_events
from ctloop.serving.model import ModelError, find_model_dir, load_model, model_version
from ctloop.serving.service import ScoringService
from ctloop.serving.settings import ServingLimits, load_serving_limits
from ctloop.serving.validation import Signature

LIMITS = ServingLimits(max_rows=50, max_payload_bytes=100_000, decision_threshold=0.5)


@pytest.fixture
def service(built: dict[str, Any], tmp_path: Path) -> ScoringService:
    model_dir = built["models"]["v1"]
    log = RequestLog(tmp_path / "logs", "/endpoints/test/deployments/blue", "7")
    return ScoringService(load_model(model_dir), Signature.from_mlmodel(model_dir), LIMITS, "7", "blue", log)


def _body(built: dict[str, Any], n: int, **extra: Any) -> bytes:
    from serving_helpers import row_payload

    return json.dumps({**row_payload(built["rows"], n), **extra}).encode()


def test_scores_rows_with_probabilities_and_version(service: ScoringService, built: dict[str, Any]) -> None:
    reply = service.score(_body(built, 5), {"X-Request-Id": "req-1"})
    assert reply.status == 200
    p = reply.payload
    assert len(p["predictions"]) == len(p["probabilities"]) == 5
    assert all(0.0 <= q <= 1.0 for q in p["probabilities"])
    assert p["predictions"] == [int(q >= 0.5) for q in p["probabilities"]]
    assert p["model_version"] == "7" and p["deployment"] == "blue" and p["request_id"] == "req-1"
    expected = load_model(built["models"]["v1"]).predict_proba(built["rows"].head(5))
    np.testing.assert_allclose(p["probabilities"], expected)


def test_log_lines_have_the_data_collector_shape(
    service: ScoringService, built: dict[str, Any], tmp_path: Path
) -> None:
    service.score(_body(built, 2), {"x-ms-client-request-id": "client-9", "x-request-id": "xr-9"})
    service.score(b"{not json", {})
    service.log.close()
    inputs = read_events(tmp_path / "logs", "model_inputs")
    outputs = read_events(tmp_path / "logs", "model_outputs")
    assert len(inputs) == 2 and len(outputs) == 1
    good, bad = inputs
    for event in (good, outputs[0]):
        assert event["specversion"] == "1.0"
        assert event["correlationid"] == "client-9" and event["xrequestid"] == "xr-9"
        assert event["modelversion"] == "7"
        assert event["source"] == "/endpoints/test/deployments/blue"
        assert event["statuscode"] == 200 and event["latencyms"] >= 0
    assert good["type"] == "azureml.inference.model_inputs"
    assert len(good["data"]) == 2 and set(good["data"][0]) == set(service.signature.names)
    assert outputs[0]["type"] == "azureml.inference.model_outputs"
    assert set(outputs[0]["data"][0]) == {"prediction", "probability"}
    assert bad["statuscode"] == 400 and bad["data"] == [] and "invalid JSON" in bad["reason"]
    assert bad["correlationid"]  # generated when the client sends none
    files = list((tmp_path / "logs" / "model_inputs").rglob("*.jsonl"))
    assert len(files) == 1 and len(files[0].relative_to(tmp_path / "logs" / "model_inputs").parts) == 5


def test_bad_requests_are_4xx_never_5xx(service: ScoringService, built: dict[str, Any]) -> None:
    row = json.loads(_body(built, 1))["data"][0]
    overflowing = json.dumps({"data": [{**row, next(iter(row)): int("9" * 400)}]}).encode()
    nul_feature = json.dumps({"data": [{**row, "a\u0000b": 1.0}]}).encode()
    bodies = (
        b"",
        b"[]",
        b"{}",
        _body(built, 51),
        b"x" * 100_001,
        _body(built, 1, extra=1),
        overflowing,
        nul_feature,
    )
    for body in bodies:
        reply = service.score(body, {})
        assert 400 <= reply.status < 500, (body[:40], reply)
        assert reply.payload["error"]


class _Raising:
    def predict_proba(self, frame: Any) -> Any:
        raise ValueError("boom")


class _WrongShape:
    def predict_proba(self, frame: Any) -> Any:
        return np.full((len(frame), 2), 0.5)


class _OutOfRange:
    def predict_proba(self, frame: Any) -> Any:
        return np.full(len(frame), 1.5)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (_Raising(), "model failed: ValueError"),
        (_WrongShape(), "malformed output: shape (3, 2)"),
        (_OutOfRange(), "probabilities outside [0, 1]"),
    ],
)
def test_a_failing_model_is_a_500_with_a_reason(
    service: ScoringService, built: dict[str, Any], model: Any, reason: str
) -> None:
    service.model = model
    reply = service.score(_body(built, 3), {})
    assert reply.status == 500
    assert reason in reply.payload["error"]


def test_model_folder_lookup_and_version(
    built: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = tmp_path / "azureml-models" / "rainfall" / "12" / "model"
    nested.parent.mkdir(parents=True)
    import shutil

    shutil.copytree(built["models"]["v1"], nested)
    assert find_model_dir(nested.parent) == nested
    monkeypatch.delenv("CTLOOP_MODEL_VERSION", raising=False)
    assert model_version(nested) == "12"
    monkeypatch.setenv("CTLOOP_MODEL_VERSION", "3")
    assert model_version(nested) == "3"
    with pytest.raises(ModelError, match="found no MLmodel file"):
        find_model_dir(tmp_path / "azureml-models" / "rainfall" / "12" / "model" / "ctloop")


def test_limits_from_env_json_or_policy(monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    monkeypatch.setenv("CTLOOP_POLICIES", str(repo_root / "policies"))
    monkeypatch.delenv("CTLOOP_SERVING_POLICY", raising=False)
    from_policy = load_serving_limits()
    assert from_policy.max_rows >= 1000
    monkeypatch.setenv(
        "CTLOOP_SERVING_POLICY",
        json.dumps({"max_rows": 5, "max_payload_bytes": 999, "decision_threshold": 0.3}),
    )
    assert load_serving_limits() == ServingLimits(5, 999, 0.3)
    monkeypatch.setenv("CTLOOP_SERVING_POLICY", json.dumps({"max_rows": 5, "max_payload_bytes": 999}))
    with pytest.raises(PolicyError, match=r"serving\.decision_threshold: required"):
        load_serving_limits()
    monkeypatch.setenv(
        "CTLOOP_SERVING_POLICY", json.dumps({"max_rows": 5, "max_payload_bytes": 9, "decision_threshold": 1})
    )
    with pytest.raises(PolicyError, match="strictly between 0 and 1"):
        load_serving_limits()
