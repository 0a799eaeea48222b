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
* ``drift_score``: the latest window's overall drift score.
* ``new_labelled_rows``: matched labels recorded in windows that ended after the last retrain.
* ``hours_since_retrain``: from the last ``retrain`` event to ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ctloop.monitor.history import History
from ctloop.monitor.service import iso, utc
from ctloop.triggers import TriggerDecision, TriggerInputs, TriggerPolicy, evaluate

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


def gather(history: History, scope: str, champion: ChampionInfo | None, as_of: pd.Timestamp) -> TriggerInputs:
    """Trigger inputs at ``as_of`` from the history of ``scope`` and the champion."""
    if champion is None:
        return TriggerInputs(has_champion=False)
    windows = history.windows(scope)
    latest = windows[-1].metrics if windows else {}
    events = history.events(scope)
    retrains = [e for e in events if e.kind == "retrain"]
    last_retrain = utc(retrains[-1].time) if retrains else None
    promoted, baseline = champion.promoted_at, champion.baseline
    for event in events:
        if event.kind in ("promote", "confirm") and str(event.detail.get("version")) == champion.version:
            promoted = utc(event.time)
            if event.detail.get("metric") is not None:
                baseline = float(event.detail["metric"])
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
    )


def check(
    history: History, scope: str, champion: ChampionInfo | None, as_of: pd.Timestamp, policy: TriggerPolicy
) -> tuple[TriggerInputs, TriggerDecision]:
    inputs = gather(history, scope, champion, utc(as_of))
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
