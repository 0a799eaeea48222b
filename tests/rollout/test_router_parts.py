"""The router's weighted picker, mirror share and windowed metrics (in-process, no sockets)."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np

from ctloop.metrics import roc_auc
from ctloop.rollout.router import Picker, assign, bucket
from ctloop.rollout.router_metrics import MetricsStore, percentile


def test_random_assignment_follows_the_weights() -> None:
    picker = Picker({"blue": 90, "green": 10}, rng=random.Random(7))
    picks = Counter(picker.pick() for _ in range(10_000))
    assert set(picks) == {"blue", "green"}
    assert 850 <= picks["green"] <= 1150  # 10% of 10,000 within about 5 standard deviations


def test_sticky_assignment_keeps_each_client_on_one_variant() -> None:
    picker = Picker({"blue": 90, "green": 10})
    clients = [f"user-{i}" for i in range(2000)]
    first = {c: picker.pick(c) for c in clients}
    assert all(picker.pick(c) == first[c] for c in clients[:200] for _ in range(3))
    share = sum(v == "green" for v in first.values()) / len(clients)
    assert 0.07 <= share <= 0.13  # every client sees the split in expectation
    assert 0 <= bucket("user-1") < 100 and bucket("user-1") == bucket("user-1")


def test_assign_maps_points_onto_cumulative_shares() -> None:
    weights = {"green": 10, "blue": 90}  # order-independent: shares follow sorted names
    assert assign(weights, 0.0) == "blue" and assign(weights, 89.99) == "blue"
    assert assign(weights, 90.0) == "green" and assign(weights, 99.999) == "green"
    assert assign({"blue": 0}, 50.0) is None


def test_deployments_out_of_rotation_get_nothing() -> None:
    picker = Picker({"blue": 50, "green": 50}, rng=random.Random(1))
    assert {picker.pick(down={"green"}, known=["blue", "green"]) for _ in range(200)} == {"blue"}
    # the only weighted deployment is down: a healthy one at 0% takes the traffic
    solo = Picker({"green": 100})
    assert solo.pick("u1", down={"green"}, known=["blue", "green"]) == "blue"
    assert solo.pick(down={"green", "blue"}, known=["blue", "green"]) is None


def test_zero_weights_route_nowhere() -> None:
    assert Picker({"blue": 0}).pick() is None
    assert Picker({"blue": 100, "green": 0}).pick() == "blue"


def test_mirror_share_is_exact() -> None:
    picker = Picker({"blue": 100})
    assert sum(picker.mirror_now(20) for _ in range(500)) == 100


def test_percentiles_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1.0) == 100
    assert percentile([], 0.5) is None


def test_metrics_by_deployment_and_window() -> None:
    now = [1000.0]
    store = MetricsStore(capacity=1000, clock=lambda: now[0])
    for i in range(100):
        store.record("blue", 200 if i % 10 else 500, float(i))
    store.record("green", 400, 3.0)
    now[0] = cut = 1001.0
    store.record("green", 200, 7.0, mirrored=True)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200).tolist()
    p = rng.random(200).tolist()
    store.record_labelled("green", y, p)
    summary = store.summary(0.0, "roc_auc")
    blue, green = summary["blue"], summary["green"]
    assert (blue.requests, blue.errors, blue.client_errors) == (100, 10, 0)
    assert blue.error_rate == 0.1 and blue.p50_ms == 49.0 and blue.p99_ms == 98.0
    assert (green.requests, green.client_errors, green.mirrored, green.labelled_rows) == (2, 1, 1, 200)
    assert abs(green.primary_metric - roc_auc(np.array(y), np.array(p))) < 1e-12
    assert blue.primary_metric is None
    later = store.summary(cut, "roc_auc")
    assert set(later) == {"green"} and later["green"].requests == 1
