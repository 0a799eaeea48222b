"""Checkpoint store: atomic writes, a sha256 manifest, keep-last-K, and fallback on damage.

Layout of the checkpoint folder::

    manifest.json            {"format": 1, "checkpoints": [entry, ...]}  (oldest first)
    ckpt-000000500.pt        torch.save of a dict of tensors, numbers, strings and lists
    ckpt-000001000.pt

Each entry records ``file``, ``step``, ``bytes``, ``sha256``, ``created``, the writer (rank, pid,
host) and free-form ``meta``. A file is written to a temporary name, flushed and fsync'd and renamed
into place; then the manifest is replaced the same way and the folder fsync'd (making both renames
durable); only then are files beyond the newest ``keep_last`` deleted. A crash at any point leaves
the previous manifest and every file it names intact. Loading verifies size and checksum and
loads with ``weights_only=True``; a damaged newest checkpoint is reported (file and reason) and
the previous one is used.

:meth:`CheckpointStore.save_async` takes a detached CPU copy of the state (:func:`snapshot`) on
the caller's thread and leaves serialising, hashing and the fsyncs to one background writer, so
training does not wait for the disk; at most one write is in flight, and its errors surface at the
next save or at :meth:`CheckpointStore.close`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from ctloop.dnn.errors import DnnError
from ctloop.fileio import write_bytes_atomic

MANIFEST = "manifest.json"
FORMAT = 1
_NAME = re.compile(r"^ckpt-(\d{9,})\.pt$")

log = logging.getLogger("ctloop.dnn")


def checkpoint_name(step: int) -> str:
    return f"ckpt-{step:09d}.pt"


@dataclass(frozen=True)
class Entry:
    """One checkpoint as the manifest records it."""

    file: str
    step: int
    bytes: int | None = None
    sha256: str | None = None
    created: str = ""
    writer: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Loaded:
    """A verified checkpoint: its manifest entry and its contents."""

    entry: Entry
    state: dict[str, Any]
    skipped: list[tuple[str, str]]


def atomic_write_bytes(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    ``sync_dir=False`` leaves the rename's durability to a later fsync of the same folder."""
    write_bytes_atomic(path, data, sync_dir=sync_dir)


def snapshot(obj: Any) -> Any:
    """A copy of ``obj`` whose tensors are detached CPU copies: safe to write while training goes on."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [snapshot(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(snapshot(v) for v in obj)
    return obj


def serialise(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def deserialise(data: bytes, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load checkpoint bytes without arbitrary pickle (``weights_only=True``)."""
    state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"expected a dict, found {type(state).__name__}")
    return state


