"""Sweep logic without processes: search spaces, sampling, grid expansion, early-termination decisions."""

from __future__ import annotations

import math
import random

import pytest

from ctloop.engine.sweep_space import (
    DISTRIBUTIONS,
    Policy,
    SweepError,
    best_trial,
    parameter_sets,
    parse_sweep,
    sweep_lines,
    to_terminate,
)

EVERY_KIND = {
    "c": {"type": "choice", "values": ["a", "b", 3]},
    "r": {"type": "randint", "upper": 5},
    "u": {"type": "uniform", "min_value": 0.5, "max_value": 0.9},
    "lu": {"type": "loguniform", "min_value": -3, "max_value": -1},
    "n": {"type": "normal", "mu": 10, "sigma": 0.001},
    "ln": {"type": "lognormal", "mu": 0, "sigma": 0.001},
    "qu": {"type": "quniform", "min_value": 0, "max_value": 100, "q": 5},
    "qlu": {"type": "qloguniform", "min_value": 1, "max_value": 4, "q": 2},
    "qn": {"type": "qnormal", "mu": 50, "sigma": 10, "q": 3},
    "qln": {"type": "qlognormal", "mu": 2, "sigma": 0.5, "q": 4},
}


def sweep(**overrides):
    data = {
        "search_space": EVERY_KIND,
        "sampling_algorithm": {"type": "random", "seed": 11},
        "objective": {"goal": "maximize", "primary_metric": "acc"},
        "limits": {"max_total_trials": 40},
    }
    data.update(overrides)
    return parse_sweep(data)


def test_the_distributions_are_azure_mls_and_every_kind_samples_within_its_definition():
    from azure.ai.ml import sweep as sdk

    sdk_names = {n.lower() for n in sdk.__all__} & {k.lower() for k in DISTRIBUTIONS}
    assert sdk_names == set(DISTRIBUTIONS)  # every name is an azure.ai.ml.sweep class
    draws = list(parameter_sets(sweep()))
    assert len(draws) == 40
    for d in draws:
        assert d["c"] in ("a", "b", 3)
        assert isinstance(d["r"], int) and 0 <= d["r"] < 5
        assert 0.5 <= d["u"] <= 0.9
        assert math.exp(-3) <= d["lu"] <= math.exp(-1)  # min/max are exponents (Azure ML)
        assert d["n"] == pytest.approx(10, abs=0.01)
        assert d["ln"] == pytest.approx(1, abs=0.01)
        assert d["qu"] % 5 == 0 and 0 <= d["qu"] <= 100
        assert d["qlu"] % 2 == 0 and d["qn"] % 3 == 0 and d["qln"] % 4 == 0
    assert {d["c"] for d in draws} == {"a", "b", 3}


def test_random_sampling_is_reproducible_with_a_seed_and_differs_across_seeds():
    first = list(parameter_sets(sweep()))
    assert first == list(parameter_sets(sweep()))
    other = list(parameter_sets(sweep(sampling_algorithm={"type": "random", "seed": 12})))
    assert other != first


def test_grid_expands_choices_in_order_and_stops_at_max_total_trials():
    space = {"a": {"type": "choice", "values": [1, 2]}, "b": {"type": "choice", "values": ["x", "y", "z"]}}
    full = parse_sweep({**_grid(space), "limits": {}})
    assert full.max_total_trials == 6
    assert list(parameter_sets(full))[:4] == [
        {"a": 1, "b": "x"},
        {"a": 1, "b": "y"},
        {"a": 1, "b": "z"},
        {"a": 2, "b": "x"},
    ]
    capped = parse_sweep({**_grid(space), "limits": {"max_total_trials": 2}})
    assert len(list(parameter_sets(capped))) == 2


def _grid(space):
    return {
        "search_space": space,
        "sampling_algorithm": "grid",
        "objective": {"goal": "minimize", "primary_metric": "l"},
    }


def test_bayesian_runs_as_random_with_a_stated_warning():
    settings = sweep(sampling_algorithm="bayesian")
    assert settings.algorithm == "random"
    assert settings.warnings and "bayesian" in settings.warnings[0]
    assert not sweep().warnings


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"search_space": {"a": {"type": "gaussian", "mu": 1}}},
            "search_space.a.type",
            "unknown distribution",
        ),
        ({"search_space": {"a": {"type": "uniform", "min_value": 1}}}, "search_space.a.max_value", "needs"),
        (
            {"search_space": {"a": {"type": "uniform", "min_value": 2, "max_value": 1}}},
            "search_space.a.min_value",
            "",
        ),
        ({"search_space": {"a": {"type": "choice", "values": []}}}, "search_space.a.values", "non-empty"),
        (
            {"search_space": {"a": {"type": "quniform", "min_value": 0, "max_value": 1, "q": 0}}},
            "search_space.a.q",
            "",
        ),
        ({"sampling_algorithm": "grid"}, "search_space.r.type", "choice distributions only"),
        ({"sampling_algorithm": "hyperband"}, "sampling_algorithm", "unknown"),
        ({"objective": {"goal": "max", "primary_metric": "acc"}}, "objective.goal", "maximize or minimize"),
        ({"objective": {"goal": "maximize"}}, "objective.primary_metric", "needs"),
        ({"limits": {"max_total_trials": 0}}, "limits.max_total_trials", "positive"),
        ({"early_termination": {"type": "bandit"}}, "early_termination", "slack"),
        (
            {"early_termination": {"type": "truncation_selection"}},
            "early_termination.truncation_percentage",
            "",
        ),
        ({"early_termination": {"type": "hyperband"}}, "early_termination.type", "unknown policy"),
    ],
)
def test_bad_settings_name_the_field_and_the_reason(change, field, words):
    with pytest.raises(SweepError) as info:
        sweep(**change)
    assert ".".join(info.value.field) == field
    assert words in info.value.reason


