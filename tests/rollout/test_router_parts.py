"""The router's weighted picker, mirror share and windowed metrics (in-process, no sockets)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from ctloop.metrics import roc_auc
from ctloop.rollout.router import Picker
from ctloop.rollout.router_metrics import MetricsStore, percentile


def test_weights_give_exact_shares() -> None:
    picker = Picker({"blue": 90, "green": 10})
    picks = Counter(picker.pick() for _ in range(1000))
    assert picks == {"blue": 900, "green": 100}
    # smooth: green is never picked twice in a row at 10%
    seq = [picker.pick() for _ in range(100)]
    assert all(not (a == b == "green") for a, b in itertools.pairwise(seq))


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