class CheckpointStore:
    """The checkpoint folder of one training run. Only the writer (rank 0) may call :meth:`save`."""

    def __init__(self, directory: str | Path, keep_last: int, *, rank: int = 0) -> None:
        if keep_last < 1:
            raise DnnError(directory, "checkpoint.keep_last", "must be at least 1")
        self.dir = Path(directory)
        self.keep_last = keep_last
        self.rank = rank
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[Entry] | None = None

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    # ----- reading -----

    def read_manifest(self) -> list[Entry]:
        """Entries oldest first; ``[]`` when there is no manifest; DnnError when it is damaged."""
        if not self.manifest_path.exists():
            return []
        try:
            data = json.loads(self.manifest_path.read_bytes())
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format') if isinstance(data, dict) else data!r}")
            entries = [Entry(**e) for e in data["checkpoints"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DnnError(self.manifest_path, "<manifest>", f"unreadable: {exc}") from None
        return sorted(entries, key=lambda e: e.step)

    def _scan(self) -> list[Entry]:
        """Checkpoint files found on disk (no checksums: used when the manifest is unusable)."""
        found = []
        for path in self.dir.glob("ckpt-*.pt"):
            m = _NAME.match(path.name)
            if m:
                found.append(Entry(file=path.name, step=int(m.group(1))))
        return sorted(found, key=lambda e: e.step)

    def verify(
        self, entry: Entry, map_location: torch.device | str = "cpu"
    ) -> tuple[dict[str, Any] | None, str]:
        """``(state, "")`` when ``entry`` is intact, else ``(None, reason)``."""
        path = self.dir / entry.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None, "file is missing"
        except OSError as exc:
            return None, f"unreadable: {exc}"
        if entry.bytes is not None and len(data) != entry.bytes:
            return None, f"truncated or resized: {len(data)} bytes, manifest says {entry.bytes}"
        if entry.sha256 is not None:
            digest = hashlib.sha256(data).hexdigest()
            if digest != entry.sha256:
                return None, f"sha256 mismatch: {digest[:12]}..., manifest says {entry.sha256[:12]}..."
        try:
            state = deserialise(data, map_location)
        except Exception as exc:  # torch raises many types for damaged archives
            return None, f"cannot be loaded: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return state, ""

    def load_latest(
        self,
        map_location: torch.device | str = "cpu",
        accept: Callable[[dict[str, Any]], str] | None = None,
    ) -> Loaded | None:
        """The newest intact checkpoint, falling back to older ones and logging each one skipped.

        ``accept(state)`` may return a reason to reject a loadable checkpoint (e.g. missing keys).
        """
        try:
            candidates = self.read_manifest()
        except DnnError as exc:
            log.warning("%s; looking for checkpoint files without checksums", exc)
            candidates = self._scan()
        skipped: list[tuple[str, str]] = []
        for i, entry in enumerate(reversed(candidates)):
            state, reason = self.verify(entry, map_location)
            if state is not None and accept is not None:
                reason = accept(state)
                state = None if reason else state
            if state is not None:
                return Loaded(entry, state, skipped)
            older = list(reversed(candidates))[i + 1 :]
            nxt = (
                f"falling back to {older[0].file}" if older else "no older checkpoint: starting from scratch"
            )
            log.warning("checkpoint %s is unusable (%s); %s", self.dir / entry.file, reason, nxt)
            skipped.append((entry.file, reason))
        return None

    def load_file(self, name: str, map_location: torch.device | str = "cpu") -> dict[str, Any]:
        """Load the checkpoint rank 0 chose (same checks); DnnError if it no longer verifies."""
        try:
            entries = {e.file: e for e in self.read_manifest()}
        except DnnError:
            entries = {}
        entry = entries.get(name) or Entry(file=name, step=-1)
        state, reason = self.verify(entry, map_location)
        if state is None:
            raise DnnError(self.dir / name, "<checkpoint>", reason)
        return state

    # ----- writing -----

    def save(self, state: dict[str, Any], step: int, meta: dict[str, Any] | None = None) -> Entry:
        """Write ``state`` as the checkpoint of ``step``, update the manifest, prune to ``keep_last``."""
        if self.rank != 0:
            raise RuntimeError(f"only rank 0 writes checkpoints (this is rank {self.rank})")
        self.dir.mkdir(parents=True, exist_ok=True)
        data = serialise(state)
        entry = Entry(
            file=checkpoint_name(step),
            step=step,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created=datetime.now(UTC).isoformat(timespec="milliseconds"),
            writer={"rank": self.rank, "pid": os.getpid(), "host": socket.gethostname()},
            meta=dict(meta or {}),
        )
        # The manifest's folder fsync below makes this rename durable too (same folder); a crash
        # before it loses at most this checkpoint, which the manifest does not name yet.
        atomic_write_bytes(self.dir / entry.file, data, sync_dir=False)
        try:
            previous = self.read_manifest()
        except DnnError as exc:
            log.warning("%s; rewriting it", exc)
            previous = []
        # A checkpoint at or past this step belongs to an abandoned future: replace it.
        entries = [e for e in previous if e.step < step] + [entry]
        kept = entries[-self.keep_last :]
        manifest = {"format": FORMAT, "checkpoints": [asdict(e) for e in kept]}
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=1).encode())
        self._prune({e.file for e in kept})
        log.info("saved checkpoint %s (step %d, %d bytes)", entry.file, step, entry.bytes)
        return entry

    def save_async(self, state: dict[str, Any], step: int, meta: dict[str, Any] | None = None) -> None:
        """Snapshot ``state`` now and write it in the background (after any write still in flight)."""
        if self.rank != 0:
            raise RuntimeError(f"only rank 0 writes checkpoints (this is rank {self.rank})")
        frozen = snapshot(state)
        self.wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ctloop-checkpoint")
        self._pending = self._writer.submit(self.save, frozen, step, meta)

    def wait(self) -> Entry | None:
        """Block until the background write (if any) is durable; re-raise its error."""
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None

    def close(self) -> None:
        """Finish the write in flight and stop the writer thread."""
        try:
            self.wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None

    def _prune(self, keep: set[str]) -> None:
        """Delete checkpoint files the manifest no longer names, and stale temporaries."""
        # No fsync: a deletion lost in a crash leaves a file the manifest does not name, which the
        # next save removes again.
        for path in self.dir.iterdir():
            stale_tmp = path.name.startswith(".") and ".tmp-" in path.name
            if (stale_tmp or _NAME.match(path.name)) and path.name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
