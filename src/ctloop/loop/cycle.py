"""One turn of the continuous-training loop: monitor -> check triggers -> retrain -> deploy.

The training pipeline (``pipelines/training.yml``) ingests the landing folder, validates it,
splits it by time, trains, gates the challenger against the champion and registers it; the loop
records in the metrics history what it did (events ``trigger_check``, ``retrain``, ``promote``,
``deploy``, and ``confirm`` when the gate kept the champion) at the loop's clock (wall time, or
the data's time in a replay). A champion is confirmed only when its own metric on the fresh eval
slice reaches the promotion gate's floor: one that beat a challenger but is itself below the floor
(both are bad after an abrupt change) stays unconfirmed, so its age and its drop keep counting.
After a loss trigger (performance_drop, calibration) the gate's win is recorded as ``keep``, not
``confirm``, up to ``retries`` times in a row (``ctloop.triggers.confirms``): the drop stays
measured against the old baseline and fires again once more of the new data can be trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop.loop.pipeline import RetrainResult
from ctloop.monitor import check
from ctloop.monitor.history import History, WindowRow
from ctloop.monitor.service import Monitor, iso, utc
from ctloop.steps.prep import AFTER_CHANGE, RecentWindow
from ctloop.triggers import TriggerDecision, TriggerInputs, TriggerPolicy, confirms

Retrainer = Callable[[Mapping[str, Any], Path], RetrainResult]
Deployer = Callable[[RetrainResult], dict[str, Any]]


@dataclass
class Loop:
    """Everything one loop turn needs; the same object serves ``ctloop loop`` and the replay."""

    monitor: Monitor
    triggers: TriggerPolicy
    model_name: str
    retrainer: Retrainer
    pipeline_inputs: dict[str, Any]
    work_root: Path
    deployer: Deployer | None = None
    champion: Callable[[], check.ChampionInfo | None] | None = None
    floor: float | None = None  # the promotion gate's floor; None: read promotion.yml of the policies input
    triggers_input: str | None = None  # pipeline input that receives the fired triggers (None: not passed)
    _registry: Any = field(default=None, repr=False)
    _recent: Any = field(default=None, repr=False)

    def gate_floor(self) -> float | None:
        """The promotion gate's floor (promotion.yml of the pipeline's policies input)."""
        if self.floor is None and self.pipeline_inputs.get("policies") is not None:
            from ctloop.policies import load_policy

            self.floor = float(load_policy("promotion", self.pipeline_inputs["policies"])["floor"])
        return self.floor

    @property
    def history(self) -> History:
        return self.monitor.history

    @property
    def scope(self) -> str:
        return self.monitor.scope

    def champion_info(self) -> check.ChampionInfo | None:
        if self.champion:
            return self.champion()
        if self._registry is None:
            from ctloop.registry import open_registry

            self._registry = open_registry(self.model_name)  # opened once: a client takes seconds
        return check.champion_info(self.model_name, self._registry)

    def recent_window(self) -> RecentWindow | None:
        """``candidates.recent_window`` of retraining.yml in the pipeline's policies input."""
        if self._recent is None and self.pipeline_inputs.get("policies") is not None:
            from ctloop.policies import load_policy

            policy = load_policy("retraining", self.pipeline_inputs["policies"])
            self._recent = RecentWindow.from_policy(policy) or False  # False: read, and absent
        return self._recent or None

    def candidate_triggers(self, as_of: pd.Timestamp, fired: list[str]) -> list[str]:
        """``fired``, plus :data:`AFTER_CHANGE` when a change trigger started a retrain lately."""
        recent = self.recent_window()
        if recent is None or recent.due(fired):
            return list(fired)
        changes = [
            e for e in self.history.events(self.scope, "retrain") if recent.due(e.detail.get("fired") or [])
        ]
        if changes and recent.after_change((as_of - utc(changes[-1].time)) / pd.Timedelta(days=1)):
            return [*fired, AFTER_CHANGE]
        return list(fired)

    def _kept_in_a_row(self, version: str) -> int:
        """``keep`` events of ``version`` since the last promotion or confirmation."""
        kept = 0
        for event in reversed(self.history.events(self.scope)):
            if event.kind in ("promote", "confirm"):
                break
            if event.kind == "keep" and str(event.detail.get("version")) == str(version):
                kept += 1
        return kept

    def retrain(self, as_of: pd.Timestamp, fired: list[str]) -> RetrainResult:
        """Run the training pipeline once and record the outcome (and the deployment) as events."""
        count = len(self.history.events(self.scope, "retrain"))
        work = self.work_root / f"retrain-{count + 1:04d}"
        inputs = dict(self.pipeline_inputs)
        if self.triggers_input:
            inputs[self.triggers_input] = ",".join(self.candidate_triggers(as_of, fired)) or "none"
        result = self.retrainer(inputs, work)
        when = iso(as_of)
        self.history.append_event(self.scope, when, "retrain", {"fired": fired, **result.to_dict()})
        floor = self.gate_floor()
        healthy = result.champion_metric is not None and (floor is None or result.champion_metric >= floor)
        if result.status == "completed" and not result.promoted and result.champion_before and healthy:
            # the champion beat a challenger trained on the latest data and clears the floor: it is
            # validated anew, unless a loss trigger fired and may fire again (triggers.confirms)
            kept = self._kept_in_a_row(result.champion_before)
            detail = {"version": result.champion_before, "metric": result.champion_metric}
            if confirms(fired, kept, self.triggers):
                self.history.append_event(self.scope, when, "confirm", detail)
            else:
                self.history.append_event(self.scope, when, "keep", {**detail, "retry": kept + 1})
        if result.status == "completed" and result.promoted and result.version:
            self.history.append_event(
                self.scope,
                when,
                "promote",
                {
                    "version": result.version,
                    "from": result.champion_before,
                    "metric": result.challenger_metric,
                },
            )
            if self.deployer is not None:
                self.history.append_event(
                    self.scope, when, "deploy", {"version": result.version, **self.deployer(result)}
                )
            elif result.deployment and result.deployment.get("status") == "promoted":
                self.history.append_event(
                    self.scope, when, "deploy", {"version": result.version, **result.deployment}
                )
        return result


@dataclass
class Turn:
    """What one loop turn saw and did."""

    as_of: pd.Timestamp
    windows: list[WindowRow]
    inputs: TriggerInputs
    decision: TriggerDecision
    result: RetrainResult | None = None
    notes: list[str] = field(default_factory=list)


def turn(loop: Loop, as_of: str | pd.Timestamp, since: pd.Timestamp | None = None) -> Turn:
    """Monitor up to ``as_of``, check the triggers, retrain when they say so."""
    when = utc(as_of)
    windows = loop.monitor.run(when, since)
    inputs, decision = check.check(
        loop.history, loop.scope, loop.champion_info(), when, loop.triggers, loop.gate_floor()
    )
    check.record_check(loop.history, loop.scope, when, inputs, decision)
    result = loop.retrain(when, decision.fired) if decision.retrain else None
    return Turn(when, windows, inputs, decision, result)
