"""Two processes over gloo through torchrun: finishes, only rank 0 writes, resumes exactly after a kill."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dnn_helpers import assert_same_weights, kill_after_checkpoint, run_step, start_step, step_args

pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")


def worker_pids(output: str) -> dict[int, int]:
    found = re.findall(r"\[rank (\d)/2\]: rank \d/2 \(pid (\d+)\) training on cpu \(gloo", output)
    return {int(rank): int(pid) for rank, pid in found}


def test_two_process_gloo_run_and_resume_after_kill(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies
) -> None:
    train, ev = datasets
    policies = make_policies(checkpoint__every_steps=7)  # never on an epoch boundary

    # An uninterrupted 2-process run, in the background while the second run is killed.
    ref_model, ref_ckpt, ref_log = tmp_path / "ref-model", tmp_path / "ref-ckpt", tmp_path / "ref.log"
    reference = start_step(step_args(train, policies, ref_model, ref_ckpt, ev), ref_log, torchrun=2)

    # The same run, killed (launcher and both workers) mid-epoch, then started again.
    model, ckpt = tmp_path / "model", tmp_path / "ckpt"
    args = step_args(train, policies, model, ckpt, ev)
    try:
        kill_after_checkpoint(args, ckpt, min_step=14, torchrun=2, timeout=240)
        assert not (model / "MLmodel").exists()
        last = json.loads((ckpt / "manifest.json").read_text())["checkpoints"][-1]
        assert not last["meta"]["complete"] and 0 < last["meta"]["step_in_epoch"] < 10
    finally:
        assert reference.wait(timeout=300) == 0, ref_log.read_text()[-4000:]

    output = ref_log.read_text()
    pids = worker_pids(output)
    assert set(pids) == {0, 1} and pids[0] != pids[1], output
    entries = json.loads((ref_ckpt / "manifest.json").read_text())["checkpoints"]
    assert {(e["writer"]["rank"], e["writer"]["pid"]) for e in entries} == {(0, pids[0])}
    assert sorted(p.name for p in ref_ckpt.iterdir()) == sorted(
        [e["file"] for e in entries] + ["manifest.json"]
    )
    saves = re.findall(r"\[rank (\d)/2\]: saved checkpoint", output)
    assert saves and set(saves) == {"0"}  # rank 1 never writes
    assert (ref_model / "MLmodel").is_file()

    proc = run_step(args, torchrun=2, timeout=240)
    resumed = re.findall(r"\[rank (\d)/2\]: resumed from (\S+): epoch", proc.stderr)
    assert resumed == [("0", str(ckpt / last["file"]))], proc.stderr
    assert_same_weights(model, ref_model)
