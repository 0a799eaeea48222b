"""The ``retraining`` policy as typed settings, for production or for the replay's clock."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ctloop.policies import load_policy, policies_dir
from ctloop.triggers import TriggerPolicy

POLICY = "retraining"
_OVERRIDABLE = ("monitor", "triggers", "guards")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective_policy(policy: dict[str, Any], replay: bool = False) -> dict[str, Any]:
    """The policy as production reads it, or with the ``replay`` section's overrides applied."""
    if not replay:
        return policy
    overrides = {k: v for k, v in policy["replay"].items() if k in _OVERRIDABLE}
    return _merge(policy, overrides)


@dataclass(frozen=True)
class MonitorSettings:
    """What the monitor computes per window (``monitor`` section)."""

    primary_metric: str
    window_hours: float
    performance_lookback_days: float
    min_labelled_rows: int
    drift_lookback_days: float
    drift_min_rows: int
    drift_bins: int
    drift_method: str
    drift_metric: str
    drift_feature_threshold: float
    prediction_bins: int
    error_status: int
    drift_weights: str = "uniform"  # uniform | importance (the champion's permutation importance)
    categorical_features: tuple[str, ...] = ()  # data.yml's categorical_features

    @classmethod
    def from_dict(cls, policy: dict[str, Any]) -> MonitorSettings:
        m = policy["monitor"]
        perf, drift = m["performance"], m["drift"]
        return cls(
            primary_metric=str(policy["primary_metric"]),
            window_hours=float(m["window_hours"]),
            performance_lookback_days=float(perf["lookback_days"]),
            min_labelled_rows=int(perf["min_labelled_rows"]),
            drift_lookback_days=float(drift["lookback_days"]),
            drift_min_rows=int(drift["min_rows"]),
            drift_bins=int(drift["bins"]),
            drift_method=str(drift["method"]),
            drift_metric=str(drift["metric"]),
            drift_feature_threshold=float(drift["feature_threshold"]),
            prediction_bins=int(m["prediction_drift"]["bins"]),
            error_status=int(m["error_status"]),
            drift_weights=str(drift.get("weights", "uniform")),
        )


@dataclass(frozen=True)
class Settings:
    """Monitor and trigger settings of one validated policy (production or replay clock)."""

    monitor: MonitorSettings
    triggers: TriggerPolicy
    raw: dict[str, Any]

    @classmethod
    def from_policy(cls, policy: dict[str, Any], replay: bool = False) -> Settings:
        effective = effective_policy(policy, replay)
        return cls(MonitorSettings.from_dict(effective), TriggerPolicy.from_dict(effective), effective)


def load_settings(policies: str | Path | None = None, replay: bool = False) -> Settings:
    """Read and validate ``retraining.yml`` (PolicyError names file, field and reason); the
    monitor compares data.yml's ``categorical_features`` as categories when that file is there."""
    settings = Settings.from_policy(load_policy(POLICY, policies), replay)
    folder = policies_dir(policies)
    if (folder / "data.yml").is_file():
        from ctloop.contracts import load_data_policy

        categorical = tuple(str(c) for c in load_data_policy(folder).get("categorical_features") or ())
        settings = replace(settings, monitor=replace(settings.monitor, categorical_features=categorical))
    return settings
