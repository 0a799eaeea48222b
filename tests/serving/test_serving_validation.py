"""Request validation against a real model's MLflow signature: every bad request is a 4xx with a reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ctloop.datasets import RAINFALL_FEATURES
from ctloop.serving.validation import RequestError, Signature, SignatureError, parse_body, validate_request

FEATURES = list(RAINFALL_FEATURES)


@pytest.fixture(scope="module")
def signature(built: dict[str, Any]) -> Signature:
    return Signature.from_mlmodel(built["models"]["v1"])


def _row(value: Any = 0.5) -> dict[str, Any]:
    return dict.fromkeys(FEATURES, value)


def test_signature_is_read_from_the_mlmodel_file(signature: Signature) -> None:
    assert signature.names == FEATURES
    assert {c.kind for c in signature.columns} == {"number"}
    assert all(c.required for c in signature.columns)


def test_signature_missing_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    with pytest.raises(SignatureError, match=r"MLmodel: signature.inputs: missing"):
        Signature.from_mlmodel(tmp_path)


def test_records_and_split_bodies_give_the_same_columns(signature: Signature) -> None:
    records = validate_request({"data": [_row(1.0), _row(2)]}, signature, 10)
    split = validate_request(
        {"input_data": {"columns": FEATURES[::-1], "data": [[1.0] * 8, [2] * 8]}}, signature, 10
    )
    assert records.rows == split.rows == 2
    assert records.columns == split.columns
    assert list(records.columns) == FEATURES
    assert records.labels is None


def test_labels_are_validated_and_kept(signature: Signature) -> None:
    parsed = validate_request({"data": [_row(), _row()], "labels": [0, 1]}, signature, 10)
    assert parsed.labels == [0, 1]
    with pytest.raises(RequestError, match=r"labels\[1\]: expected 0 or 1"):
        validate_request({"data": [_row(), _row()], "labels": [0, 2]}, signature, 10)
    with pytest.raises(RequestError, match="'labels' must be a list of 2"):
        validate_request({"data": [_row(), _row()], "labels": [0]}, signature, 10)


@pytest.mark.parametrize(
    ("payload", "status", "reason"),
    [
        ([_row()], 400, "body must be a JSON object, got list"),
        ({"rows": []}, 400, "unknown top-level key 'rows'"),
        ({}, 400, "exactly one of 'data'"),
        ({"data": [], "input_data": {}}, 400, "exactly one of 'data'"),
        ({"data": []}, 400, "no rows"),
        ({"data": {"a": 1}}, 400, "'data' must be a list"),
        ({"data": [[1.0] * 8]}, 400, "row 0: expected an object of features, got list"),
        (
            {"data": [{k: v for k, v in _row().items() if k != "visibility"}]},
            400,
            "row 0: missing feature 'visibility'",
        ),
        ({"data": [{**_row(), "colour": 1.0}]}, 400, "row 0: unknown feature 'colour'"),
        (
            {"data": [_row(), {**_row(), "dew_point": "wet"}]},
            400,
            "row 1: feature 'dew_point': expected number, got str",
        ),
        (
            {"data": [{**_row(), "temperature": True}]},
            400,
            "feature 'temperature': expected number, got bool",
        ),
        ({"data": [{**_row(), "temperature": None}]}, 400, "feature 'temperature': null is not allowed"),
        ({"data": [{**_row(), "temperature": 1e400}]}, 400, "number is not finite"),
        (
            {"data": [{**_row(), "temperature": int("9" * 400)}]},
            400,
            "feature 'temperature': integer of 400 digits cannot be represented",
        ),
        ({"data": [{**_row(), "temperature": -(10**309)}]}, 400, "cannot be represented as a 64-bit float"),
        ({"data": [{**_row(), "temperature": [1]}]}, 400, "expected number, got list"),
        ({"input_data": [1, 2]}, 400, "'input_data' must be an object"),
        (
            {"input_data": {"columns": FEATURES, "data": [[1.0] * 7]}},
            400,
            "row 0: expected a list of 8 values",
        ),
        (
            {"input_data": {"columns": FEATURES[:-1], "data": []}},
            400,
            "missing feature 'maximum_temperature'",
        ),
        ({"input_data": {"columns": FEATURES, "data": [], "extra": 1}}, 400, "unknown key 'extra'"),
        ({"data": [_row()] * 11}, 413, "11 rows exceed the limit of 10"),
    ],
)
def test_bad_requests_name_the_reason(signature: Signature, payload: Any, status: int, reason: str) -> None:
    with pytest.raises(RequestError) as err:
        validate_request(payload, signature, 10)
    assert err.value.status == status
    assert reason in err.value.reason


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"", 400, "empty body"),
        (b"   \n", 400, "empty body"),
        (b"{bad", 400, "invalid JSON"),
        (b'{"data": [NaN]}', 400, "NaN is not valid JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b"[" * 100_000, 400, "invalid JSON"),
        (b"x" * 101, 413, "exceeds the limit of 100"),
    ],
)
def test_bodies_that_are_not_json_objects(body: bytes, status: int, reason: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_body(body, 100 if len(body) > 100 and body[:1] == b"x" else 10_000_000)
    assert err.value.status == status
    assert reason in err.value.reason


def test_the_largest_representable_integer_is_accepted(signature: Signature) -> None:
    biggest = int(sys.float_info.max)
    parsed = validate_request({"data": [{**_row(), "temperature": biggest}]}, signature, 10)
    assert parsed.columns["temperature"] == [biggest]


def test_a_good_body_parses() -> None:
    assert parse_body(json.dumps({"data": [_row()]}).encode(), 10_000) == {"data": [_row()]}
