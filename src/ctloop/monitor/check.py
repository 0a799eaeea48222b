"""Gather the trigger inputs from the metrics history and the champion, then apply ctloop.triggers.

* ``current``: the latest window's ``recent_primary`` (the primary metric over the labels that
  arrived in the performance lookback, for rows the champion scored).
* ``baseline`` and ``champion_age_days``: the champion's primary metric and the time when it last
  won the gate: its promotion (``promote`` event, else the registry's
  ``ctloop.gate.challenger_metric`` / ``ctloop.promoted_at`` tags, else its creation time), or a
  later retrain whose challenger it beat (``confirm`` event, with the champion's metric on that
  fresh eval slice). A champion that just beat a fresh challenger is as good as new: without
  this, a stable champion would be retrained at every cooldown once it is older than the age
  limit, or once the world shifted in a way no retrain can recover.
* ``baseline`` / ``baseline_se`` once the champion served ``baseline_windows`` windows: the
  inverse-variance pooled primary metric of its first windows since it last won the gate (each window's
  own labels, independent of each other), so the baseline is estimated on live traffic with its
  uncertainty; before that, the gate's metric. ``current_se`` is the recent metric's standard
  error. The calibration gap's baseline is pooled over the same windows.
* ``drift_score``: the latest window's overall drift score; ``drift_confirmed`` the score of the
  last window before a retrain confirmed the champion (the drift trigger re-arms above it).
* ``floor``: the promotion gate's floor, passed in by the caller.
* ``new_labelled_rows``: matched labels recorded in windows that ended after the last retrain.
* ``hours_since_retrain``: from the last ``retrain`` event to ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ctloop.monitor.history import History
from ctloop.monitor.service import iso, utc
from ctloop.triggers import TriggerDecision, TriggerInputs, TriggerPolicy, evaluate, pooled

#: The per-window metric the baseline pools (the window's own labels; ROC-AUC has a standard error).
_PRIMARY = "roc_auc"

TAG_BASELINE = "ctloop.gate.challenger_metric"
TAG_PROMOTED_AT = "ctloop.promoted_at"


@dataclass(frozen=True)
class ChampionInfo:
    """What the check needs to know about the champion."""

    version: str
    baseline: float | None
    promoted_at: pd.Timestamp | None


def champion_info(model_name: str, registry: Any = None) -> ChampionInfo | None:
    """The registry's champion as :class:`ChampionInfo` (None when there is none)."""
    from ctloop.registry import open_registry

    champion = (registry or open_registry(model_name)).champion()
    if champion is None:
        return None
    raw = champion.tags.get(TAG_BASELINE, "")
    try:
        baseline = float(raw) if raw not in ("", None) else None
    except ValueError:
        baseline = None
    when = champion.tags.get(TAG_PROMOTED_AT) or champion.created or None
    return ChampionInfo(champion.version, baseline, utc(when) if when else None)


def _pooled(rows: list[Any], value: str, error: str) -> tuple[float | None, float | None]:
    return pooled([r.metrics.get(value) for r in rows], [r.metrics.get(error) for r in rows])


def gather(
    history: History,
    scope: str,
    champion: ChampionInfo | None,
    as_of: pd.Timestamp,
    baseline_windows: int = 1,
    floor: float | None = None,
) -> TriggerInputs:
    """Trigger inputs at ``as_of`` from the history of ``scope`` and the champion."""
    if champion is None:
        return TriggerInputs(has_champion=False)
    windows = history.windows(scope)
    latest = windows[-1].metrics if windows else {}
    events = history.events(scope)
    retrains = [e for e in events if e.kind == "retrain"]
    last_retrain = utc(retrains[-1].time) if retrains else None
    promoted, baseline = champion.promoted_at, champion.baseline
    confirmed_at = None
    for event in events:
        if event.kind in ("promote", "confirm") and str(event.detail.get("version")) == champion.version:
            promoted = utc(event.time)
            confirmed_at = promoted if event.kind == "confirm" else None
            if event.detail.get("metric") is not None:
                baseline = float(event.detail["metric"])
    baseline_se = None
    served = [  # windows since the champion last won the gate (promotion or confirmation)
        w
        for w in windows
        if w.model_version == champion.version
        and (promoted is None or utc(w.window_start) >= promoted)
        and w.metrics.get(f"{_PRIMARY}_se") is not None
    ][: max(baseline_windows, 1)]
    calibration, calibration_se = None, None
    if baseline_windows > 1 and len(served) >= baseline_windows:
        baseline, baseline_se = _pooled(served, _PRIMARY, f"{_PRIMARY}_se")
        calibration, calibration_se = _pooled(served, "calibration_gap", "calibration_se")
    drift_confirmed = None
    if confirmed_at is not None:
        before = [w for w in windows if utc(w.window_end) <= confirmed_at]
        drift_confirmed = before[-1].metrics.get("drift_score") if before else None
    new_rows = sum(
        int(w.metrics.get("labels_matched") or 0)
        for w in windows
        if last_retrain is None or utc(w.window_end) > last_retrain
    )
    age = (as_of - promoted) / pd.Timedelta(days=1) if promoted is not None else None
    hours = (as_of - last_retrain) / pd.Timedelta(hours=1) if last_retrain is not None else None
    return TriggerInputs(
        has_champion=True,
        baseline=baseline,
        current=latest.get("recent_primary"),
        champion_age_days=age,
        drift_score=latest.get("drift_score"),
        new_labelled_rows=new_rows,
        hours_since_retrain=hours,
        baseline_se=baseline_se,
        current_se=latest.get("recent_primary_se"),
        floor=floor,
        drift_confirmed=drift_confirmed,
        calibration_gap=latest.get("recent_calibration_gap"),
        calibration_se=latest.get("recent_calibration_se"),
        calibration_baseline=calibration,
        calibration_baseline_se=calibration_se,
    )


def check(
    history: History,
    scope: str,
    champion: ChampionInfo | None,
    as_of: pd.Timestamp,
    policy: TriggerPolicy,
    floor: float | None = None,
) -> tuple[TriggerInputs, TriggerDecision]:
    windows = policy.baseline_windows if policy.primary_metric == _PRIMARY else 1
    inputs = gather(history, scope, champion, utc(as_of), windows, floor)
    return inputs, evaluate(inputs, policy)


def record_check(
    history: History, scope: str, as_of: pd.Timestamp, inputs: TriggerInputs, decision: TriggerDecision
) -> None:
    """Append the check to the history's events (kind ``trigger_check``)."""
    detail: dict[str, Any] = {"inputs": inputs.__dict__, "decision": decision.to_dict()}
    history.append_event(scope, iso(as_of), "trigger_check", detail)


def format_decision(decision: TriggerDecision) -> list[str]:
    """Human-readable lines: each trigger and guard with its reason, then ``retrain=true|false``."""
    lines = []
    for signal in decision.triggers:
        mark = "FIRED" if signal.fired else "-"
        lines.append(f"trigger {signal.name:<17} {mark:<6} {signal.reason}")
    for guard in decision.guards:
        mark = "ok" if guard.fired else "BLOCKS"
        lines.append(f"guard   {guard.name:<22} {mark:<6} {guard.reason}")
    lines.append(f"reason: {decision.reason}")
    lines.append(f"retrain={'true' if decision.retrain else 'false'}")
    return lines
