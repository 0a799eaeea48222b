"""Replay benchmark: the rainfall stream under the trigger policy and the three baselines.

``python benchmarks/replay.py [--batch-days 90] [--workers 2] [--out DIR]``

Prints the comparison table (mean primary metric over the stream, over the drifted period from
row ~12,000, retrains, training compute seconds), the acceptance checks of the trigger policy
against retrain-every-batch and never-retrain, and the wall time. State goes to a temporary
folder unless ``--out`` is given; nothing is written into the repository.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="rainfall")
    parser.add_argument(
        "--batch-days", type=int, default=None, help="default: retraining.yml replay.batch_days"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory(prefix="ctloop-replay-bench-") as tmp:
        os.environ["CTLOOP_HOME"] = str(Path(tmp) / "home")
        from ctloop.replay.compare import format_table, replay

        started = time.perf_counter()
        report = replay(
            args.dataset,
            REPO / "policies",
            REPO / "pipelines/training.yml",
            Path(args.out) if args.out else Path(tmp) / "replay",
            compare=True,
            batch_days=args.batch_days,
            workers=args.workers,
        )
        wall = time.perf_counter() - started
    print(format_table(report))
    rows = {r["policy"]: r for r in report["table"]}
    trig, every, never = rows["trigger"], rows["every"], rows["never"]
    keep = trig["mean_metric"] / every["mean_metric"]
    share = trig["retrains"] / max(every["retrains"], 1)
    print(
        f"trigger keeps {keep:.1%} of every-batch's mean {report['primary_metric']} "
        f"with {share:.1%} of its retrains ({trig['retrains']} vs {every['retrains']})"
    )
    print(f"drifted period: trigger {trig['drifted_metric']:.4f} vs never {never['drifted_metric']:.4f}")
    print(f"wall time {wall:.1f} s on {os.cpu_count()} CPU(s)")
    ok = keep >= 0.98 and share <= 0.25 and trig["drifted_metric"] > never["drifted_metric"]
    print("acceptance: " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
