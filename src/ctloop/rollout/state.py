"""The local endpoint's ``state.json``: its JSON Schema and the checked reader the CLI and router share.

A file that breaks the schema (``{}``, ``[]``, ``{"deployments": []}``, a port that is not a
number, weights that do not sum to 100 ...) is refused with a ``StateError`` naming the file, the
field and the reason; callers keep what they had (the router its last good routing table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from ctloop.rollout.jsonfile import StateError, read_json

_PROCESS = {
    "type": "object",
    "required": ["pid", "start_ticks"],
    "properties": {
        "pid": {"type": "integer", "minimum": 1},
        "start_ticks": {"type": "integer"},
        "token": {"type": ["string", "null"]},
        "boot_id": {"type": ["string", "null"]},
    },
}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_WEIGHTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100}}

STATE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ctloop local endpoint state",
    "type": "object",
    "required": ["endpoint", "deployments", "traffic"],
    "properties": {
        "endpoint": {"type": "string", "minLength": 1},
        "router": {
            "anyOf": [{"type": "null"}, {**_PROCESS, "properties": {**_PROCESS["properties"], "port": _PORT}}]
        },
        "router_port": {"type": "integer", "minimum": 0, "maximum": 65535},
        "deployments": {
            "type": "object",
            "additionalProperties": {
                **_PROCESS,
                "required": [*_PROCESS["required"], "port", "model_dir"],
                "properties": {**_PROCESS["properties"], "port": _PORT, "model_dir": {"type": "string"}},
            },
        },
        "traffic": _WEIGHTS,
        "mirror": _WEIGHTS,
        "starting": {"type": "object", "additionalProperties": _PROCESS},
        "updated": {"type": "number"},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(STATE_SCHEMA)


def check_state(data: Any, path: str | Path) -> dict[str, Any]:
    """``data`` when it is a valid state; otherwise StateError naming ``path``, the field and why."""
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        field = ".".join(str(p) for p in err.absolute_path) or "<root>"
        raise StateError(f"{path}: {field}: {err.message}")
    deployments, traffic = data["deployments"], data["traffic"]
    unknown = sorted(set(traffic) - set(deployments))
    if unknown:
        raise StateError(f"{path}: traffic.{unknown[0]}: no such deployment")
    total = sum(traffic.values())
    if total not in (0, 100):
        raise StateError(f"{path}: traffic: weights must sum to 100 (or 0), got {total}")
    return data


def read_state(path: str | Path) -> dict[str, Any] | None:
    """The checked state in ``path``; None when the file does not exist."""
    data = read_json(path, None)
    return None if data is None else check_state(data, path)
