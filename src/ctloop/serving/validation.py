"""Validate a scoring request against the model signature before the model sees it.

Accepted bodies (JSON objects)::

    {"data": [{"<feature>": <value>, ...}, ...], "labels": [0, 1, ...]}
    {"input_data": {"columns": ["<feature>", ...], "data": [[<value>, ...], ...]}, "labels": [...]}

``labels`` is optional (labelled replays during a rollout). Every other shape, unknown or
missing feature, wrong type, non-finite number, too many rows or too large a body is a
``RequestError`` whose status is 4xx and whose reason names the row and the feature.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NUMBER = "number"
INTEGER = "integer"
BOOLEAN = "boolean"
STRING = "string"

# MLflow column types -> the JSON kind a value must have.
_MLFLOW_TYPES = {
    "double": NUMBER,
    "float": NUMBER,
    "long": INTEGER,
    "integer": INTEGER,
    "boolean": BOOLEAN,
    "string": STRING,
}
_ALLOWED_KEYS = {"data", "input_data", "labels"}
# Largest integer a float64 holds (any int above overflows float()); int64 bounds for integer columns.
_MAX_FLOAT_INT = int(sys.float_info.max)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class RequestError(ValueError):
    """A request the model must not see: carries the HTTP status (4xx) and the reason."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class SignatureError(ValueError):
    """A model folder whose MLmodel signature cannot drive validation."""


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    required: bool


@dataclass(frozen=True)
class Signature:
    """Input columns of the model, in the order the model expects them."""

    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def from_mlmodel(cls, model_dir: str | Path) -> Signature:
        """Read ``signature.inputs`` from ``<model_dir>/MLmodel`` (a column-based MLflow signature)."""
        path = Path(model_dir) / "MLmodel"
        try:
            meta = yaml.safe_load(path.read_text())
            raw = (meta or {}).get("signature", {}).get("inputs")
        except (OSError, yaml.YAMLError) as exc:
            raise SignatureError(f"{path}: cannot read: {exc}") from None
        if not raw:
            raise SignatureError(f"{path}: signature.inputs: missing (save the model with a signature)")
        try:
            specs = json.loads(raw)
        except ValueError as exc:
            raise SignatureError(f"{path}: signature.inputs: not JSON: {exc}") from None
        columns = []
        for i, spec in enumerate(specs):
            kind = _MLFLOW_TYPES.get(spec.get("type", ""))
            if not spec.get("name") or kind is None:
                raise SignatureError(
                    f"{path}: signature.inputs[{i}]: need a named column of type "
                    f"{sorted(_MLFLOW_TYPES)}, got {spec!r}"
                )
            columns.append(Column(spec["name"], kind, bool(spec.get("required", True))))
        if len({c.name for c in columns}) != len(columns):
            raise SignatureError(f"{path}: signature.inputs: duplicate column names")
        return cls(tuple(columns))


@dataclass(frozen=True)
class ParsedRequest:
    """Validated rows as columns in signature order, plus optional labels."""

    columns: dict[str, list[Any]]
    rows: int
    labels: list[int] | None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, max_payload_bytes: int) -> Any:
    """Decode a request body to a JSON value (strict: no NaN/Infinity), or raise RequestError."""
    if len(body) > max_payload_bytes:
        raise RequestError(f"payload of {len(body)} bytes exceeds the limit of {max_payload_bytes}", 413)
    if not body.strip():
        raise RequestError("empty body: send a JSON object with 'data' or 'input_data'")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise RequestError("invalid JSON: nested too deeply") from None
    except ValueError as exc:
        raise RequestError(f"invalid JSON: {exc}") from None


def _check_value(value: Any, column: Column, row: int) -> None:
    kind = column.kind
    if value is None:
        if column.required:
            raise RequestError(f"row {row}: feature '{column.name}': null is not allowed")
        return
    vtype = type(value)
    if kind == NUMBER:
        ok = vtype is float or vtype is int
        if ok and vtype is float and not math.isfinite(value):
            raise RequestError(f"row {row}: feature '{column.name}': number is not finite")
        if ok and vtype is int and abs(value) > _MAX_FLOAT_INT:
            raise RequestError(
                f"row {row}: feature '{column.name}': integer of {len(str(abs(value)))} digits "
                "cannot be represented as a 64-bit float"
            )
    elif kind == INTEGER:
        ok = vtype is int
        if ok and not _INT64_MIN <= value <= _INT64_MAX:
            raise RequestError(f"row {row}: feature '{column.name}': integer outside the 64-bit range")
    elif kind == BOOLEAN:
        ok = vtype is bool
    else:
        ok = vtype is str
    if not ok:
        raise RequestError(
            f"row {row}: feature '{column.name}': expected {kind}, got {type(value).__name__} {value!r:.40}"
        )


