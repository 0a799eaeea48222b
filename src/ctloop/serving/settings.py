"""Serving limits (payload size, rows, decision threshold) from the ``serving`` section of ``rollout.yml``.

The scoring process reads them from ``$CTLOOP_SERVING_POLICY`` (the section as JSON, set by the
deployment; validated against the schema when the deployment was made) or else from the
``rollout`` policy in ``$CTLOOP_POLICIES`` (validated here).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ctloop.policies import PolicyError, load_policy

SERVING_POLICY_ENV = "CTLOOP_SERVING_POLICY"
_FIELDS = ("max_rows", "max_payload_bytes", "decision_threshold")


@dataclass(frozen=True)
class ServingLimits:
    """What a request may carry and how a probability becomes a class."""

    max_rows: int
    max_payload_bytes: int
    decision_threshold: float

    @classmethod
    def from_mapping(cls, section: dict[str, Any], source: str = "serving") -> ServingLimits:
        missing = [f for f in _FIELDS if f not in section]
        if missing:
            raise PolicyError(source, f"serving.{missing[0]}", "required field is missing")
        limits = cls(
            max_rows=int(section["max_rows"]),
            max_payload_bytes=int(section["max_payload_bytes"]),
            decision_threshold=float(section["decision_threshold"]),
        )
        if limits.max_rows < 1 or limits.max_payload_bytes < 1:
            raise PolicyError(source, "serving", "max_rows and max_payload_bytes must be positive")
        if not 0.0 < limits.decision_threshold < 1.0:
            raise PolicyError(source, "serving.decision_threshold", "must lie strictly between 0 and 1")
        return limits


def load_serving_limits() -> ServingLimits:
    """Limits for this scoring process: ``$CTLOOP_SERVING_POLICY`` else the ``rollout`` policy file."""
    raw = os.environ.get(SERVING_POLICY_ENV)
    if raw:
        try:
            section = json.loads(raw)
        except ValueError as exc:
            raise PolicyError(SERVING_POLICY_ENV, "<json>", f"not valid JSON: {exc}") from None
        if not isinstance(section, dict):
            raise PolicyError(SERVING_POLICY_ENV, "<root>", "must be a JSON object")
        return ServingLimits.from_mapping(section, SERVING_POLICY_ENV)
    return ServingLimits.from_mapping(load_policy("rollout")["serving"], "rollout.yml")
