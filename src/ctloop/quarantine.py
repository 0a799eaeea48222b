"""Quarantine: rejected landing batches move out of the landing folder, with the report beside them.

The ingest step never moves its inputs (they are read-only, as in an Azure ML job); it writes
``rejected.json`` (landing folder, each rejected file with its sha256 and problems) into its
output. After the run, :func:`quarantine_run` moves each rejected file from the landing folder to
``<landing>/../quarantine/<run-id>/`` and writes ``report.json`` there, so the next run proceeds
with the good batches. A file is moved only while its bytes still match the rejected sha256 (a
batch fixed in place meanwhile stays). ``ctloop data quarantine list|release`` reads and undoes it.

Storage goes through :class:`BatchStore`; :class:`LocalStore` is the filesystem. On Azure the
landing folder is a datastore path: the same moves are a copy and a delete through the datastore's
blob container (see docs/data.md for what is exercised).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

REJECTED_FILE = "rejected.json"  # written by the ingest step into its output folder
REPORT_FILE = "report.json"  # beside the quarantined batches
QUARANTINE_DIR = "quarantine"


class QuarantineError(RuntimeError):
    """A quarantine operation that cannot be done; names the file and why."""


class BatchStore(Protocol):
    """Where landing and quarantine folders live (a filesystem, a datastore)."""

    def sha256(self, path: str) -> str | None:
        """Hex sha256 of a file, or None when it does not exist."""

    def move(self, source: str, target: str) -> None:
        """Move a file (creating the target's folder); never overwrites."""

    def write_text(self, path: str, text: str) -> None:
        """Write a text file (creating its folder)."""

    def read_text(self, path: str) -> str:
        """Read a text file."""

    def list_dirs(self, path: str) -> list[str]:
        """Names of the sub-folders of ``path`` ([] when it does not exist)."""


class LocalStore:
    """:class:`BatchStore` on the local filesystem."""

    def sha256(self, path: str) -> str | None:
        file = Path(path)
        if not file.is_file():
            return None
        digest = hashlib.sha256()
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def move(self, source: str, target: str) -> None:
        dest = Path(target)
        if dest.exists():
            raise QuarantineError(f"{dest}: already exists; not overwritten")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, dest)

    def write_text(self, path: str, text: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)

    def read_text(self, path: str) -> str:
        return Path(path).read_text()

    def list_dirs(self, path: str) -> list[str]:
        folder = Path(path)
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def quarantine_root(landing: str | Path) -> Path:
    """``<landing>/../quarantine``: ``data/landing`` quarantines to ``data/quarantine``."""
    return Path(landing).resolve().parent / QUARANTINE_DIR


@dataclass(frozen=True)
class Moved:
    """One batch moved to the quarantine (or left in place, with why)."""

    file: str
    target: str | None
    reason: str

    def line(self) -> str:
        where = f"moved to {self.target}" if self.target else "left in place"
        return f"quarantine: {self.file}: {where} ({self.reason})"


def quarantine_report(
    report_path: Path,
    run_id: str,
    store: BatchStore | None = None,
    root: Path | None = None,
    landing: Path | None = None,
) -> list[Moved]:
    """Move every batch a ``rejected.json`` lists to ``<root>/<run_id>/``; write ``report.json`` there.

    ``landing`` is the original folder when the step read a staged copy (the report's path)."""
    store = store or LocalStore()
    report = json.loads(report_path.read_text())
    landing = landing or Path(report["landing"])
    folder = (root or quarantine_root(landing)) / run_id
    moved: list[Moved] = []
    kept = []
    for item in report.get("rejected", []):
        source = landing / item["file"]
        reasons = "; ".join(f"{p['column']}: {p['reason']}" for p in item.get("problems", []))
        found = store.sha256(str(source))
        if found is None:
            moved.append(Moved(item["file"], None, "no longer in the landing folder"))
            continue
        if found != item["sha256"]:
            moved.append(Moved(item["file"], None, "changed since it was rejected; checked again next run"))
            continue
        target = folder / item["file"]
        try:
            store.move(str(source), str(target))
        except (OSError, QuarantineError) as exc:
            moved.append(Moved(item["file"], None, f"cannot move: {exc}"))
            continue
        kept.append(item)
        moved.append(Moved(item["file"], str(target), reasons or "rejected"))
    if kept:
        record = {
            "run_id": run_id,
            "landing": str(landing),
            "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "step": report.get("step", ""),
            "batches": kept,
        }
        store.write_text(str(folder / REPORT_FILE), json.dumps(record, indent=2) + "\n")
    return moved


def quarantine_run(run_dir: Path, run_id: str, store: BatchStore | None = None) -> list[Moved]:
    """Quarantine what every step of a finished local run rejected (``outputs/*/*/rejected.json``)."""
    moved: list[Moved] = []
    for report in sorted((run_dir / "outputs").glob(f"*/*/{REJECTED_FILE}")):
        try:
            original = original_input(run_dir, report.parent.parent.name, json.loads(report.read_text()))
            moved.extend(quarantine_report(report, run_id, store, landing=original))
        except (OSError, ValueError, KeyError) as exc:
            moved.append(Moved(str(report), None, f"unreadable rejection report: {exc}"))
    return moved


def original_input(run_dir: Path, step: str, report: dict[str, Any]) -> Path | None:
    """The folder the engine staged as the step's landing input (``<work>/inputs/<name>/<base>``).

    The run record keeps each step's original input paths by name; None when it does not say."""
    try:
        record = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return None
    staged = Path(report.get("landing", ""))
    inputs = (record.get("steps", {}).get(step) or {}).get("inputs") or {}
    original = inputs.get(staged.parent.name)
    if original and Path(original).name == staged.name:
        return Path(original)
    return None


def list_quarantine(root: Path, store: BatchStore | None = None) -> list[dict[str, Any]]:
    """Each quarantine folder's report (run id, landing, batches with problems), oldest first."""
    store = store or LocalStore()
    out = []
    for run_id in store.list_dirs(str(root)):
        try:
            out.append(json.loads(store.read_text(str(root / run_id / REPORT_FILE))))
        except (OSError, ValueError):
            out.append({"run_id": run_id, "landing": None, "batches": [], "error": "report.json unreadable"})
    return out


def release(
    root: Path,
    run_id: str,
    files: list[str] | None = None,
    landing: Path | None = None,
    store: BatchStore | None = None,
) -> list[str]:
    """Move quarantined batches of ``run_id`` back to the landing folder; returns the files moved."""
    store = store or LocalStore()
    folder = root / run_id
    try:
        report = json.loads(store.read_text(str(folder / REPORT_FILE)))
    except (OSError, ValueError):
        raise QuarantineError(f"{folder / REPORT_FILE}: no quarantine report for run {run_id!r}") from None
    target_root = Path(landing or report["landing"])
    batches = report.get("batches", [])
    known = {b["file"] for b in batches}
    unknown = sorted(set(files or []) - known)
    if unknown:
        raise QuarantineError(f"{folder}: not quarantined in run {run_id}: {', '.join(unknown)}")
    chosen = [b for b in batches if files is None or b["file"] in files]
    released = []
    for batch in chosen:
        source = folder / batch["file"]
        if store.sha256(str(source)) is None:
            continue
        store.move(str(source), str(target_root / batch["file"]))
        released.append(batch["file"])
    left = [b for b in batches if b["file"] not in released]
    report["batches"] = left
    report.setdefault("released", []).extend(released)
    store.write_text(str(folder / REPORT_FILE), json.dumps(report, indent=2) + "\n")
    return released
