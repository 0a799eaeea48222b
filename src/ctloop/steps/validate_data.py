"""validate_data: the data contract and drift against the champion's training reference.

``python -m ctloop.steps.validate_data --data DIR --policies DIR --model_name NAME --report OUT
[--reference PATH]``

Runs every check of ``contract`` in ``policies/data.yml`` and compares the newest
``drift.current_window_days`` of data with the drift reference (the champion model's
``ctloop/reference.parquet``, or ``--reference``). Always writes ``report.json``; exits 1 with one
``validate_data: <column or check>: <reason>`` line per broken check, which stops the pipeline.
Drift beyond ``drift.warn`` is a warning; only ``drift.fail`` thresholds (empty by default) fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import drift
from ctloop.contracts import DATASET, Violation, load_data_policy, run_contract
from ctloop.fileio import json_ready
from ctloop.policies import PolicyError
from ctloop.steps import REPORT_FILE, VERDICT_FILE, fail, log_mlflow
from ctloop.tabular import DATA_FILE, DataError, read_dataset

STEP = "validate_data"
REFERENCE_PATH = ("ctloop", "reference.parquet")  # inside a model folder (docs/architecture.md)


def load_reference(model_name: str) -> pd.DataFrame | None:
    """The champion of ``model_name``'s drift reference, or None when there is no champion yet.

    The frame's ``attrs["reference"]`` says where it came from (model, version).
    """
    from ctloop.registry import open_registry

    registry = open_registry(model_name)
    champion = registry.champion()
    if champion is None:
        return None
    with tempfile.TemporaryDirectory(prefix="ctloop-reference-") as tmp:
        folder = Path(registry.download(champion.version, tmp))
        path = folder.joinpath(*REFERENCE_PATH)
        if not path.is_file():
            raise DataError(
                path, "<file>", f"champion {model_name} version {champion.version} has no drift reference"
            )
        frame = pd.read_parquet(path)
    frame.attrs["reference"] = {"model": model_name, "version": str(champion.version)}
    return frame


def read_reference_path(path: Path) -> pd.DataFrame:
    """A reference given on the command line: a Parquet file, a model folder or a dataset folder."""
    candidates = [path, path.joinpath(*REFERENCE_PATH), path / REFERENCE_PATH[1], path / DATA_FILE]
    for candidate in candidates:
        if candidate.is_file():
            frame = pd.read_parquet(candidate)
            frame.attrs["reference"] = {"path": str(candidate)}
            return frame
    raise DataError(path, "<file>", "no reference Parquet here (expected a file, model or dataset folder)")


def current_window(frame: pd.DataFrame, time_column: str, days: int) -> tuple[pd.DataFrame, list[str | None]]:
    """The newest ``days`` of data: ``(last - days, last]``."""
    times = frame[time_column]
    if times.notna().sum() == 0:
        return frame.iloc[0:0], [None, None]
    last = times.max()
    start = last - pd.Timedelta(days=days)
    window = frame[(times > start) & (times <= last)]
    return window, [window[time_column].min().date().isoformat(), last.date().isoformat()]


def drift_section(
    frame: pd.DataFrame,
    policy: dict[str, Any],
    reference: pd.DataFrame | None,
    unusable: set[str],
    reason_if_none: str,
) -> dict[str, Any]:
    """Drift of the newest window against the reference; warnings and failures per policy."""
    settings = policy["drift"]
    if reference is None:
        return {"status": "no reference", "reason": reason_if_none, "warnings": [], "failures": []}
    time_column = policy["time_column"]
    if time_column not in frame.columns or time_column in unusable:
        reason = f"no usable time column {time_column!r} to pick the newest data"
        return {"status": "no comparable data", "reason": reason, "warnings": [], "failures": []}
    features = [f for f in policy["features"] if f in frame.columns and f not in unusable]
    absent = [f for f in features if f not in reference.columns]
    features = [f for f in features if f not in absent]
    current, window = current_window(frame, time_column, settings["current_window_days"])
    section: dict[str, Any] = {
        "status": "computed",
        "reference": {**reference.attrs.get("reference", {}), "rows": len(reference)},
        "current": {"window": window, "rows": len(current), "days": settings["current_window_days"]},
        "bins": settings["bins"],
        "skipped_features": sorted(unusable & set(policy["features"])),
        "absent_from_reference": absent,
    }
    if not features or current.empty or reference.empty:
        return section | {"status": "no comparable data", "table": [], "warnings": [], "failures": []}
    table = drift.feature_table(
        reference,
        current,
        features,
        categorical=policy.get("categorical_features", []),
        bins=settings["bins"],
    )
    warnings = drift.flags(table, settings.get("warn") or {})
    failures = drift.flags(table, settings.get("fail") or {})
    drifted = {w["feature"] for w in warnings}
    section |= {
        "table": table.to_dict("records"),
        "warnings": warnings,
        "failures": failures,
        "summary": {
            "features": len(features),
            "features_warned": len(drifted),
            "share_warned": len(drifted) / len(features),
            **{
                f"max_{m}": drift.overall_score(table, "max", m)
                for m in ("psi", "jensen_shannon", "normalized_wasserstein", "ks_statistic")
            },
        },
    }
    return section


def _metrics(report: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {
        "passed": 1.0 if report["status"] == "passed" else 0.0,
        "rows": float(report["dataset"].get("rows") or 0),
        "contract_violations": float(sum(len(c["violations"]) for c in report["checks"])),
        "drift_warnings": float(len(report["drift"].get("warnings", []))),
    }
    for key, value in (report["drift"].get("summary") or {}).items():
        out[f"drift_{key}"] = value
    for row in report["drift"].get("table", []):
        for metric in ("psi", "jensen_shannon", "normalized_wasserstein", "ks_statistic", "chi2_pvalue"):
            if row.get(metric) is not None:
                out[f"drift_{metric}.{row['feature']}"] = row[metric]
    return out


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT_FILE).write_text(json.dumps(json_ready(report), indent=2, default=str) + "\n")


def write_verdict(report: dict[str, Any], out: Path) -> None:
    """The pass/fail verdict alone: identical for identical data, so dependents stay cached.

    The full report also holds drift against the *current* champion, which changes whenever the
    champion moves; prep depends on this verdict, not on the report.
    """
    out.mkdir(parents=True, exist_ok=True)
    verdict = {
        "status": report["status"],
        "failures": report["failures"],
        "dataset": {"content_hash": report["dataset"].get("content_hash")},
    }
    (out / VERDICT_FILE).write_text(json.dumps(json_ready(verdict), indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class ValidateDataConfig:
    """The step's arguments: ``report`` and ``verdict`` are output folders; ``reference`` an
    explicit drift reference that overrides the registry's champion."""

    data: Path
    policies: Path
    model_name: str
    report: Path
    reference: Path | None = None
    verdict: Path | None = None


