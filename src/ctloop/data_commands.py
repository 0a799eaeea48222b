"""``ctloop data ...``: work with the data that feeds the training pipeline.

``ctloop data landing --dataset rainfall --until 1985-12-31 [--since DATE] [--out data/landing]
[--freq month]`` writes a bundled dataset as landing batches (one Parquet file per period) so the
pipeline's ingest step sees the same flow real deliveries make.

``ctloop data quarantine list [--landing DIR]`` shows the batches a run rejected and moved to
``<landing>/../quarantine/<run-id>/``; ``ctloop data quarantine release RUN_ID [FILE ...]`` moves
them back once fixed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: --freq -> pandas period alias
FREQUENCIES: dict[str, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
ADVERBS: dict[str, str] = {
    "day": "daily",
    "week": "weekly",
    "month": "monthly",
    "quarter": "quarterly",
    "year": "yearly",
}


def register(subparsers: Any) -> None:
    """Add the ``data`` verb and its subcommands."""
    data = subparsers.add_parser("data", help="landing batches from the bundled datasets")
    sub = data.add_subparsers(dest="data_command", metavar="<command>")
    landing = sub.add_parser(
        "landing",
        help="write a bundled dataset as landing batches (Parquet, one per period)",
        description="Write a bundled dataset as landing batches (one Parquet file per period).",
    )
    landing.add_argument("--dataset", default="rainfall", help="bundled dataset (default: rainfall)")
    landing.add_argument("--until", required=True, help="last day to include (YYYY-MM-DD)")
    landing.add_argument("--since", default=None, help="first day to include (default: the first day)")
    landing.add_argument(
        "--out", default="data/landing", type=Path, help="landing folder (default: data/landing)"
    )
    landing.add_argument(
        "--freq", default="month", choices=sorted(FREQUENCIES), help="one batch per period (default: month)"
    )
    landing.set_defaults(func=_landing)
    _register_quarantine(sub)
    from ctloop.engine.store_commands import add_data_create

    add_data_create(sub)
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])


def _register_quarantine(sub: Any) -> None:
    """``data quarantine list|release``: batches ingest rejected, moved out of the landing folder."""
    quarantine = sub.add_parser(
        "quarantine",
        help="list or release landing batches a run rejected",
        description="Batches ingest rejected, moved to <landing>/../quarantine/<run-id>/.",
    )
    verbs = quarantine.add_subparsers(dest="quarantine_command", metavar="<list|release>")
    listing = verbs.add_parser("list", help="every quarantined batch with its run and reasons")
    listing.add_argument(
        "--landing", default="data/landing", type=Path, help="landing folder (default: data/landing)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=_quarantine_list)
    release = verbs.add_parser("release", help="move a run's quarantined batches back to the landing folder")
    release.add_argument("run_id", help="the run whose quarantine folder to release")
    release.add_argument("files", nargs="*", help="batch files to release (default: all of the run's)")
    release.add_argument(
        "--landing", default="data/landing", type=Path, help="landing folder (default: data/landing)"
    )
    release.set_defaults(func=_quarantine_release)
    quarantine.set_defaults(func=lambda args: (quarantine.print_help(), 2)[1])


def _quarantine_list(args: argparse.Namespace) -> int:
    import json

    from ctloop.quarantine import list_quarantine, quarantine_root

    root = quarantine_root(args.landing)
    reports = [r for r in list_quarantine(root) if r.get("batches") or r.get("error")]
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    if not reports:
        print(f"nothing quarantined under {root}")
        return 0
    for report in reports:
        if report.get("error"):
            print(f"{report['run_id']}: {report['error']}")
        for batch in report.get("batches", []):
            reasons = "; ".join(f"{p['column']}: {p['reason']}" for p in batch.get("problems", []))
            print(f"{report['run_id']}  {batch['file']}  {reasons}")
    return 0


def _quarantine_release(args: argparse.Namespace) -> int:
    from ctloop.quarantine import QuarantineError, quarantine_root, release

    try:
        moved = release(quarantine_root(args.landing), args.run_id, args.files or None, args.landing)
    except QuarantineError as exc:
        print(f"ctloop data quarantine release: {exc}", file=sys.stderr)
        return 2
    print(f"released {len(moved)} batch(es) to {args.landing}: {', '.join(moved) or 'none'}")
    return 0


def _parse_day(value: str | None, flag: str) -> Any:
    import pandas as pd

    if value is None:
        return None
    try:
        return pd.Timestamp(value).normalize()
    except (ValueError, TypeError):
        raise ValueError(f"{flag}: {value!r} is not a date (use YYYY-MM-DD)") from None


def batch_name(dataset: str, period: Any, freq: str) -> str:
    """File name of the batch for ``period``: sorts in time order (week: its first day)."""
    label = period.start_time.date().isoformat() if freq == "week" else str(period)
    return f"{dataset}-{label}.parquet"


def write_landing(
    dataset: str, until: str, since: str | None, out: Path, freq: str
) -> tuple[int, int, str, str]:
    """Write the batches; returns (files, rows, first day, last day). ValueError on bad input."""
    from ctloop import datasets

    if freq not in FREQUENCIES:
        raise ValueError(f"--freq: {freq!r} is not one of {sorted(FREQUENCIES)}")
    end, start = _parse_day(until, "--until"), _parse_day(since, "--since")
    if start is not None and start > end:
        raise ValueError(f"--since: {since} is after --until {until}")
    try:
        frame = datasets.load(dataset)
    except KeyError as exc:
        raise ValueError(f"--dataset: {exc.args[0]}") from None
    time_column = datasets.TIME_COLUMN
    times = frame[time_column]
    keep = times <= end if start is None else (times >= start) & (times <= end)
    frame = frame[keep]
    if frame.empty:
        first, last = times.min().date(), times.max().date()
        raise ValueError(f"--until/--since: no rows in that range ({dataset} covers {first} .. {last})")
    out.mkdir(parents=True, exist_ok=True)
    periods = frame[time_column].dt.to_period(FREQUENCIES[freq])
    files = 0
    for period, part in frame.groupby(periods, sort=True):
        part.reset_index(drop=True).to_parquet(out / batch_name(dataset, period, freq), index=False)
        files += 1
    first, last = frame[time_column].min().date().isoformat(), frame[time_column].max().date().isoformat()
    return files, len(frame), first, last


def _landing(args: argparse.Namespace) -> int:
    try:
        files, rows, first, last = write_landing(args.dataset, args.until, args.since, args.out, args.freq)
    except ValueError as exc:
        print(f"ctloop data landing: {exc}", file=sys.stderr)
        return 2
    what = f"{files} {ADVERBS[args.freq]} batch(es), {rows} rows ({first} .. {last}) of {args.dataset}"
    print(f"wrote {what} to {args.out}")
    return 0
