"""prep: a validated dataset -> ``train`` and ``eval`` dataset folders, split by time.

``python -m ctloop.steps.prep --data DIR --report DIR --policies DIR --train OUT --eval OUT
[--recent OUT] [--triggers NAMES]``

Refuses to run unless the validation report says ``passed``. The evaluation slice is the latest
``split.eval_days`` of labelled data; the training window the ``split.train_days`` before it
(``split.gap_days`` left out between). Never a random split: rows are days of a time series.

When ``--triggers`` (the retrain's fired triggers, comma-separated) names one of retraining.yml's
``candidates.recent_window.when``, the world changed: the eval slice becomes the newest
``recent_window.eval_days`` of labelled data and ``--recent`` gets a second training set, the last
``recent_window.train_days`` before it (both candidates train strictly before the eval slice).
``after_change`` among the triggers (the loop adds it when a change trigger started a retrain
within ``recent_window.after_change_days``) does the same for an age refresh.
Otherwise ``--recent`` holds only ``no_candidate.json`` saying why, and the train step skips it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop.contracts import load_data_policy
from ctloop.policies import PolicyError, load_policy
from ctloop.splits import SplitError, Window, time_split
from ctloop.steps import NO_CANDIDATE_FILE, REPORT_FILE, VERDICT_FILE, fail, log_mlflow
from ctloop.tabular import DataError, read_dataset, write_dataset

STEP = "prep"
#: Every trigger name ``ctloop.triggers`` can fire; ``none`` (a manual or scheduled run) fires none.
TRIGGER_NAMES = ("no_champion", "performance_drop", "below_floor", "champion_age", "drift", "calibration")
#: The triggers that say the world changed (the default of ``recent_window.when``).
CHANGE_TRIGGERS = frozenset({"performance_drop", "below_floor", "drift", "calibration"})
#: Not a trigger: passed with the fired ones when a trigger of ``recent_window.when`` started a
#: retrain within ``recent_window.after_change_days`` (the loop knows its history; prep does not).
AFTER_CHANGE = "after_change"


@dataclass(frozen=True)
class RecentWindow:
    """``retraining.yml`` ``candidates.recent_window``: a second candidate trained on recent data only."""

    train_days: int
    eval_days: int
    when: frozenset[str] = CHANGE_TRIGGERS
    after_change_days: int | None = None  # any retrain this soon after a change adds the candidate

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any]) -> RecentWindow | None:
        """The section of a validated retraining policy; None when absent or disabled."""
        section = (policy.get("candidates") or {}).get("recent_window") or {}
        if not section.get("enabled", False):
            return None
        when = frozenset(section.get("when") or CHANGE_TRIGGERS)
        after = section.get("after_change_days")
        return cls(
            int(section["train_days"]), int(section["eval_days"]), when, None if after is None else int(after)
        )

    def due(self, fired: Iterable[str]) -> bool:
        """Whether these fired triggers (and :data:`AFTER_CHANGE`) ask for the recent candidate."""
        names = set(fired)
        return bool(self.when & names) or (self.after_change_days is not None and AFTER_CHANGE in names)

    def after_change(self, days_since_change: float | None) -> bool:
        """Whether a retrain ``days_since_change`` after one fired by ``when`` adds the candidate."""
        return (
            self.after_change_days is not None
            and days_since_change is not None
            and days_since_change <= self.after_change_days
        )


@dataclass(frozen=True)
class Candidates:
    """Training sets of the candidates (name, rows, window) and the eval slice they are judged on."""

    trains: list[tuple[str, pd.DataFrame, Window]]
    eval: pd.DataFrame
    eval_window: Window
    note: str  # why there is no recent candidate ("" when there is one)


def parse_triggers(text: str | None) -> tuple[str, ...]:
    """``"drift,performance_drop"`` -> names; ValueError naming an unknown trigger."""
    names = tuple(n.strip() for n in (text or "").split(",") if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in TRIGGER_NAMES and n != AFTER_CHANGE]
    if unknown:
        known = ", ".join(("none", *TRIGGER_NAMES, AFTER_CHANGE))
        raise ValueError(f"unknown trigger(s) {', '.join(unknown)}; known: {known}")
    return names


def candidate_split(
    frame: pd.DataFrame,
    *,
    time_column: str,
    label: str,
    split: Mapping[str, Any],
    recent: RecentWindow | None,
    min_eval_rows: int,
) -> Candidates:
    """The pipeline's split, or (``recent`` given) both candidates before the newest labelled data.

    With ``recent``: the eval slice is the newest ``recent.eval_days`` of labelled data (when it holds
    ``min_eval_rows``, the gate's minimum; otherwise the pipeline's own eval slice), the ``window``
    candidate the ``split.train_days`` before it, the ``recent`` one the last ``recent.train_days``.
    SplitError when even the pipeline's split cannot be made.
    """
    common = {
        "time_column": time_column,
        "label": label,
        "gap_days": split["gap_days"],
        "min_train_rows": split["min_train_rows"],
    }
    standard = time_split(
        frame,
        eval_days=split["eval_days"],
        train_days=split["train_days"],
        min_eval_rows=split["min_eval_rows"],
        **common,
    )
    plain = Candidates(
        [("window", standard.train, standard.train_window)], standard.eval, standard.eval_window, ""
    )
    if recent is None:
        return plain
    try:
        long = time_split(
            frame,
            eval_days=recent.eval_days,
            train_days=split["train_days"],
            min_eval_rows=min_eval_rows,
            **common,
        )
    except SplitError:
        # too few rows in the newest eval_days for the gate (one row a day): both candidates meet
        # on the pipeline's own eval slice instead
        long, eval_days, need = standard, split["eval_days"], split["min_eval_rows"]
    else:
        eval_days, need = recent.eval_days, min_eval_rows
    try:
        short = time_split(
            frame, eval_days=eval_days, train_days=recent.train_days, min_eval_rows=need, **common
        )
    except SplitError as exc:
        return Candidates(plain.trains, plain.eval, plain.eval_window, f"no recent candidate: {exc}")
    return Candidates(
        [("window", long.train, long.train_window), ("recent", short.train, short.train_window)],
        long.eval,
        long.eval_window,
        "",
    )


@dataclass(frozen=True)
class PrepConfig:
    """The step's arguments."""

    data: Path
    report: Path
    policies: Path
    train: Path
    eval: Path
    recent: Path | None = None
    triggers: tuple[str, ...] = ()


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


