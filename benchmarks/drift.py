"""Drift statistics: ctloop.drift against the plain numpy/scipy equivalents, side by side.

    .venv/bin/python benchmarks/drift.py [--rows 100000] [--features 20] [--repeat 3]

Reference and current data are ``rows x features`` Gaussians, the current one mildly shifted
(mean +0.05, sd x1.05: a drift KS detects at this size). Every figure is the best of ``--repeat``
runs over all features, in seconds. ``ctloop`` times a statistic from already-sorted columns (the
table sorts each column once; that shared sort is its own row), the ``plain`` column calls numpy
or scipy per feature as one would without ctloop. ``max |diff|`` checks that both give the same
numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from ctloop import drift


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cols = [f"f{i}" for i in range(args.features)]
    ref = pd.DataFrame(rng.normal(size=(args.rows, args.features)), columns=cols)
    cur = pd.DataFrame(rng.normal(0.05, 1.05, size=(args.rows, args.features)), columns=cols)
    categories = np.array([f"c{i}" for i in range(12)])
    ref_cat = pd.DataFrame({c: rng.choice(categories, size=args.rows) for c in cols})
    cur_cat = pd.DataFrame(
        {
            c: rng.choice(categories, size=args.rows, p=np.linspace(1, 2, 12) / np.linspace(1, 2, 12).sum())
            for c in cols
        }
    )
    r, k, b = args.repeat, args.features, args.bins

    t_sort, (rs, cs) = best_of(r, lambda: (drift._sorted_matrix(ref, cols), drift._sorted_matrix(cur, cols)))

    def ours_counts():
        edges = [drift.quantile_edges(x, b) for x in rs]
        return [
            (drift.bin_counts(x, e), drift.bin_counts(y, e)) for x, y, e in zip(rs, cs, edges, strict=True)
        ]

    def plain_counts():
        out = []
        for c in cols:
            edges = np.quantile(ref[c], np.linspace(0, 1, b + 1))
            edges[0], edges[-1] = -np.inf, np.inf
            out.append((np.histogram(ref[c], edges)[0], np.histogram(cur[c], edges)[0]))
        return out

    rows: list[tuple[str, float, float, float]] = []

    t_counts, _ = best_of(r, ours_counts)
    p_counts, _ = best_of(r, plain_counts)
    t_psi, psi_ours = best_of(r, lambda: [drift.psi_from_counts(x, y) for x, y in ours_counts()])
    p_psi, psi_plain = best_of(r, lambda: [drift.psi_from_counts(x, y) for x, y in plain_counts()])
    rows.append(
        ("psi (quantile bins)", t_psi, p_psi, float(np.max(np.abs(np.subtract(psi_ours, psi_plain)))))
    )

    t_js, js_ours = best_of(r, lambda: [drift.js_distance_from_counts(x, y) for x, y in ours_counts()])
    p_js, js_plain = best_of(r, lambda: [jensenshannon(x, y, base=2) for x, y in plain_counts()])
    rows.append(
        ("jensen_shannon (same bins)", t_js, p_js, float(np.max(np.abs(np.subtract(js_ours, js_plain)))))
    )

    t_w, w_ours = best_of(
        r, lambda: [drift.normalized_wasserstein_from_sorted(x, y) for x, y in zip(rs, cs, strict=True)]
    )
    p_w, w_plain = best_of(
        r,
        lambda: [
            stats.wasserstein_distance(ref[c], cur[c]) / max(ref[c].std(), drift.STD_FLOOR) for c in cols
        ],
    )
    rows.append(("normalized_wasserstein", t_w, p_w, float(np.max(np.abs(np.subtract(w_ours, w_plain))))))

    t_ks, ks_ours = best_of(r, lambda: [drift.ks_from_sorted(x, y) for x, y in zip(rs, cs, strict=True)])
    p_ks, ks_plain = best_of(r, lambda: [stats.ks_2samp(ref[c], cur[c]) for c in cols])
    ks_diff = float(np.max(np.abs([o[0] - p.statistic for o, p in zip(ks_ours, ks_plain, strict=True)])))
    rows.append(("ks statistic + p-value", t_ks, p_ks, ks_diff))

    t_chi, chi_ours = best_of(
        r,
        lambda: [
            drift.chi_squared_from_counts(*drift.category_counts(ref_cat[c], cur_cat[c])[1:]) for c in cols
        ],
    )

    def plain_chi():
        out = []
        for c in cols:
            table = pd.concat([ref_cat[c].value_counts(), cur_cat[c].value_counts()], axis=1).fillna(0)
            out.append(stats.chi2_contingency(table.to_numpy().T, correction=False))
        return out

    p_chi, chi_plain = best_of(r, plain_chi)
    chi_diff = float(np.max(np.abs([o[0] - p.statistic for o, p in zip(chi_ours, chi_plain, strict=True)])))
    rows.append(("chi-squared (categorical)", t_chi, p_chi, chi_diff))

    t_table, _ = best_of(r, lambda: drift.feature_table(ref, cur, cols, bins=b))
    p_table = p_psi + p_js + p_w + p_ks
    rows.append(("whole numerical table", t_table, p_table, float("nan")))
    t_cat_table, _ = best_of(r, lambda: drift.feature_table(ref_cat, cur_cat, cols, bins=b))

    print(f"{args.rows:,} x {k} reference vs {args.rows:,} x {k} current, best of {r}, seconds")
    print(f"{'statistic':<30}{'ctloop':>10}{'plain':>10}{'speed-up':>10}{'max |diff|':>13}")
    print(f"{'shared sort (ctloop only)':<30}{t_sort:>10.3f}{'':>10}{'':>10}{'':>13}")
    for name, ours, theirs, diff in rows:
        print(f"{name:<30}{ours:>10.3f}{theirs:>10.3f}{theirs / ours:>9.1f}x{diff:>13.2g}")
    print(f"{'  (ctloop table includes the sort; plain = sum of the four numerical rows)':<30}")
    print(f"{'categorical table (psi, js, chi2)':<30}{t_cat_table:>10.3f}")
    print(f"bins-only: ctloop {t_counts:.3f} s vs np.quantile + np.histogram {p_counts:.3f} s")


if __name__ == "__main__":
    main()
