"""The promotion gate on the real rainfall data: AUCs of the drift story and bootstrap timings.

    .venv/bin/python benchmarks/gate.py [--repeat 3] [--threads 1]

Part 1 trains HistGradientBoosting (the default trainer, default settings) on three windows of
the bundled rainfall data and scores each on the latest labelled year (the prep step's default
split: ``policies/data.yml``), then runs the gate of ``policies/promotion.yml`` for the drift
scenario (a champion trained on the early decades vs a challenger retrained on the recent ten
years) and for two equally good challengers (noise, which must not be promoted).

Part 2 times the paired bootstrap (policy resamples, both metrics) on eval slices of growing size,
best of ``--repeat``, against the obvious loop over ``sklearn.metrics.roc_auc_score``.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from ctloop import gate, metrics
from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
from ctloop.policies import load_policy

REPO = Path(__file__).resolve().parents[1]


def fit(model, frame):
    return model.fit(frame[list(RAINFALL_FEATURES)], frame[RAINFALL_LABEL])


def proba(model, frame) -> np.ndarray:
    return model.predict_proba(frame[list(RAINFALL_FEATURES)])[:, 1]


def drift_story(policy: gate.GatePolicy, split: dict) -> None:
    data = load_rainfall()
    n = len(data)
    eval_days, train_days = split["eval_days"], split["train_days"]
    latest = data.iloc[n - eval_days :]
    recent = data.iloc[n - eval_days - train_days : n - eval_days]
    early = data.iloc[:9000]
    y = latest[RAINFALL_LABEL].to_numpy()

    champion = fit(HistGradientBoostingClassifier(random_state=0), early)
    challenger = fit(HistGradientBoostingClassifier(random_state=0), recent)
    rival = fit(RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=0), recent)
    early_holdout = data.iloc[9000:10000]
    rows = [
        (
            "trained rows 0-8,999, scored on rows 9,000-9,999",
            early_holdout[RAINFALL_LABEL],
            proba(champion, early_holdout),
        ),
        (f"same model on the latest {eval_days} days", y, proba(champion, latest)),
        (f"trained on the {train_days} days before them", y, proba(challenger, latest)),
        ("RandomForest(200) on that window", y, proba(rival, latest)),
    ]
    print("ROC-AUC of HistGradientBoosting (default settings), rainfall data")
    for label, truth, scores in rows:
        print(f"  {label:<52} {metrics.roc_auc(truth, scores):.4f}")
    for title, a, b in [
        ("retrained challenger vs stale champion", challenger, champion),
        ("RandomForest challenger vs retrained HGB champion", rival, challenger),
    ]:
        decision = gate.decide(y, proba(a, latest), proba(b, latest), policy, "champion")
        boot = decision.bootstrap
        interval = f"{policy.confidence:.0%} CI [{boot.ci_low:+.4f}, {boot.ci_high:+.4f}]"
        print(f"gate, {title}: difference {decision.difference:+.4f}, {interval}, promote={decision.promote}")


def best_of(repeat: int, fn) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def timings(policy: gate.GatePolicy, repeat: int) -> None:
    print(f"\npaired bootstrap, {policy.resamples} resamples, best of {repeat} (seconds)")
    print(f"{'rows':>8} {'roc_auc':>9} {'avg_prec':>9} {'sklearn loop (roc_auc)':>24}")
    rng = np.random.default_rng(0)
    for rows in (365, 3650, 18159, 100_000):
        y = rng.random(rows) < 0.31
        a = np.clip(rng.normal(0.3 + 0.3 * y, 0.2), 0, 1)
        b = np.clip(rng.normal(0.3 + 0.28 * y, 0.2), 0, 1)
        auc = best_of(repeat, partial(gate.paired_bootstrap, y, a, b, "roc_auc", policy.resamples, 0.95, 1))
        ap = best_of(
            repeat, partial(gate.paired_bootstrap, y, a, b, "average_precision", policy.resamples, 0.95, 1)
        )
        loop = f"{best_of(1, partial(sklearn_loop, y, a, b, policy.resamples)):.3f}" if rows <= 18159 else "-"
        print(f"{rows:>8} {auc:>9.3f} {ap:>9.3f} {loop:>24}")


def sklearn_loop(y: np.ndarray, a: np.ndarray, b: np.ndarray, resamples: int) -> None:
    """The obvious paired bootstrap: resample indices, call roc_auc_score twice."""
    rng = np.random.default_rng(1)
    for _ in range(resamples):
        idx = rng.integers(0, y.size, y.size)
        roc_auc_score(y[idx], a[idx]) - roc_auc_score(y[idx], b[idx])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="OpenMP threads for the trainers")
    args = parser.parse_args()
    policy = gate.GatePolicy.from_dict(load_policy("promotion", REPO / "policies"))
    split = load_policy("data", REPO / "policies")["split"]
    with threadpool_limits(limits=args.threads, user_api="openmp"):
        drift_story(policy, split)
    timings(policy, args.repeat)


if __name__ == "__main__":
    main()