def _recent_policy(config: PrepConfig) -> tuple[RecentWindow | None, int, str]:
    """The recent-window section when these triggers ask for it, the gate's min_eval_rows, and why not."""
    if not config.triggers:
        return None, 0, "no trigger fired (a manual or scheduled run)"
    recent = RecentWindow.from_policy(load_policy("retraining", config.policies))
    if recent is None:
        return None, 0, "retraining.yml candidates.recent_window is disabled"
    if not recent.due(config.triggers):
        return None, 0, f"fired {', '.join(config.triggers)}: none of {', '.join(sorted(recent.when))}"
    return recent, int(load_policy("promotion", config.policies)["min_eval_rows"]), ""


def prep(config: PrepConfig) -> int:
    """Split the dataset by time and write the candidates' training sets and the eval slice."""
    report, refusal = read_report(config.report)
    if refusal:
        return fail(STEP, [("report", refusal)])
    try:
        policy = load_data_policy(config.policies)
        recent, min_eval_rows, why_not = _recent_policy(config)
    except PolicyError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        frame, manifest = read_dataset(config.data)
    except DataError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    checked = (report or {}).get("dataset", {}).get("content_hash")
    if checked and checked != manifest["content_hash"]:
        return fail(
            STEP, [("report", f"the report checked data {checked[:12]}, not {manifest['content_hash'][:12]}")]
        )
    try:
        parts = candidate_split(
            frame,
            time_column=policy["time_column"],
            label=policy["label"],
            split=policy["split"],
            recent=recent,
            min_eval_rows=min_eval_rows,
        )
    except SplitError as exc:
        return fail(STEP, [(exc.field, exc.reason)])
    why_not = why_not or parts.note

    roles = {
        "time_column": policy["time_column"],
        "key_columns": policy["key_columns"],
        "features": policy["features"],
        "label": policy["label"],
    }
    lineage = {"parent": {k: manifest.get(k) for k in ("name", "content_hash", "source")}}
    outputs = {"window": config.train, "recent": config.recent}
    written = {}
    for part, rows, window, out in [
        *((name, rows, window, outputs[name]) for name, rows, window in parts.trains),
        ("eval", parts.eval, parts.eval_window, config.eval),
    ]:
        if out is None:  # a recent candidate without a --recent folder: only the window one is trained
            why_not = "no --recent output folder"
            continue
        extra = {"window": {"after": str(window.start.date()), "until": str(window.end.date())}}
        if part != "eval":
            extra["candidate"] = part
        written[part] = write_dataset(
            rows,
            out,
            name=f"{manifest.get('name', 'data')}-{'train' if part == 'window' else part}",
            source=f"prep:{part}",
            extra=lineage | extra | {"triggers": list(config.triggers)},
            **roles,
        )
    if config.recent is not None and "recent" not in written:
        config.recent.mkdir(parents=True, exist_ok=True)
        note = {"candidate": "recent", "trained": False, "reason": why_not, "triggers": list(config.triggers)}
        (config.recent / NO_CANDIDATE_FILE).write_text(json.dumps(note, indent=2) + "\n")
    log_mlflow(
        metrics={f"{p}_rows": m["rows"] for p, m in written.items()},
        params={
            "train_window": "..".join(map(str, written["window"]["time_range"])),
            "eval_window": "..".join(map(str, written["eval"]["time_range"])),
            "recent_candidate": "recent" in written,
            "triggers": ",".join(config.triggers) or "none",
        },
    )
    for part, m in written.items():
        print(f"{STEP}: {part}: {m['rows']} rows, {m['time_range'][0]} .. {m['time_range'][1]}")
    if "recent" not in written:
        print(f"{STEP}: recent: not trained ({why_not})")
    return 0


def parse_args(argv: list[str] | None = None) -> PrepConfig:
    """The command line as a :class:`PrepConfig`; exits 2 with one line on a bad argument."""
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, type=Path, help="validated dataset folder")
    parser.add_argument("--report", required=True, type=Path, help="validate_data's report folder")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument("--train", required=True, type=Path, help="output: training dataset folder")
    parser.add_argument("--eval", required=True, type=Path, help="output: evaluation dataset folder")
    parser.add_argument(
        "--recent",
        type=Path,
        default=None,
        help="output: the recent-window training set (or no_candidate.json)",
    )
    parser.add_argument(
        "--triggers",
        default="none",
        help="the retrain's fired triggers, comma-separated (none: a manual run)",
    )
    args = parser.parse_args(argv)
    try:
        fired = parse_triggers(args.triggers)
    except ValueError as exc:
        parser.error(f"--triggers: {exc}")
    return PrepConfig(args.data, args.report, args.policies, args.train, args.eval, args.recent, fired)


def main(argv: list[str] | None = None) -> int:
    return prep(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