def validate(config: ValidateDataConfig) -> int:
    """Check ``config.data`` against the data contract and the drift reference; write the report."""
    data, policies, model_name, out = config.data, config.policies, config.model_name, config.report
    reference_path, verdict_out = config.reference, config.verdict
    report: dict[str, Any] = {
        "status": "failed",
        "model_name": model_name,
        "dataset": {},
        "checks": [],
        "drift": {"status": "not run"},
        "failures": [],
    }

    def finish(problems: list[tuple[str, str]]) -> int:
        report["failures"] = [{"field": f, "reason": r} for f, r in problems]
        report["status"] = "failed" if problems else "passed"
        write_report(report, out)
        if verdict_out is not None:
            write_verdict(report, verdict_out)
        log_mlflow(metrics=_metrics(report), params={"model_name": model_name}, failed=bool(problems))
        if problems:
            return fail(STEP, problems)
        warned = len(report["drift"].get("warnings", []))
        rows = report["dataset"].get("rows")
        print(f"{STEP}: passed ({rows} rows; {warned} drift warning(s)); {out / REPORT_FILE}")
        return 0

    try:
        policy = load_data_policy(policies)
    except PolicyError as exc:
        return finish([(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        frame, manifest = read_dataset(data)
    except DataError as exc:
        return finish([(exc.file, f"{exc.field}: {exc.reason}")])
    report["dataset"] |= {
        k: manifest.get(k) for k in ("name", "rows", "time_range", "content_hash", "source")
    } | {"batches": len(manifest.get("batches") or [])}

    results = run_contract(frame, policy, manifest.get("batches"))
    violations: list[Violation] = [v for vs in results.values() for v in vs]
    report["checks"] = [
        {"check": name, "status": "failed" if vs else "passed", "violations": [v.to_dict() for v in vs]}
        for name, vs in results.items()
    ]
    problems = [(v.column if v.column != DATASET else v.check, v.reason) for v in violations]

    unusable = {v.column for v in violations if v.check in ("required_columns", "dtypes")}
    try:
        if reference_path is not None:
            reference, why = read_reference_path(reference_path), ""
        else:
            reference = load_reference(model_name)
            why = f"model {model_name!r} has no champion yet"
        report["drift"] = drift_section(frame, policy, reference, unusable, why)
    except Exception as exc:  # registry, download or Parquet trouble: name it, never a traceback
        reason = f"{type(exc).__name__}: {exc}"
        report["drift"] = {"status": "error", "reason": reason, "warnings": [], "failures": []}
        problems.append(("reference", reason))
    for item in report["drift"].get("failures", []):
        value, threshold = item["value"], item["threshold"]
        reason = f"drift {item['metric']} {value:.4g} beyond the fail threshold {threshold:.4g}"
        problems.append((item["feature"], reason))
    return finish(problems)


def parse_args(argv: list[str] | None = None) -> ValidateDataConfig:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", required=True, type=Path, help="dataset folder to check")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument(
        "--model_name", required=True, help="model whose champion's training reference to use"
    )
    parser.add_argument("--report", required=True, type=Path, help="output folder for report.json")
    parser.add_argument(
        "--reference", type=Path, default=None, help="explicit drift reference (overrides the registry)"
    )
    parser.add_argument(
        "--verdict", type=Path, default=None, help="output folder for verdict.json (status only)"
    )
    args = parser.parse_args(argv)
    return ValidateDataConfig(
        data=args.data,
        policies=args.policies,
        model_name=args.model_name,
        report=args.report,
        reference=args.reference,
        verdict=args.verdict,
    )


def main(argv: list[str] | None = None) -> int:
    return validate(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
