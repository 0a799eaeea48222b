"""prep: a validated dataset -> ``train`` and ``eval`` dataset folders, split by time.

``python -m ctloop.steps.prep --data DIR --report DIR --policies DIR --train OUT --eval OUT``

Refuses to run unless the validation report says ``passed``. The evaluation slice is the latest
``split.eval_days`` of labelled data; the training window the ``split.train_days`` before it
(``split.gap_days`` left out between). Never a random split: rows are days of a time series.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ctloop.contracts import load_data_policy
from ctloop.policies import PolicyError
from ctloop.splits import SplitError, time_split
from ctloop.steps import REPORT_FILE, VERDICT_FILE, fail, log_mlflow
from ctloop.tabular import DataError, read_dataset, write_dataset

STEP = "prep"


def read_report(folder: Path) -> tuple[dict[str, Any] | None, str]:
    """The validation verdict (or full report) and, when it does not allow prep to run, why."""
    path = folder / VERDICT_FILE if (folder / VERDICT_FILE).is_file() else folder / REPORT_FILE
    if not path.is_file():
        return None, f"{path}: no validation report"
    try:
        report = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        return None, f"{path}: invalid JSON: {exc.msg}"
    status = report.get("status") if isinstance(report, dict) else None
    if status != "passed":
        failures = report.get("failures") if isinstance(report, dict) else None
        detail = "; ".join(f"{f.get('field')}: {f.get('reason')}" for f in failures or [])
        return report, f"{path}: validation status is {status!r}, not 'passed'" + (
            f" ({detail})" if detail else ""
        )
    return report, ""


def prep(data: Path, report_dir: Path, policies: Path, train_out: Path, eval_out: Path) -> int:
    report, refusal = read_report(report_dir)
    if refusal:
        return fail(STEP, [("report", refusal)])
    try:
        policy = load_data_policy(policies)
    except PolicyError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        frame, manifest = read_dataset(data)
    except DataError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    checked = (report or {}).get("dataset", {}).get("content_hash")
    if checked and checked != manifest["content_hash"]:
        return fail(
            STEP, [("report", f"the report checked data {checked[:12]}, not {manifest['content_hash'][:12]}")]
        )

    s = policy["split"]
    try:
        split = time_split(
            frame,
            time_column=policy["time_column"],
            label=policy["label"],
            eval_days=s["eval_days"],
            train_days=s["train_days"],
            gap_days=s["gap_days"],
            min_train_rows=s["min_train_rows"],
            min_eval_rows=s["min_eval_rows"],
        )
    except SplitError as exc:
        return fail(STEP, [(exc.field, exc.reason)])

    roles = {
        "time_column": policy["time_column"],
        "key_columns": policy["key_columns"],
        "features": policy["features"],
        "label": policy["label"],
    }
    lineage = {"parent": {k: manifest.get(k) for k in ("name", "content_hash", "source")}}
    written = {}
    for part, rows, window, out in (
        ("train", split.train, split.train_window, train_out),
        ("eval", split.eval, split.eval_window, eval_out),
    ):
        written[part] = write_dataset(
            rows,
            out,
            name=f"{manifest.get('name', 'data')}-{part}",
            source=f"prep:{part}",
            extra=lineage | {"window": {"after": str(window.start.date()), "until": str(window.end.date())}},
            **roles,
        )
    log_mlflow(
        metrics={"train_rows": len(split.train), "eval_rows": len(split.eval)},
        params={
            "train_window": "..".join(map(str, written["train"]["time_range"])),
            "eval_window": "..".join(map(str, written["eval"]["time_range"])),
        },
    )
    for part, m in written.items():
        print(f"{STEP}: {part}: {m['rows']} rows, {m['time_range'][0]} .. {m['time_range'][1]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, type=Path, help="validated dataset folder")
    parser.add_argument("--report", required=True, type=Path, help="validate_data's report folder")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument("--train", required=True, type=Path, help="output: training dataset folder")
    parser.add_argument("--eval", required=True, type=Path, help="output: evaluation dataset folder")
    args = parser.parse_args(argv)
    return prep(args.data, args.report, args.policies, args.train, args.eval)


if __name__ == "__main__":
    sys.exit(main())
