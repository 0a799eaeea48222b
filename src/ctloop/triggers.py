"""Retraining triggers: does the champion need a successor? Pure: numbers and a policy in, a decision out.

Every threshold comes from ``policies/retraining.yml`` (see :class:`TriggerPolicy`). Triggers:

* ``no_champion``: nothing serves yet, so the first model is trained (guards do not apply).
* ``performance_drop``: a one-sided test of the drop ``baseline - current``. ``baseline`` is the
  champion's primary metric estimated over several of its first live windows (not the single
  eval slice it won on, which was picked because it scored high), ``current`` the same metric on
  recent labelled traffic; each comes with its standard error (:func:`auc_standard_error`). It
  fires when the drop reaches ``max_drop`` *and* ``drop / sqrt(se_b**2 + se_c**2) >= z``. Without
  standard errors it is the plain comparison.
* ``below_floor``: the upper confidence bound of ``current`` (``current + z * se``) lies below the
  promotion gate's floor: the champion is worse than any challenger the gate would accept.
* ``calibration``: the gap between the observed positive rate and the mean predicted probability
  moved by at least ``min_shift`` from the champion's own baseline gap, by ``z`` standard errors:
  a shift of the label threshold that a ranking metric such as ROC-AUC barely sees.
* ``champion_age``: the champion last won the gate ``max_age_days`` ago or more (its promotion,
  or a retrain whose challenger it beat).
* ``drift``: the overall data-drift score is ``threshold`` or higher. Once a retrain confirmed
  the champion under drift (its challenger was not better), drift re-arms only when the score
  rises ``rearm`` above the score at that confirmation: persistent covariate shift that no
  retrain can exploit does not retrain at every cooldown.

A retrain fired by a *loss* trigger (:data:`LOSS_TRIGGERS`: the champion itself measurably got
worse on labelled data) whose challengers lost the gate does not confirm the champion the first
``retries`` times in a row (:func:`confirms`): the evidence stands, so the trigger fires again at
the next check, when one more window of the new data can be trained on.

Guards block a fired trigger: at least ``min_new_labelled_rows`` labelled rows arrived since the
last retrain, and at least ``cooldown_hours`` passed since it. A trigger fires exactly at its
threshold and not below; values are compared at :data:`RESOLUTION` so that a drop of exactly
0.05 in decimal (0.85 - 0.80, which is 0.0499999... in binary floating point) fires.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

#: Decimal places at which a value is compared with its threshold (float noise lies far below).
RESOLUTION = 9

#: Triggers whose evidence is the champion's own loss on labelled data (see :func:`confirms`).
LOSS_TRIGGERS = ("performance_drop", "calibration")


def reaches(value: float, threshold: float) -> bool:
    """``value >= threshold`` at :data:`RESOLUTION` decimal places."""
    return round(value, RESOLUTION) >= round(threshold, RESOLUTION)


def _known(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley-McNeil (1982) standard error of a ROC-AUC on ``positives`` + ``negatives`` rows."""
    if positives < 1 or negatives < 1 or not math.isfinite(auc):
        return math.nan
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (
        positives * negatives
    )
    return math.sqrt(max(var, 0.0))


def pooled(values: list[float], errors: list[float]) -> tuple[float | None, float | None]:
    """Inverse-variance weighted mean of independent window estimates and its standard error."""
    pairs = [(v, e) for v, e in zip(values, errors, strict=True) if _known(v) and _known(e) and e > 0]
    if not pairs:
        return None, None
    weights = [1.0 / (e * e) for _, e in pairs]
    total = sum(weights)
    return sum(w * v for w, (v, _) in zip(weights, pairs, strict=True)) / total, math.sqrt(1.0 / total)


