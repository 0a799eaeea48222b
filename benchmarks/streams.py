"""Time-ordered labelled streams with known drift points, from river's synthetic generators.

``python benchmarks/streams.py [--out DIR]`` writes each stream as ``<name>.parquet`` (columns
``date``, the features, ``label``) and prints its drift points; ``benchmarks/replay.py`` builds
them in memory. Every stream has ``ROWS_PER_DAY`` rows per day, a warm-up of the data policy's
train + eval days, then ``BATCHES`` batches of the replay's ``batch_days``; drift points are batch
indices after the warm-up. Labels are flipped with probability ``LABEL_NOISE`` so no model is
perfect. Kinds:

* ``abrupt``: Agrawal function 1 becomes function 4 at one row.
* ``gradual``: river's ``ConceptDriftStream`` from Agrawal function 2 to function 5 over 8 batches.
* ``recurring``: Agrawal functions 0 and 3 alternate every 20 batches.
* ``covariate``: Agrawal function 2 throughout; from the drift point rows are drawn with a bias
  towards older, richer applicants (P(x) moves, P(y | x) does not).
* ``label_threshold``: SEA's threshold on f0 + f1 moves from 8 (variant 0) to 9.5 (variant 3):
  the same ranking, a different positive rate.
* ``one_feature``: a 20-feature Hyperplane whose most predictive feature is read with an offset of
  6 standard deviations from the drift point on (a recalibrated sensor): one of 20 inputs drifts
  and the model, which leans on it, decays.
* ``stationary_agrawal``, ``stationary_hyperplane``: no drift (controls).
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from river.datasets import synth

ROWS_PER_DAY = 2
BATCH_DAYS = 90
BATCHES = 80
WARMUP_DAYS = 3650 + 365  # data.yml split.train_days + eval_days
LABEL_NOISE = 0.05
START = pd.Timestamp("1990-01-01")


@dataclass(frozen=True)
class SyntheticStream:
    """One stream: the table, its features, its drift points (batch indices) and its kind."""

    name: str
    kind: str
    frame: pd.DataFrame
    features: list[str]
    drift_batches: list[int] = field(default_factory=list)
    abrupt: bool = False  # a drift point is one row (detection delay applies)

    @property
    def stationary(self) -> bool:
        return not self.drift_batches


def _rows(batches: int = BATCHES) -> tuple[int, int]:
    """(warm-up rows, total rows)."""
    warm = WARMUP_DAYS * ROWS_PER_DAY
    return warm, warm + batches * BATCH_DAYS * ROWS_PER_DAY


def _batch_row(batch: int) -> int:
    return _rows()[0] + batch * BATCH_DAYS * ROWS_PER_DAY


def _take(generator: object, n: int) -> tuple[list[dict], list[int]]:
    xs, ys = [], []
    for x, y in itertools.islice(iter(generator), n):
        xs.append(x)
        ys.append(int(y))
    return xs, ys


def _frame(xs: list[dict], ys: list[int], seed: int, prefix: str = "") -> pd.DataFrame:
    frame = pd.DataFrame(xs)
    frame.columns = [f"{prefix}{c}" for c in frame.columns]
    frame = frame.astype(float)
    rng = np.random.default_rng(seed)
    y = np.asarray(ys, dtype=int)
    flip = rng.random(y.size) < LABEL_NOISE
    frame["label"] = np.where(flip, 1 - y, y)
    days = np.arange(len(frame)) // ROWS_PER_DAY
    hours = (np.arange(len(frame)) % ROWS_PER_DAY) * (24 // ROWS_PER_DAY)
    frame.insert(0, "date", START + pd.to_timedelta(days, unit="D") + pd.to_timedelta(hours, unit="h"))
    return frame


def _segments(parts: list[tuple[object, int]]) -> tuple[list[dict], list[int]]:
    xs: list[dict] = []
    ys: list[int] = []
    for generator, n in parts:
        x, y = _take(generator, n)
        xs += x
        ys += y
    return xs, ys


def make_streams(seed: int = 7) -> list[SyntheticStream]:
    """All benchmark streams (deterministic for a seed)."""
    _, total = _rows()
    drift = 30
    cut = _batch_row(drift)
    out: list[SyntheticStream] = []

    def agrawal(fn: int, k: int) -> synth.Agrawal:
        return synth.Agrawal(classification_function=fn, seed=seed + k)

    xs, ys = _segments([(agrawal(1, 1), cut), (agrawal(4, 2), total - cut)])
    frame = _frame(xs, ys, seed)
    out.append(SyntheticStream("abrupt", "abrupt", frame, _features(frame), [drift], abrupt=True))

    width = 8 * BATCH_DAYS * ROWS_PER_DAY
    gradual = synth.ConceptDriftStream(
        stream=agrawal(2, 3), drift_stream=agrawal(5, 4), position=cut + width // 2, width=width, seed=seed
    )
    frame = _frame(*_take(gradual, total), seed + 1)
    out.append(SyntheticStream("gradual", "gradual", frame, _features(frame), [drift]))

    period = 20
    parts, points = [], []
    edges = list(range(0, BATCHES + 1, period))
    for i, (lo, hi) in enumerate(itertools.pairwise([-1, *edges[1:]])):
        start = 0 if lo < 0 else _batch_row(lo)
        end = total if hi >= BATCHES else _batch_row(hi)
        parts.append((agrawal(0 if i % 2 == 0 else 3, 10 + i), end - start))
        if hi < BATCHES:
            points.append(hi)
    frame = _frame(*_segments(parts), seed + 2)
    out.append(SyntheticStream("recurring", "recurring", frame, _features(frame), points, abrupt=True))

    base = iter(agrawal(2, 20))
    rng = np.random.default_rng(seed)
    xs, ys = _take(base, cut)
    while len(xs) < total:  # biased draws: P(x) shifts towards older, richer applicants
        x, y = next(base)
        if rng.random() < (0.9 if x["age"] >= 50 and x["salary"] >= 75_000 else 0.15):
            xs.append(x)
            ys.append(int(y))
    frame = _frame(xs, ys, seed + 3)
    out.append(SyntheticStream("covariate", "covariate", frame, _features(frame), [drift]))

    xs, ys = _segments(
        [(synth.SEA(variant=0, seed=seed + 30), cut), (synth.SEA(variant=3, seed=seed + 31), total - cut)]
    )
    frame = _frame(xs, ys, seed + 4, prefix="f")
    out.append(
        SyntheticStream("label_threshold", "label_threshold", frame, _features(frame), [drift], abrupt=True)
    )

    frame = _frame(
        *_take(synth.Hyperplane(seed=seed + 40, n_features=20, noise_percentage=0.0), total), seed + 5, "x"
    )
    features = _features(frame)
    strength = [abs(np.corrcoef(frame[f][:cut], frame["label"][:cut])[0, 1]) for f in features]
    strongest = features[int(np.argmax(strength))]
    frame.loc[cut:, strongest] += 6 * frame[strongest][:cut].std()
    out.append(SyntheticStream("one_feature", "one_feature", frame, features, [drift], abrupt=True))

    frame = _frame(*_take(agrawal(2, 50), total), seed + 6)
    out.append(SyntheticStream("stationary_agrawal", "stationary", frame, _features(frame)))
    frame = _frame(
        *_take(synth.Hyperplane(seed=seed + 60, n_features=10, noise_percentage=0.0), total), seed + 7, "x"
    )
    out.append(SyntheticStream("stationary_hyperplane", "stationary", frame, _features(frame)))
    return out


def _features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in ("date", "label")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="write <name>.parquet files here")
    args = parser.parse_args(argv)
    for stream in make_streams():
        y = stream.frame["label"]
        print(
            f"{stream.name:<22} {stream.kind:<16} rows {len(stream.frame):>6} "
            f"features {len(stream.features):>2} "
            f"positive rate {y.mean():.3f} drift batches {stream.drift_batches}"
        )
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            stream.frame.to_parquet(Path(args.out) / f"{stream.name}.parquet", index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