def _rows_from_records(records: Any, signature: Signature) -> dict[str, list[Any]]:
    if not isinstance(records, list):
        raise RequestError("'data' must be a list of objects, one per row")
    names = signature.names
    wanted = set(names)
    out: dict[str, list[Any]] = {n: [] for n in names}
    for i, row in enumerate(records):
        if not isinstance(row, dict):
            raise RequestError(f"row {i}: expected an object of features, got {type(row).__name__}")
        if row.keys() != wanted:
            missing = sorted(wanted - row.keys())
            if missing:
                raise RequestError(f"row {i}: missing feature '{missing[0]}'")
            extra = sorted(str(k) for k in row.keys() - wanted)
            raise RequestError(f"row {i}: unknown feature '{extra[0]:.60}'")
        for column in signature.columns:
            value = row[column.name]
            _check_value(value, column, i)
            out[column.name].append(value)
    return out


def _rows_from_split(block: Any, signature: Signature) -> dict[str, list[Any]]:
    if not isinstance(block, dict) or not isinstance(block.get("columns"), list) or "data" not in block:
        raise RequestError("'input_data' must be an object with 'columns' (list) and 'data' (list of rows)")
    unknown = set(block) - {"columns", "data", "index"}
    if unknown:
        raise RequestError(f"'input_data': unknown key '{sorted(map(str, unknown))[0]:.60}'")
    columns = block["columns"]
    if not all(isinstance(c, str) for c in columns) or len(set(columns)) != len(columns):
        raise RequestError("'input_data.columns' must be distinct strings")
    wanted = set(signature.names)
    if set(columns) != wanted:
        missing = sorted(wanted - set(columns))
        if missing:
            raise RequestError(f"'input_data.columns': missing feature '{missing[0]}'")
        raise RequestError(f"'input_data.columns': unknown feature '{sorted(set(columns) - wanted)[0]:.60}'")
    data = block["data"]
    if not isinstance(data, list):
        raise RequestError("'input_data.data' must be a list of rows")
    by_name = {c.name: c for c in signature.columns}
    order = [by_name[c] for c in columns]
    out: dict[str, list[Any]] = {n: [] for n in signature.names}
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(order):
            raise RequestError(f"row {i}: expected a list of {len(order)} values")
        for column, value in zip(order, row, strict=True):
            _check_value(value, column, i)
            out[column.name].append(value)
    return out


def _labels(raw: Any, rows: int) -> list[int] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != rows:
        raise RequestError(f"'labels' must be a list of {rows} values (one per row)")
    for i, y in enumerate(raw):
        if type(y) is not int or y not in (0, 1):
            raise RequestError(f"labels[{i}]: expected 0 or 1, got {y!r:.40}")
    return raw


def validate_request(payload: Any, signature: Signature, max_rows: int) -> ParsedRequest:
    """Check a decoded body against the signature and the row limit; return the rows by column."""
    if not isinstance(payload, dict):
        raise RequestError(f"body must be a JSON object, got {type(payload).__name__}")
    unknown = set(payload) - _ALLOWED_KEYS
    if unknown:
        raise RequestError(
            f"unknown top-level key '{sorted(unknown)[0]:.60}' (expected 'data' or 'input_data')"
        )
    if ("data" in payload) == ("input_data" in payload):
        raise RequestError("send exactly one of 'data' (records) or 'input_data' (columns + data)")
    block = payload.get("input_data")
    raw_rows = (
        payload["data"] if "data" in payload else (block.get("data") if isinstance(block, dict) else None)
    )
    count = len(raw_rows) if isinstance(raw_rows, list) else 0
    if count > max_rows:
        raise RequestError(f"{count} rows exceed the limit of {max_rows} per request", 413)
    if "data" in payload:
        columns = _rows_from_records(payload["data"], signature)
    else:
        columns = _rows_from_split(payload["input_data"], signature)
    rows = len(next(iter(columns.values()))) if columns else 0
    if rows == 0:
        raise RequestError("no rows: send at least one row")
    return ParsedRequest(columns=columns, rows=rows, labels=_labels(payload.get("labels"), rows))
