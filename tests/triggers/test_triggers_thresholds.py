"""Triggers fire exactly at their thresholds and not below; guards block; the policy file is validated."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ctloop.monitor.settings import load_settings
from ctloop.policies import PolicyError
from ctloop.triggers import TriggerInputs, TriggerPolicy, evaluate


@pytest.fixture
def policy(repo_root: Path) -> TriggerPolicy:
    return load_settings(repo_root / "policies").triggers


def healthy(**changes: object) -> TriggerInputs:
    """A champion far from every threshold, with guards satisfied."""
    base = TriggerInputs(
        has_champion=True,
        baseline=0.85,
        current=0.84,
        champion_age_days=1.0,
        drift_score=0.05,
        new_labelled_rows=1000,
        hours_since_retrain=1000.0,
    )
    return replace(base, **changes)


def test_production_defaults_are_the_required_ones(policy: TriggerPolicy) -> None:
    assert (policy.max_drop, policy.max_age_days, policy.drift_threshold) == (0.05, 7.0, 0.3)
    assert policy.primary_metric == "roc_auc"


def test_nothing_fires_on_a_healthy_champion(policy: TriggerPolicy) -> None:
    decision = evaluate(healthy(), policy)
    assert not decision.retrain and decision.fired == []
    assert decision.reason == "no trigger fired"


@pytest.mark.parametrize(
    ("current", "fires"),
    [(0.80, True), (0.79, True), (0.8000001, False), (0.81, False)],
)
def test_performance_drop_fires_at_exactly_the_threshold(
    policy: TriggerPolicy, current: float, fires: bool
) -> None:
    # 0.85 - 0.80 is 0.04999999999999993 in binary floating point: it must still fire.
    decision = evaluate(healthy(current=current), policy)
    assert ("performance_drop" in decision.fired) is fires
    assert decision.retrain is fires


@pytest.mark.parametrize(("age", "fires"), [(7.0, True), (30.0, True), (6.999, False)])
def test_champion_age_fires_at_exactly_the_threshold(policy: TriggerPolicy, age: float, fires: bool) -> None:
    decision = evaluate(healthy(champion_age_days=age), policy)
    assert decision.fired == (["champion_age"] if fires else [])


@pytest.mark.parametrize(("score", "fires"), [(0.3, True), (0.9, True), (0.2999, False)])
def test_drift_fires_at_exactly_the_threshold(policy: TriggerPolicy, score: float, fires: bool) -> None:
    decision = evaluate(healthy(drift_score=score), policy)
    assert decision.fired == (["drift"] if fires else [])
    signal = next(s for s in decision.triggers if s.name == "drift")
    assert signal.value == score and signal.threshold == 0.3


def test_several_triggers_are_all_reported(policy: TriggerPolicy) -> None:
    decision = evaluate(healthy(current=0.5, champion_age_days=8, drift_score=0.5), policy)
    assert decision.fired == ["performance_drop", "champion_age", "drift"] and decision.retrain


@pytest.mark.parametrize(
    ("rows", "hours", "retrain", "blocker"),
    [
        (7, 24.0, True, None),
        (6, 24.0, False, "min_new_labelled_rows"),
        (7, 23.99, False, "cooldown"),
        (100, None, True, None),
    ],
)
def test_guards_block_below_and_pass_at_their_thresholds(
    policy: TriggerPolicy, rows: int, hours: float | None, retrain: bool, blocker: str | None
) -> None:
    decision = evaluate(healthy(drift_score=0.4, new_labelled_rows=rows, hours_since_retrain=hours), policy)
    assert decision.fired == ["drift"]
    assert decision.retrain is retrain
    blocked = [g.name for g in decision.guards if not g.fired]
    assert blocked == ([blocker] if blocker else [])
    if blocker:
        assert "blocked" in decision.reason


def test_no_champion_retrains_whatever_the_guards(policy: TriggerPolicy) -> None:
    decision = evaluate(
        TriggerInputs(has_champion=False, new_labelled_rows=0, hours_since_retrain=0.0), policy
    )
    assert decision.retrain and decision.fired == ["no_champion"]


def test_unknown_inputs_cannot_fire(policy: TriggerPolicy) -> None:
    decision = evaluate(
        healthy(baseline=None, current=None, champion_age_days=None, drift_score=None), policy
    )
    assert not decision.retrain
    reasons = {s.name: s.reason for s in decision.triggers}
    assert "baseline" in reasons["performance_drop"] and "unknown" in reasons["champion_age"]


def _policies_copy(repo_root: Path, tmp_path: Path, edit) -> Path:
    target = tmp_path / "policies"
    (target / "schemas").mkdir(parents=True)
    shutil.copy(repo_root / "policies/schemas/retraining.schema.json", target / "schemas")
    data = yaml.safe_load((repo_root / "policies/retraining.yml").read_text())
    edit(data)
    (target / "retraining.yml").write_text(yaml.safe_dump(data))
    return target


def test_disabled_trigger_never_fires(repo_root: Path, tmp_path: Path) -> None:
    folder = _policies_copy(repo_root, tmp_path, lambda d: d["triggers"]["drift"].update(enabled=False))
    policy = load_settings(folder).triggers
    assert policy.drift_threshold is None
    assert not evaluate(healthy(drift_score=0.99), policy).retrain


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (
            lambda d: d["triggers"]["performance_drop"].update(max_drop=-0.1),
            "triggers.performance_drop.max_drop",
        ),
        (lambda d: d["guards"].pop("cooldown_hours"), "guards.cooldown_hours"),
        (lambda d: d["monitor"]["drift"].update(method="median"), "monitor.drift.method"),
        (lambda d: d["triggers"].update(surprise={"enabled": True}), "triggers.surprise"),
    ],
)
def test_invalid_policy_names_file_and_field(repo_root: Path, tmp_path: Path, edit, field: str) -> None:
    folder = _policies_copy(repo_root, tmp_path, edit)
    with pytest.raises(PolicyError) as info:
        load_settings(folder)
    assert info.value.field == field
    assert info.value.file.endswith("retraining.yml")


def test_replay_overrides_only_the_periods(repo_root: Path) -> None:
    prod = load_settings(repo_root / "policies")
    replay = load_settings(repo_root / "policies", replay=True)
    assert replay.triggers.max_drop == prod.triggers.max_drop
    assert replay.triggers.drift_threshold == prod.triggers.drift_threshold
    assert replay.triggers.max_age_days > prod.triggers.max_age_days
    assert replay.monitor == prod.monitor
    assert replay.monitor.drift_metric == prod.monitor.drift_metric
