"""Two pipeline runs finishing at once: separate processes register and race to move the champion."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

from ctloop.registry.local import LocalRegistry

MODEL_NAME = "rainfall-classifier"
CONTENDERS = 3


def _contender(uri: str, model_dir: str, barrier, results) -> None:  # runs in a child process
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    registry = LocalRegistry(MODEL_NAME, tracking_uri=uri)
    barrier.wait()  # register at the same moment ...
    version = registry.register(model_dir, {"contender": str(os.getpid())}).version
    barrier.wait()  # ... then every one compares against "no champion" and tries to win
    won = registry.set_champion(version, expected=None)
    results.put((version, won))


def test_racing_processes_leave_one_winner_and_no_lost_version(registry_home: Path, model_dir: Path) -> None:
    uri = os.environ["MLFLOW_TRACKING_URI"]
    ctx = mp.get_context("fork")  # children inherit the imports; none has opened this database yet
    barrier, results = ctx.Barrier(CONTENDERS), ctx.Queue()
    procs = [
        ctx.Process(target=_contender, args=(uri, str(model_dir), barrier, results))
        for _ in range(CONTENDERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * CONTENDERS
    outcomes = [results.get(timeout=5) for _ in range(CONTENDERS)]

    versions = sorted(v for v, _ in outcomes)
    winners = [v for v, won in outcomes if won]
    assert versions == [str(i) for i in range(1, CONTENDERS + 1)]  # every registration kept, none reused
    assert len(winners) == 1  # exactly one compare-and-set succeeded

    registry = LocalRegistry(MODEL_NAME)
    assert registry.champion().version == winners[0]
    listed = registry.list_versions()
    assert [v.version for v in listed] == versions
    assert len({v.tags["contender"] for v in listed}) == CONTENDERS
    assert [v.version for v in listed if v.is_champion] == winners