def test_bandit_stops_a_trial_outside_the_slack_of_the_best_at_the_same_interval():
    policy = Policy("bandit", slack_factor=0.1, evaluation_interval=1)
    histories = {"a": [0.5, 0.8], "b": [0.4, 0.7], "c": [0.3]}
    # best at interval 2 is 0.8; 0.7 < 0.8 / 1.1 = 0.727 -> b stops; c (interval 1: 0.3 < 0.5/1.1) stops
    assert set(to_terminate(policy, "maximize", histories, ["a", "b", "c"])) == {"b", "c"}
    amount = Policy("bandit", slack_amount=0.15)
    assert set(to_terminate(amount, "maximize", histories, ["a", "b", "c"])) == {"c"}
    minimize = {"a": [1.0], "b": [1.2]}
    assert set(to_terminate(Policy("bandit", slack_factor=0.1), "minimize", minimize, ["a", "b"])) == {"b"}


def test_delay_and_interval_decide_when_the_policy_applies():
    policy = Policy("bandit", slack_factor=0.1, delay_evaluation=3, evaluation_interval=2)
    assert [policy.evaluation_point(n) for n in range(1, 7)] == [None, None, None, 4, 4, 6]
    histories = {"good": [0.9, 0.9, 0.9], "bad": [0.1, 0.1, 0.1]}
    assert to_terminate(policy, "maximize", histories, ["bad"]) == {}  # interval 3 is not evaluated
    histories["bad"].append(0.1)
    histories["good"].append(0.9)
    assert "bad" in to_terminate(policy, "maximize", histories, ["bad"])


def test_median_stopping_compares_with_the_median_of_running_averages():
    policy = Policy("median_stopping", evaluation_interval=1)
    histories = {"a": [0.2, 0.4], "b": [0.5, 0.7], "c": [0.6, 0.8], "d": [0.1, 0.55]}
    # averages at interval 2: a 0.3, b 0.6, c 0.7 -> median 0.6; d's best so far 0.55 is worse
    assert set(to_terminate(policy, "maximize", histories, ["d"])) == {"d"}
    assert to_terminate(policy, "maximize", {"only": [0.1]}, ["only"]) == {}  # nobody to compare with


def test_truncation_cuts_the_lowest_percentage_and_can_exclude_finished_trials():
    policy = Policy("truncation_selection", truncation_percentage=50, evaluation_interval=1)
    histories = {"a": [0.9], "b": [0.1], "c": [0.5], "d": [0.3]}
    stopped = to_terminate(policy, "maximize", histories, ["a", "b", "c", "d"])
    assert set(stopped) == {"b", "d"}
    assert set(to_terminate(policy, "minimize", histories, ["a", "b", "c", "d"])) == {"a", "c"}
    excluding = Policy("truncation_selection", truncation_percentage=50, exclude_finished_jobs=True)
    # with a and c finished and excluded, only b and d are ranked: the lower one (b) goes
    assert set(to_terminate(excluding, "maximize", histories, ["b", "d"], finished=["a", "c"])) == {"b"}


def test_best_trial_follows_the_goal_and_ignores_missing_metrics():
    metrics = {"0": 0.3, "1": None, "2": 0.7, "3": float("nan")}
    assert best_trial("maximize", metrics) == "2"
    assert best_trial("minimize", metrics) == "0"
    assert best_trial("maximize", {"0": None}) is None


def test_sweep_lines_show_the_best_trial_and_every_trial():
    lines = sweep_lines(
        "tune",
        {
            "objective": {"primary_metric": "acc", "goal": "maximize"},
            "best": 1,
            "trials": [
                {"trial": 0, "status": "terminated", "metric": 0.1, "reason": "early termination: bandit"},
                {"trial": 1, "status": "completed", "metric": 0.9, "params": {"lr": 0.1}},
            ],
        },
    )
    assert lines[0] == "sweep tune: 2 trials, maximize acc"
    assert lines[1] == "  best trial 1: acc=0.9 params {'lr': 0.1}"
    assert "terminated" in lines[2] and "bandit" in lines[2]


def test_sampling_uses_no_global_random_state():
    random.seed(1)
    before = random.random()
    random.seed(1)
    list(parameter_sets(sweep()))
    assert random.random() == before
