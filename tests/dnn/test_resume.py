"""Kill -9 mid-epoch and damaged checkpoints: the resumed run ends with the uninterrupted run's weights."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from dnn_helpers import assert_same_weights, kill_after_checkpoint, manifest_steps, run_step, step_args

pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")

from ctloop.dnn.train import fit_from_dataset

# 320 rows, global batch 32: 10 steps per epoch, 4 epochs; a checkpoint every 7 steps (7, 14, 21,
# 28, 35) never falls on an epoch boundary, so every checkpoint before the final one is mid-epoch.
EVERY = 7


@pytest.fixture
def reference(tmp_path: Path, datasets: tuple[Path, Path], make_policies) -> Path:
    """An uninterrupted run (in this process) of the same settings."""
    train, ev = datasets
    out = tmp_path / "reference-model"
    fit_from_dataset(
        train,
        out,
        policies=make_policies(checkpoint__every_steps=EVERY),
        eval_dir=ev,
        checkpoint_dir=tmp_path / "ref",
    )
    return out


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies, reference: Path
) -> None:
    train, ev = datasets
    ckpt, model = tmp_path / "ckpt", tmp_path / "model"
    args = step_args(train, make_policies(checkpoint__every_steps=EVERY), model, ckpt, ev)

    killed_log = kill_after_checkpoint(args, ckpt, min_step=14)
    assert not (model / "MLmodel").exists()  # it really died before finishing
    manifest = json.loads((ckpt / "manifest.json").read_text())
    last = manifest["checkpoints"][-1]
    assert last["meta"]["complete"] is False and 0 < last["meta"]["step_in_epoch"] < 10, last
    assert "no usable checkpoint" in killed_log

    proc = run_step(args)
    resumed = re.search(r"resumed from (\S+): epoch (\d+), step (\d+) of 10", proc.stderr)
    assert resumed, proc.stderr
    assert Path(resumed.group(1)).name == last["file"]
    assert (int(resumed.group(2)), int(resumed.group(3))) == (
        last["meta"]["epoch"],
        last["meta"]["step_in_epoch"],
    )
    assert_same_weights(model, reference)
    info = json.loads((model / "ctloop" / "training.json").read_text())
    ref_info = json.loads((reference / "ctloop" / "training.json").read_text())
    assert info["history"] == ref_info["history"]  # per-epoch losses survive the kill too
    assert info["run"]["resumed_from"] == last["file"]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_newest_checkpoint_resumes_from_previous(
    tmp_path: Path,
    datasets: tuple[Path, Path],
    make_policies,
    reference: Path,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    train, ev = datasets
    policies = make_policies(checkpoint__every_steps=EVERY, training__epochs=2)
    ckpt = tmp_path / "ckpt"
    fit_from_dataset(train, None, policies=policies, eval_dir=ev, checkpoint_dir=ckpt)  # stops after epoch 2
    newest = ckpt / f"ckpt-{manifest_steps(ckpt)[-1]:09d}.pt"
    data = newest.read_bytes()
    newest.write_bytes(
        data[: len(data) - 500] if damage == "truncate" else data[:64] + b"\x00" * 8 + data[72:]
    )
    previous = f"ckpt-{manifest_steps(ckpt)[-2]:09d}.pt"

    # A run with the full 4 epochs would refuse these checkpoints (other settings), so continue the
    # same 2-epoch run: it must redo the lost steps from the previous checkpoint.
    with caplog.at_level(logging.INFO, logger="ctloop.dnn"):
        out = tmp_path / "model"
        result = fit_from_dataset(train, out, policies=policies, eval_dir=ev, checkpoint_dir=ckpt)
    reason = "truncated or resized" if damage == "truncate" else "sha256 mismatch"
    line = next(r.getMessage() for r in caplog.records if "unusable" in r.getMessage())
    assert f"checkpoint {newest} is unusable ({reason}" in line and f"falling back to {previous}" in line
    assert result.resumed_from == previous

    uninterrupted = tmp_path / "uninterrupted"
    fit_from_dataset(train, uninterrupted, policies=policies, eval_dir=ev)
    assert_same_weights(out, uninterrupted)


def test_checkpoints_of_other_settings_are_refused(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies
) -> None:
    from ctloop.dnn.errors import DnnError

    train, _ = datasets
    ckpt = tmp_path / "ckpt"
    fit_from_dataset(train, None, policies=make_policies("a", training__epochs=1), checkpoint_dir=ckpt)
    before = sorted(p.name for p in ckpt.iterdir())
    with pytest.raises(DnnError, match="fingerprint: written by a run with other settings or data"):
        fit_from_dataset(
            train,
            tmp_path / "m",
            policies=make_policies("b", training__learning_rate=0.01),
            checkpoint_dir=ckpt,
        )
    assert sorted(p.name for p in ckpt.iterdir()) == before
    assert not (tmp_path / "m").exists()


def test_resuming_a_finished_run_only_rewrites_the_model(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies
) -> None:
    """A job restarted after its last checkpoint (e.g. preempted while writing the model) trains nothing."""
    train, _ = datasets
    policies = make_policies(training__epochs=1)
    ckpt = tmp_path / "ckpt"
    first = fit_from_dataset(train, tmp_path / "m1", policies=policies, checkpoint_dir=ckpt)
    again = fit_from_dataset(train, tmp_path / "m2", policies=policies, checkpoint_dir=ckpt)
    assert again.resumed_from == f"ckpt-{first.steps:09d}.pt" and again.checkpoints_written == 0
    assert again.steps == first.steps and again.history == first.history
    assert_same_weights(tmp_path / "m1", tmp_path / "m2")


def test_time_based_checkpoints(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies, monkeypatch
) -> None:
    monkeypatch.setenv("CTLOOP_DNN_STEP_SLEEP", "0.01")
    policies = make_policies(checkpoint__every_steps=0, checkpoint__every_minutes=0.0005)  # every 30 ms
    result = fit_from_dataset(datasets[0], None, policies=policies, checkpoint_dir=tmp_path / "ckpt")
    assert result.checkpoints_written > 2  # periodic ones besides the final one
    assert manifest_steps(tmp_path / "ckpt")[-1] == result.steps


def test_resume_with_another_process_count_reseeds_and_says_so(
    tmp_path: Path, datasets: tuple[Path, Path], make_policies, caplog: pytest.LogCaptureFixture
) -> None:
    from ctloop.dnn.checkpoint import CheckpointStore

    train = datasets[0]
    policies = make_policies(training__epochs=2, checkpoint__every_steps=6)
    ckpt = tmp_path / "ckpt"
    first = fit_from_dataset(train, None, policies=policies, checkpoint_dir=ckpt)
    store = CheckpointStore(ckpt, keep_last=3)
    mid = store.load_file(f"ckpt-{manifest_steps(ckpt)[-2]:09d}.pt")  # step 18 of 20
    mid["rank_states"] = mid["rank_states"] * 2  # as if two processes had written it
    store.save(mid, int(mid["global_step"]), {"complete": False})
    with caplog.at_level(logging.INFO, logger="ctloop.dnn"):
        again = fit_from_dataset(train, None, policies=policies, checkpoint_dir=ckpt)
    assert "was written by 2 processes, this run has 1: RNG streams reseeded" in caplog.text
    assert again.resumed_from == "ckpt-000000018.pt" and again.steps == first.steps
