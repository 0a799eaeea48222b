"""Retraining triggers: does the champion need a successor? Pure: numbers and a policy in, a decision out.

Every threshold comes from ``policies/retraining.yml`` (see :class:`TriggerPolicy`). Triggers:

* ``no_champion``: nothing serves yet, so the first model is trained (guards do not apply).
* ``performance_drop``: ``baseline - current >= max_drop``, where ``baseline`` is the champion's
  primary metric when it last won the gate and ``current`` the same metric on recent labelled
  traffic.
* ``champion_age``: the champion last won the gate ``max_age_days`` ago or more (its promotion,
  or a retrain whose challenger it beat).
* ``drift``: the overall data-drift score is ``threshold`` or higher.

Guards block a fired trigger: at least ``min_new_labelled_rows`` labelled rows arrived since the
last retrain, and at least ``cooldown_hours`` passed since it. A trigger fires exactly at its
threshold and not below; values are compared at :data:`RESOLUTION` so that a drop of exactly
0.05 in decimal (0.85 - 0.80, which is 0.0499999... in binary floating point) fires.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

#: Decimal places at which a value is compared with its threshold (float noise lies far below).
RESOLUTION = 9


def reaches(value: float, threshold: float) -> bool:
    """``value >= threshold`` at :data:`RESOLUTION` decimal places."""
    return round(value, RESOLUTION) >= round(threshold, RESOLUTION)


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class TriggerPolicy:
    """Thresholds of one validated ``retraining.yml`` (a disabled trigger has ``None``)."""

    primary_metric: str
    max_drop: float | None
    max_age_days: float | None
    drift_threshold: float | None
    min_new_labelled_rows: int
    cooldown_hours: float

    @classmethod
    def from_dict(cls, policy: dict[str, Any]) -> TriggerPolicy:
        t = policy["triggers"]

        def pick(name: str, key: str) -> float | None:
            section = t[name]
            return float(section[key]) if section.get("enabled", True) else None

        return cls(
            primary_metric=str(policy["primary_metric"]),
            max_drop=pick("performance_drop", "max_drop"),
            max_age_days=pick("champion_age", "max_age_days"),
            drift_threshold=pick("drift", "threshold"),
            min_new_labelled_rows=int(policy["guards"]["min_new_labelled_rows"]),
            cooldown_hours=float(policy["guards"]["cooldown_hours"]),
        )


@dataclass(frozen=True)
class TriggerInputs:
    """What the check knows; ``None`` means unknown (that trigger cannot fire)."""

    has_champion: bool
    baseline: float | None = None  # champion's primary metric when it last won the gate
    current: float | None = None  # primary metric on recent labelled traffic
    champion_age_days: float | None = None  # since the champion last won the gate
    drift_score: float | None = None
    new_labelled_rows: int = 0  # labelled rows that arrived since the last retrain
    hours_since_retrain: float | None = None  # None: never retrained


@dataclass(frozen=True)
class Signal:
    """One trigger or guard: did it fire (trigger) or hold (guard), with the numbers and why."""

    name: str
    fired: bool
    value: float | None
    threshold: float | None
    reason: str


@dataclass(frozen=True)
class TriggerDecision:
    retrain: bool
    fired: list[str]
    reason: str
    triggers: list[Signal] = field(default_factory=list)
    guards: list[Signal] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _performance(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, limit, metric = "performance_drop", policy.max_drop, policy.primary_metric
    if limit is None:
        return Signal(name, False, None, None, "disabled")
    if not _known(inputs.baseline):
        return Signal(name, False, None, limit, "the champion has no recorded baseline metric")
    if not _known(inputs.current):
        return Signal(name, False, None, limit, f"too few labelled rows for a recent {metric}")
    drop = float(inputs.baseline) - float(inputs.current)
    fired = reaches(drop, limit)
    relation = ">=" if fired else "<"
    values = f"{metric} {inputs.current:.4f} vs baseline {inputs.baseline:.4f}"
    return Signal(name, fired, drop, limit, f"{values}: drop {drop:.4f} {relation} {limit}")


def _age(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, limit = "champion_age", policy.max_age_days
    if limit is None:
        return Signal(name, False, None, None, "disabled")
    if not _known(inputs.champion_age_days):
        return Signal(name, False, None, limit, "the champion's promotion time is unknown")
    age = float(inputs.champion_age_days)
    fired = reaches(age, limit)
    return Signal(name, fired, age, limit, f"champion age {age:.2f} days {'>=' if fired else '<'} {limit}")


def _drift(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, limit = "drift", policy.drift_threshold
    if limit is None:
        return Signal(name, False, None, None, "disabled")
    if not _known(inputs.drift_score):
        return Signal(name, False, None, limit, "no drift score (too few recent rows or no reference)")
    score = float(inputs.drift_score)
    fired = reaches(score, limit)
    return Signal(name, fired, score, limit, f"drift score {score:.4f} {'>=' if fired else '<'} {limit}")


def _guards(inputs: TriggerInputs, policy: TriggerPolicy) -> list[Signal]:
    rows, need = inputs.new_labelled_rows, policy.min_new_labelled_rows
    labels = Signal(
        "min_new_labelled_rows",
        rows >= need,
        float(rows),
        float(need),
        f"{rows} new labelled row(s) since the last retrain {'>=' if rows >= need else '<'} {need}",
    )
    hours, cool = inputs.hours_since_retrain, policy.cooldown_hours
    if hours is None:
        cooldown = Signal("cooldown", True, None, cool, "no earlier retrain")
    else:
        ok = reaches(hours, cool)
        cooldown = Signal(
            "cooldown",
            ok,
            hours,
            cool,
            f"{hours:.2f} h since the last retrain {'>=' if ok else '<'} {cool} h",
        )
    return [labels, cooldown]


def evaluate(inputs: TriggerInputs, policy: TriggerPolicy) -> TriggerDecision:
    """Which triggers fire and whether the guards let a retrain through."""
    if not inputs.has_champion:
        signal = Signal("no_champion", True, None, None, "no champion is registered: train the first one")
        return TriggerDecision(True, ["no_champion"], signal.reason, [signal], [])
    triggers = [_performance(inputs, policy), _age(inputs, policy), _drift(inputs, policy)]
    fired = [s.name for s in triggers if s.fired]
    guards = _guards(inputs, policy)
    if not fired:
        return TriggerDecision(False, [], "no trigger fired", triggers, guards)
    blocked = [g for g in guards if not g.fired]
    if blocked:
        why = "; ".join(g.reason for g in blocked)
        return TriggerDecision(False, fired, f"{', '.join(fired)} fired but blocked: {why}", triggers, guards)
    why = "; ".join(s.reason for s in triggers if s.fired)
    return TriggerDecision(True, fired, why, triggers, guards)
