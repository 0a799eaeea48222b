"""ingest: landing batches (or the bundled dataset) -> one dataset folder.

``python -m ctloop.steps.ingest --landing DIR --dataset rainfall --policies DIR --data OUT``

Every ``.parquet``/``.csv`` file under ``--landing`` is a batch. Batches are read (an unreadable
one fails the step naming the file and the reason), concatenated and ordered by the policy's time
column. When two batches hold the same key, ``ingest.duplicate_keys`` decides: ``last`` keeps the
rows of the batch whose path sorts last, ``fail`` stops. Duplicates inside one batch are kept for
the contract to reject. With no batch at all, the bundled dataset ``--dataset`` is used.
The manifest lists every batch with its sha256, row count and columns.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import datasets
from ctloop.contracts import load_data_policy
from ctloop.policies import PolicyError
from ctloop.steps import fail, log_mlflow
from ctloop.tabular import DataError, list_batches, read_batch, sha256_file, write_dataset

STEP = "ingest"
BATCH_COLUMN = "__ctloop_batch"


def read_landing(
    landing: Path, policy: dict[str, Any]
) -> tuple[list[pd.DataFrame], list[dict[str, Any]], list[tuple[str, str]]]:
    """Every batch under ``landing``: frames, manifest entries, and (file, reason) problems."""
    frames, entries, problems = [], [], []
    for index, path in enumerate(list_batches(landing)):
        rel = path.relative_to(landing).as_posix()
        try:
            frame = read_batch(path, policy["time_column"])
        except DataError as exc:
            problems.append((rel, exc.reason if exc.field == "<file>" else f"{exc.field}: {exc.reason}"))
            continue
        missing_keys = [k for k in policy["key_columns"] if k not in frame.columns]
        if missing_keys and len(frame):
            problems.append((rel, f"key column(s) missing: {', '.join(missing_keys)}"))
            continue
        entries.append(
            {
                "file": rel,
                "sha256": sha256_file(path),
                "rows": len(frame),
                "columns": [str(c) for c in frame.columns],
            }
        )
        frames.append(frame.assign(**{BATCH_COLUMN: index}))
    return frames, entries, problems


def resolve_duplicates(
    frame: pd.DataFrame, keys: list[str], rule: str, entries: list[dict[str, Any]]
) -> tuple[pd.DataFrame, int, list[tuple[str, str]]]:
    """Apply the cross-batch duplicate rule; returns (frame, rows replaced, problems)."""
    latest = frame.groupby(keys, dropna=False, sort=False)[BATCH_COLUMN].transform("max")
    superseded = frame[BATCH_COLUMN] < latest
    if not superseded.any():
        return frame, 0, []
    if rule == "fail":
        first = frame[superseded].iloc[0]
        key = {k: str(first[k]) for k in keys}
        earlier = entries[int(first[BATCH_COLUMN])]["file"]
        later = entries[int(latest[superseded].iloc[0])]["file"]
        reason = (
            f"{int(superseded.sum())} row(s) repeat keys of a later batch (first: {key} in {earlier} "
            f"and {later}); policy ingest.duplicate_keys is 'fail'"
        )
        return frame, 0, [(",".join(keys), reason)]
    return frame[~superseded], int(superseded.sum()), []


def ingest(landing: Path, dataset: str, policies: Path, out: Path) -> int:
    try:
        policy = load_data_policy(policies)
    except PolicyError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        frames, entries, problems = read_landing(landing, policy)
    except DataError as exc:
        return fail(STEP, [(exc.file, exc.reason)])
    if problems:
        return fail(STEP, problems)

    replaced = 0
    if entries:
        source = "landing"
        # An empty (header-only) batch adds no rows and would turn its columns into objects.
        frame = pd.concat([f for f in frames if len(f)] or frames, ignore_index=True, sort=False)
        if len(frame):
            keys = list(policy["key_columns"])
            frame, replaced, dup_problems = resolve_duplicates(
                frame, keys, policy["ingest"]["duplicate_keys"], entries
            )
            if dup_problems:
                return fail(STEP, dup_problems)
        frame = frame.drop(columns=[BATCH_COLUMN])
    else:
        try:
            frame = datasets.load(dataset)
        except KeyError as exc:
            return fail(STEP, [("dataset", f"landing folder {landing} holds no batch and {exc.args[0]}")])
        source = f"bundled:{dataset}"

    manifest = write_dataset(
        frame,
        out,
        name=dataset,
        time_column=policy["time_column"],
        key_columns=policy["key_columns"],
        features=policy["features"],
        label=policy["label"],
        source=source,
        extra={"batches": entries, "duplicates_replaced": replaced},
    )
    log_mlflow(
        metrics={"rows": manifest["rows"], "batches": len(entries), "duplicates_replaced": replaced},
        params={"dataset": dataset, "source": source, "content_hash": manifest["content_hash"]},
    )
    first, last = manifest["time_range"]
    print(
        f"{STEP}: {manifest['rows']} rows from {source} ({len(entries)} batch(es), "
        f"{replaced} superseded duplicate row(s)), {first} .. {last}, sha256 {manifest['content_hash'][:12]}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--landing", required=True, type=Path, help="folder of Parquet/CSV batches")
    parser.add_argument("--dataset", default="rainfall", help="bundled dataset used when landing is empty")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument("--data", required=True, type=Path, help="output dataset folder")
    args = parser.parse_args(argv)
    return ingest(args.landing, args.dataset, args.policies, args.data)


if __name__ == "__main__":
    sys.exit(main())
