"""A sweep trial: logs ``score`` to MLflow once per epoch and writes its parameters to ``--model``.

``--mode fail`` exits 3 at once; ``--mode bad`` logs poor scores, then waits until it is stopped.
With SWEEP_TRACE_DIR set, trials of rank 0 and 1 wait (bounded) until both have started, and every
trial records how many trials were alive when it started.
"""

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

BASE = [0.2, 0.9, 0.5]
WAIT_S = 60.0


def trace(rank: int) -> None:
    folder = Path(os.environ["SWEEP_TRACE_DIR"])
    live = folder / "live"
    live.mkdir(parents=True, exist_ok=True)
    mine = live / str(os.getpid())
    mine.touch()
    (folder / f"started-{rank}").touch()
    alive = len(list(live.iterdir()))
    (folder / f"seen-{os.getpid()}.json").write_text(json.dumps({"rank": rank, "alive": alive}))
    if rank in (0, 1):
        other = folder / f"started-{1 - rank}"
        deadline = time.monotonic() + WAIT_S
        while not other.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        (folder / f"met-{rank}").write_text(str(other.exists()))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rank", type=int, default=0)
    p.add_argument("--mode", default="ok")
    p.add_argument("--x", type=float, default=0.3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--model", required=True)
    args = p.parse_args()
    if args.mode == "fail":
        print("this trial fails on purpose", file=sys.stderr)
        sys.exit(3)
    if os.environ.get("SWEEP_TRACE_DIR"):
        trace(args.rank)
    import mlflow

    # parameters (and the pid) are written before the first metric: once a metric is logged, an
    # early-termination policy may stop this process at any moment
    params = {"rank": args.rank, "mode": args.mode, "x": args.x, "pid": os.getpid()}
    (Path(args.model) / "params.json").write_text(json.dumps(params))
    final = BASE[args.rank] + abs(args.x - 0.3)
    for epoch in range(args.epochs):
        score = 0.01 if args.mode == "bad" else final * (epoch + 1) / args.epochs
        mlflow.log_metric("score", score, step=epoch)
    if os.environ.get("SWEEP_TRACE_DIR"):
        (Path(os.environ["SWEEP_TRACE_DIR"]) / "live" / str(os.getpid())).unlink()
    if args.mode == "bad":
        signal.pause()  # only early termination (or limits.trial_timeout) ends this trial


if __name__ == "__main__":
    main()
