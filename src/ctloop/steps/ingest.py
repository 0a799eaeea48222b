"""ingest: landing batches (or the bundled dataset) -> one dataset folder.

``python -m ctloop.steps.ingest --landing DIR --dataset rainfall --policies DIR --data OUT``

Every file under ``--landing`` is a batch: ``.parquet``, ``.csv`` and ``.csv.gz`` are read, any
other extension is refused by name (hidden files are ignored). Each batch is checked on its own
against the per-batch contract of ``policies/data.yml`` (required columns, dtypes, missing share,
non-finite values, ranges, time grain, duplicate keys, label classes). Batches are then merged in
file-name order: when a later batch repeats keys, ``ingest.duplicate_keys`` decides (``last``: the
later batch supersedes, ``fail``: stop) and keys older than ``ingest.revisable_days`` before the
data already delivered are immutable. A batch that fails any of this is *rejected*: the step
exits 1 with one ``ingest: <file>: <column>: <reason>`` line per problem and writes
``rejected.json`` (file, sha256, problems) into ``--data``, from which ``ctloop run`` moves the
batch to the quarantine. With no batch at all, the bundled dataset ``--dataset`` is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import datasets
from ctloop.contracts import Violation, check_batch, load_data_policy
from ctloop.policies import PolicyError
from ctloop.steps import fail, log_mlflow
from ctloop.tabular import DataError, parse_times, sha256_file, write_dataset

STEP = "ingest"
BATCH_COLUMN = "__ctloop_batch"
REJECTED_FILE = "rejected.json"
#: Extensions read as batches, longest first (``.csv.gz`` before ``.gz``).
READERS: tuple[tuple[str, str], ...] = ((".csv.gz", "CSV"), (".parquet", "Parquet"), (".csv", "CSV"))


@dataclass(frozen=True)
class IngestConfig:
    """The step's arguments."""

    landing: Path
    dataset: str
    policies: Path
    data: Path


@dataclass
class Batch:
    """One landing file: its frame once read, and every problem found with it."""

    path: Path
    file: str  # relative to the landing folder
    sha256: str
    frame: pd.DataFrame | None = None
    problems: list[Violation] | None = None

    def reject(self, check: str, column: str, reason: str) -> None:
        self.problems = [*(self.problems or []), Violation(check, column, reason, batch=self.file)]


def list_landing(landing: Path) -> list[Path]:
    """Every non-hidden file under ``landing``, in the order of its relative path."""
    if not landing.is_dir():
        raise DataError(landing, "<folder>", "landing folder does not exist")
    found = [
        p
        for p in landing.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(landing).parts)
    ]
    return sorted(found, key=lambda p: p.relative_to(landing).as_posix())


def batch_format(path: Path) -> str | None:
    """``Parquet`` or ``CSV`` by extension (case-insensitive), None when not a batch format."""
    name = path.name.lower()
    return next((kind for suffix, kind in READERS if name.endswith(suffix)), None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_frame(path: Path, kind: str) -> pd.DataFrame:
    """Read one batch file; DataError (file, ``<file>``, one-line reason) on anything unreadable."""
    try:
        if kind == "Parquet":
            return pd.read_parquet(path)
        frame = pd.read_csv(path, compression="infer", encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, "<file>", f"cannot read as {kind}: not UTF-8 text ({exc.reason})") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "<file>", f"cannot read as {kind}: the file is empty") from None
    except Exception as exc:  # pyarrow, gzip, parser errors: one line, never a traceback
        reason = _first_line(exc).split("': ", 1)[-1] if "input source" in str(exc) else _first_line(exc)
        raise DataError(path, "<file>", f"cannot read as {kind}: {reason}") from None
    if len(frame.columns) == 1 and ";" in str(frame.columns[0]):
        raise DataError(path, "<header>", "one column named with ';': a semicolon-separated CSV (use ',')")
    return frame


def read_batch(path: Path, landing: Path, policy: dict[str, Any]) -> Batch:
    """Read and check one landing file on its own (format, time column, per-batch contract)."""
    batch = Batch(path, path.relative_to(landing).as_posix(), sha256_file(path))
    kind = batch_format(path)
    if kind is None:
        suffix = "".join(path.suffixes[-2:]) or "(none)"
        batch.reject("format", "<file>", f"unsupported extension {suffix!r} (use .parquet, .csv or .csv.gz)")
        return batch
    time_column = policy["time_column"]
    try:
        frame = read_frame(path, kind)
        if time_column not in frame.columns:
            if len(frame.columns):
                raise DataError(path, time_column, "time column missing")
            raise DataError(path, "<header>", "no columns")
        frame[time_column] = parse_times(frame[time_column], path, time_column)
    except DataError as exc:
        batch.reject("read", exc.field, exc.reason)
        return batch
    missing_keys = [k for k in policy["key_columns"] if k not in frame.columns]
    if missing_keys:
        batch.reject("required_columns", ",".join(missing_keys), "key column(s) missing")
        return batch
    batch.frame = frame
    found = check_batch(frame, policy, batch.file)
    if found:
        batch.problems = found
    return batch