@dataclass(frozen=True)
class TriggerPolicy:
    """Thresholds of one validated ``retraining.yml`` (a disabled trigger has ``None``)."""

    primary_metric: str
    max_drop: float | None
    max_age_days: float | None
    drift_threshold: float | None
    min_new_labelled_rows: int
    cooldown_hours: float
    z: float = 0.0  # one-sided standard-error multiple of every statistical trigger (0: point comparison)
    baseline_windows: int = 1  # the champion's first live windows that estimate its baseline
    floor_enabled: bool = False
    drift_rearm: float | None = None
    calibration_min_shift: float | None = None
    retries: int = 0  # lost gates in a row after a loss trigger that do not confirm the champion

    @classmethod
    def from_dict(cls, policy: dict[str, Any]) -> TriggerPolicy:
        t = policy["triggers"]

        def pick(name: str, key: str) -> float | None:
            section = t.get(name)
            if section is None or not section.get("enabled", True) or key not in section:
                return None
            return float(section[key])

        perf = t["performance_drop"]
        return cls(
            primary_metric=str(policy["primary_metric"]),
            max_drop=pick("performance_drop", "max_drop"),
            max_age_days=pick("champion_age", "max_age_days"),
            drift_threshold=pick("drift", "threshold"),
            min_new_labelled_rows=int(policy["guards"]["min_new_labelled_rows"]),
            cooldown_hours=float(policy["guards"]["cooldown_hours"]),
            z=float(perf.get("z", 0.0)),
            baseline_windows=int(perf.get("baseline_windows", 1)),
            floor_enabled=bool((t.get("below_floor") or {}).get("enabled", False)),
            drift_rearm=pick("drift", "rearm"),
            calibration_min_shift=pick("calibration", "min_shift"),
            retries=int(perf.get("retries", 0)),
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
    baseline_se: float | None = None  # standard error of ``baseline`` (None: exact)
    current_se: float | None = None  # standard error of ``current`` (None: exact)
    floor: float | None = None  # the promotion gate's floor on the primary metric
    drift_confirmed: float | None = None  # drift score when a retrain last confirmed the champion
    calibration_gap: float | None = None  # recent observed positive rate minus mean probability
    calibration_se: float | None = None
    calibration_baseline: float | None = None  # the same gap over the champion's baseline windows
    calibration_baseline_se: float | None = None


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


def _se(*errors: float | None) -> float:
    return math.sqrt(sum(float(e) ** 2 for e in errors if _known(e)))


def _performance(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, limit, metric = "performance_drop", policy.max_drop, policy.primary_metric
    if limit is None:
        return Signal(name, False, None, None, "disabled")
    if not _known(inputs.baseline):
        return Signal(name, False, None, limit, "the champion has no recorded baseline metric")
    if not _known(inputs.current):
        return Signal(name, False, None, limit, f"too few labelled rows for a recent {metric}")
    drop = float(inputs.baseline) - float(inputs.current)
    se = _se(inputs.baseline_se, inputs.current_se)
    big = reaches(drop, limit)
    sure = se == 0 or policy.z <= 0 or reaches(drop / se, policy.z)
    fired = big and sure
    values = f"{metric} {inputs.current:.4f} vs baseline {inputs.baseline:.4f}"
    test = f", z {drop / se:.2f} {'>=' if sure else '<'} {policy.z}" if se > 0 and policy.z > 0 else ""
    return Signal(name, fired, drop, limit, f"{values}: drop {drop:.4f} {'>=' if big else '<'} {limit}{test}")


def _floor(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, floor = "below_floor", inputs.floor
    if not policy.floor_enabled:
        return Signal(name, False, None, None, "disabled")
    if not _known(floor) or not _known(inputs.current):
        return Signal(name, False, None, floor, "no floor or no recent metric")
    upper = float(inputs.current) + policy.z * _se(inputs.current_se)
    fired = upper < float(floor)
    return Signal(
        name,
        fired,
        float(inputs.current),
        float(floor),
        f"{policy.primary_metric} {inputs.current:.4f} (upper bound {upper:.4f}) "
        f"{'<' if fired else '>='} the gate's floor {floor}",
    )


def _calibration(inputs: TriggerInputs, policy: TriggerPolicy) -> Signal:
    name, limit = "calibration", policy.calibration_min_shift
    if limit is None:
        return Signal(name, False, None, None, "disabled")
    if not _known(inputs.calibration_gap) or not _known(inputs.calibration_baseline):
        return Signal(name, False, None, limit, "no calibration baseline or too few recent labels")
    shift = abs(float(inputs.calibration_gap) - float(inputs.calibration_baseline))
    se = _se(inputs.calibration_se, inputs.calibration_baseline_se)
    big = reaches(shift, limit)
    sure = se == 0 or policy.z <= 0 or reaches(shift / se, policy.z)
    return Signal(
        name,
        big and sure,
        shift,
        limit,
        f"positive rate minus mean probability {inputs.calibration_gap:+.4f} vs baseline "
        f"{inputs.calibration_baseline:+.4f}: shift {shift:.4f} {'>=' if big else '<'} {limit}"
        + (f", z {shift / se:.2f} {'>=' if sure else '<'} {policy.z}" if se > 0 and policy.z > 0 else ""),
    )


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
    reason = f"drift score {score:.4f} {'>=' if fired else '<'} {limit}"
    if fired and policy.drift_rearm is not None and _known(inputs.drift_confirmed):
        rearm = float(inputs.drift_confirmed) + policy.drift_rearm
        fired = reaches(score, rearm)
        reason += (
            f", and {'>=' if fired else '<'} {rearm:.4f} (the score when a retrain last confirmed "
            f"the champion, {inputs.drift_confirmed:.4f}, plus rearm {policy.drift_rearm})"
        )
    return Signal(name, fired, score, limit, reason)


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
    triggers = [
        _performance(inputs, policy),
        _floor(inputs, policy),
        _age(inputs, policy),
        _drift(inputs, policy),
        _calibration(inputs, policy),
    ]
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


def confirms(fired: Iterable[str], kept_before: int, policy: TriggerPolicy) -> bool:
    """Does a retrain whose challengers lost the gate confirm the (healthy) champion?

    ``fired``: the triggers that started the retrain; ``kept_before``: the retrains in a row just
    before it that this rule kept unconfirmed. A loss trigger says the champion got worse: while
    fewer than ``policy.retries`` such retrains were kept, the champion is not confirmed (its
    baseline and age stand, so the trigger fires again). Any other retrain confirms it.
    """
    if not set(fired) & set(LOSS_TRIGGERS):
        return True
    return kept_before >= policy.retries
