"""Checkpoint store: atomic writes, manifest with sha256, keep-last-K, verification and fallback."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is an optional extra: make setup-dnn")

from ctloop.dnn import checkpoint as ck  # noqa: E402
from ctloop.dnn.checkpoint import CheckpointStore, atomic_write_bytes  # noqa: E402
from ctloop.dnn.errors import DnnError  # noqa: E402


def state(step: int) -> dict:
    return {"step": step, "w": torch.full((3, 2), float(step)), "nested": {"lr": [0.1, 0.2]}}


def saved_store(tmp_path: Path, steps: list[int], keep: int = 3) -> CheckpointStore:
    store = CheckpointStore(tmp_path / "ckpt", keep_last=keep)
    for s in steps:
        store.save(state(s), s, {"epoch": s // 10})
    return store


def test_manifest_records_checksum_size_writer_and_meta(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [5])
    manifest = json.loads((store.dir / "manifest.json").read_text())
    (entry,) = manifest["checkpoints"]
    data = (store.dir / "ckpt-000000005.pt").read_bytes()
    import hashlib

    assert manifest["format"] == 1
    assert entry["file"] == "ckpt-000000005.pt" and entry["step"] == 5
    assert entry["bytes"] == len(data)
    assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry["writer"]["rank"] == 0 and entry["writer"]["pid"] == os.getpid()
    assert entry["meta"] == {"epoch": 0}


def test_keeps_only_the_last_k_and_deletes_the_rest(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [2, 4, 6, 8, 10], keep=2)
    assert [e.step for e in store.read_manifest()] == [8, 10]
    assert sorted(p.name for p in store.dir.glob("ckpt-*.pt")) == ["ckpt-000000008.pt", "ckpt-000000010.pt"]
    assert not [p for p in store.dir.iterdir() if ".tmp-" in p.name]


def test_round_trip_loads_with_weights_only(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [3, 7])
    loaded = store.load_latest()
    assert loaded is not None and loaded.entry.step == 7 and loaded.skipped == []
    assert torch.equal(loaded.state["w"], torch.full((3, 2), 7.0))
    assert loaded.state["nested"] == {"lr": [0.1, 0.2]}


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) // 2], "truncated or resized"),
        (lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:], "sha256 mismatch"),
    ],
    ids=["truncated", "flipped-byte"],
)
def test_damaged_newest_falls_back_to_previous_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage, reason: str
) -> None:
    store = saved_store(tmp_path, [3, 6, 9])
    newest = store.dir / "ckpt-000000009.pt"
    newest.write_bytes(damage(newest.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="ctloop.dnn"):
        loaded = store.load_latest()
    assert loaded is not None and loaded.entry.step == 6
    assert loaded.skipped[0][0] == "ckpt-000000009.pt" and reason in loaded.skipped[0][1]
    line = next(r.getMessage() for r in caplog.records if "unusable" in r.getMessage())
    assert str(newest) in line and reason in line and "falling back to ckpt-000000006.pt" in line


def test_every_checkpoint_damaged_means_fresh_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = saved_store(tmp_path, [1, 2])
    for p in store.dir.glob("ckpt-*.pt"):
        p.write_bytes(b"")
    with caplog.at_level(logging.WARNING, logger="ctloop.dnn"):
        assert store.load_latest() is None
    assert "no older checkpoint: starting from scratch" in caplog.text


def test_missing_file_is_skipped(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [1, 2])
    (store.dir / "ckpt-000000002.pt").unlink()
    loaded = store.load_latest()
    assert (
        loaded is not None
        and loaded.entry.step == 1
        and loaded.skipped == [("ckpt-000000002.pt", "file is missing")]
    )


def test_damaged_manifest_falls_back_to_scanning_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = saved_store(tmp_path, [4, 8])
    (store.dir / "manifest.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="ctloop.dnn"):
        loaded = store.load_latest()
    assert loaded is not None and loaded.entry.step == 8
    assert "manifest.json: <manifest>: unreadable" in caplog.text


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    """A checkpoint that needs arbitrary unpickling is treated as damaged (weights_only=True)."""
    store = saved_store(tmp_path, [1])
    store.save({"evil": Path("/etc/passwd")}, 2)  # a non-allowlisted class
    loaded = store.load_latest()
    assert loaded is not None and loaded.entry.step == 1
    assert "cannot be loaded" in loaded.skipped[0][1]


def test_only_rank_zero_writes(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "ckpt", keep_last=2, rank=1)
    with pytest.raises(RuntimeError, match="only rank 0"):
        store.save(state(1), 1)
    assert not (tmp_path / "ckpt").exists()


def test_saving_an_earlier_step_replaces_an_abandoned_future(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [2, 4, 6], keep=5)
    store.save(state(4), 4)
    assert [e.step for e in store.read_manifest()] == [2, 4]
    assert not (store.dir / "ckpt-000000006.pt").exists()


def test_atomic_write_keeps_the_old_file_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old contents")

    def crash(src: str, dst: str) -> None:
        raise OSError("power cut before rename")

    monkeypatch.setattr(ck.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        atomic_write_bytes(target, b"new contents that never land")
    assert target.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_atomic_write_fsyncs_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(ck.os, "fsync", spy)
    atomic_write_bytes(tmp_path / "x.bin", b"data")
    assert synced[0].startswith(str(tmp_path / ".x.bin.tmp-"))  # the data, before the rename
    assert synced[-1] == str(tmp_path)  # the directory entry, after it


def test_stale_temporaries_and_orphans_are_cleaned_on_save(tmp_path: Path) -> None:
    store = saved_store(tmp_path, [1])
    (store.dir / ".ckpt-000000002.pt.tmp-99999").write_bytes(b"half")
    (store.dir / "ckpt-000000003.pt").write_bytes(b"orphan")  # renamed but never entered in the manifest
    store.save(state(5), 5)
    assert sorted(p.name for p in store.dir.iterdir()) == [
        "ckpt-000000001.pt",
        "ckpt-000000005.pt",
        "manifest.json",
    ]


def test_keep_last_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(DnnError, match="keep_last"):
        CheckpointStore(tmp_path, keep_last=0)


def test_async_save_writes_a_snapshot_taken_at_call_time(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "ckpt", keep_last=2)
    live = {"w": torch.zeros(4), "opt": {"state": {0: {"exp_avg": torch.ones(2)}}}}
    store.save_async(live, 10)
    live["w"].add_(5.0)  # training goes on and updates tensors in place
    live["opt"]["state"][0]["exp_avg"].mul_(3.0)
    entry = store.wait()
    assert entry is not None and entry.step == 10
    loaded = store.load_latest()
    assert loaded is not None
    assert torch.equal(loaded.state["w"], torch.zeros(4))
    assert torch.equal(loaded.state["opt"]["state"][0]["exp_avg"], torch.ones(2))
    store.close()


def test_async_write_errors_surface(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("a file where the folder should be")
    store = CheckpointStore(tmp_path / "not-a-dir" / "ckpt", keep_last=2)
    store.save_async(state(1), 1)
    with pytest.raises(OSError):
        store.close()