def resolve_duplicates(
    good: list[Batch], keys: list[str], time_column: str, rule: str, revisable_days: int
) -> tuple[pd.DataFrame, int]:
    """Merge the batches in order; later batches supersede repeated keys under the policy's rule.

    A batch whose repeated keys break the rule (``fail``, or keys older than the revisable window
    before the data delivered before it) is rejected, and its rows left out. Returns (frame,
    superseded rows)."""
    frames: list[pd.DataFrame] = []
    replaced = 0
    for index, batch in enumerate(good):
        frame = batch.frame
        assert frame is not None
        if not len(frame):
            continue
        if frames:
            earlier = pd.concat(frames, ignore_index=True, sort=False)
            repeated = frame[keys].merge(earlier[keys].drop_duplicates(), on=keys, how="inner")
            if len(repeated):
                first = ", ".join(f"{k}={repeated.iloc[0][k]}" for k in keys)
                if rule == "fail":
                    batch.reject(
                        "duplicate_keys",
                        ",".join(keys),
                        f"{len(repeated)} key(s) already delivered by an earlier batch (first: {first}); "
                        "policy ingest.duplicate_keys is 'fail'",
                    )
                    continue
                cutoff = earlier[time_column].max() - pd.Timedelta(days=revisable_days)
                frozen = (
                    repeated[repeated[time_column] < cutoff] if time_column in keys else repeated.iloc[0:0]
                )
                if len(frozen):
                    day = pd.Timestamp(frozen[time_column].min()).date().isoformat()
                    batch.reject(
                        "duplicate_keys",
                        time_column,
                        f"{len(frozen)} row(s) would overwrite history older than "
                        f"{cutoff.date().isoformat()} "
                        f"(first: {day}); policy ingest.revisable_days is {revisable_days}",
                    )
                    continue
                marker = earlier.merge(frame[keys].drop_duplicates(), on=keys, how="left", indicator=True)
                kept = (marker["_merge"] == "left_only").to_numpy()
                replaced += int((~kept).sum())
                frames = [earlier[kept]]
        frames.append(frame.assign(**{BATCH_COLUMN: index}))
    if not frames:
        return pd.DataFrame(), replaced
    return pd.concat(frames, ignore_index=True, sort=False).drop(columns=[BATCH_COLUMN]), replaced


def write_rejected(out: Path, landing: Path, batches: list[Batch]) -> Path:
    """``rejected.json`` in ``out``: the landing folder and each rejected file with its problems."""
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "step": STEP,
        "landing": str(landing.resolve()),
        "rejected": [
            {"file": b.file, "sha256": b.sha256, "problems": [v.to_dict() for v in b.problems or []]}
            for b in batches
        ],
    }
    path = out / REJECTED_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def ingest(config: IngestConfig) -> int:
    """Run the step; 0 on success, 1 with one line per problem."""
    try:
        policy = load_data_policy(config.policies)
    except PolicyError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        files = list_landing(config.landing)
    except DataError as exc:
        return fail(STEP, [(exc.file, exc.reason)])
    batches = [read_batch(path, config.landing, policy) for path in files]

    replaced = 0
    frame: pd.DataFrame | None = None
    if batches:
        good = [b for b in batches if not b.problems]
        frame, replaced = resolve_duplicates(
            good,
            list(policy["key_columns"]),
            policy["time_column"],
            policy["ingest"]["duplicate_keys"],
            int(policy["ingest"]["revisable_days"]),
        )
    rejected = [b for b in batches if b.problems]
    if rejected:
        write_rejected(config.data, config.landing, rejected)
        kept = len(batches) - len(rejected)
        lines = [(v.batch, f"{v.column}: {v.reason}") for b in rejected for v in b.problems or []]
        lines.append(("quarantine", f"{len(rejected)} batch(es) rejected, {kept} kept for the next run"))
        return fail(STEP, lines)

    entries = [
        {
            "file": b.file,
            "sha256": b.sha256,
            "rows": len(b.frame),
            "columns": [str(c) for c in b.frame.columns],
        }
        for b in batches
        if b.frame is not None
    ]
    if entries:
        source = "landing"
        if frame is None or frame.empty:
            frame = pd.concat([b.frame for b in batches if b.frame is not None], ignore_index=True)
    else:
        try:
            frame = datasets.load(config.dataset)
        except KeyError as exc:
            reason = f"landing folder {config.landing} holds no batch and {exc.args[0]}"
            return fail(STEP, [("dataset", reason)])
        source = f"bundled:{config.dataset}"

    try:
        manifest = write_dataset(
            frame,
            config.data,
            name=config.dataset,
            time_column=policy["time_column"],
            key_columns=policy["key_columns"],
            features=policy["features"],
            label=policy["label"],
            source=source,
            extra={"batches": entries, "duplicates_replaced": replaced},
        )
    except Exception as exc:  # mixed types across batches that each looked fine: name it, no traceback
        return fail(STEP, [(str(config.data), f"cannot write the dataset: {_first_line(exc)}")])
    log_mlflow(
        metrics={"rows": manifest["rows"], "batches": len(entries), "duplicates_replaced": replaced},
        params={"dataset": config.dataset, "source": source, "content_hash": manifest["content_hash"]},
    )
    first, last = manifest["time_range"]
    print(
        f"{STEP}: {manifest['rows']} rows from {source} ({len(entries)} batch(es), "
        f"{replaced} superseded duplicate row(s)), {first} .. {last}, sha256 {manifest['content_hash'][:12]}"
    )
    return 0


def parse_args(argv: list[str] | None = None) -> IngestConfig:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--landing", required=True, type=Path, help="folder of Parquet/CSV batches")
    parser.add_argument("--dataset", default="rainfall", help="bundled dataset used when landing is empty")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument("--data", required=True, type=Path, help="output dataset folder")
    args = parser.parse_args(argv)
    return IngestConfig(landing=args.landing, dataset=args.dataset, policies=args.policies, data=args.data)


def main(argv: list[str] | None = None) -> int:
    return ingest(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
