"""evaluate: score the challenger and the current champion on the same eval slice; apply the gate.

``python -m ctloop.steps.evaluate --model DIR --eval DIR --policies DIR --model_name NAME --decision OUT
[--recent_model DIR] [--challenger OUT]``

With ``--recent_model`` (the recent-window candidate; ignored when it holds ``no_candidate.json``)
the recent candidate becomes the challenger only when it beats the training-window one on the eval
slice (the newest labelled data) the way a challenger must beat a champion (the gate's checks and
thresholds); ``decision.json`` names the one chosen (``candidate``), why (``choice``), and lists
every candidate's metrics. ``--challenger`` gets a copy of the chosen model folder:
the register step registers that one.

The champion is the registry's ``champion`` version of ``--model_name`` (downloaded, loaded with
the same safe loader). The gate (``ctloop.gate``) takes every threshold from
``<policies>/promotion.yml``. ``decision.json`` records every number and each check; a gate that
says no is a normal outcome (exit 0): the register step records the challenger as not promoted.
``metrics.json`` holds the same numbers flat.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ctloop import gate, lineage, metrics, modeling
from ctloop.policies import PolicyError, load_policy
from ctloop.registry import ModelVersion, RegistryError, open_registry
from ctloop.steps import NO_CANDIDATE_FILE, fail, log_mlflow
from ctloop.tabular import DataError, read_dataset

STEP = "evaluate"
DECISION_FILE = "decision.json"
METRICS_FILE = "metrics.json"
POLICY = "promotion"


@dataclass(frozen=True)
class EvaluateConfig:
    """The step's arguments."""

    model: Path
    eval: Path
    policies: Path
    model_name: str
    decision: Path
    recent_model: Path | None = None
    challenger: Path | None = None


@dataclass(frozen=True)
class Candidate:
    """One trained candidate scored on the eval slice."""

    name: str
    folder: Path
    scores: np.ndarray
    metric: float  # the primary metric on the eval slice (nan when undefined)


def candidate_folders(config: EvaluateConfig) -> list[tuple[str, Path]]:
    """(name, model folder) of every candidate that was trained, the training-window one first."""
    found = [(_candidate_name(config.model, "window"), config.model)]
    if config.recent_model is not None and not (config.recent_model / NO_CANDIDATE_FILE).is_file():
        found.append((_candidate_name(config.recent_model, "recent"), config.recent_model))
    return found


def _candidate_name(folder: Path, default: str) -> str:
    try:
        return str(modeling.read_training_info(folder).get("candidate") or default)
    except (OSError, ValueError):
        return default


def choose(candidates: list[Candidate], y: np.ndarray, policy: gate.GatePolicy) -> tuple[Candidate, str]:
    """The training-window candidate unless a later one beats it beyond noise (gate.pick_candidate)."""
    index, reason = gate.pick_candidate(y, [c.scores for c in candidates], policy)
    return candidates[index], reason


def eval_labels(frame: pd.DataFrame, manifest: dict[str, Any], folder: Path) -> np.ndarray:
    """The eval slice's 0/1 labels; DataError when missing or not binary."""
    label = manifest.get("label")
    if not label or label not in frame.columns:
        raise DataError(folder / "manifest.json", "label", f"label column {label!r} not in the eval data")
    values = frame[label]
    if values.isna().any():
        raise DataError(folder / "data.parquet", label, f"{int(values.isna().sum())} row(s) without a label")
    if not set(np.unique(values)).issubset({0, 1}):
        raise DataError(folder / "data.parquet", label, "label values must be 0/1")
    return values.to_numpy().astype(int)


def score(model_dir: Path, frame: pd.DataFrame, what: str) -> np.ndarray:
    """Positive-class probabilities of one model folder on the eval frame."""
    try:
        classifier = modeling.load_classifier(model_dir)
        return np.asarray(classifier.predict_proba(frame), dtype=float)
    except modeling.ModelLoadError as exc:
        raise ValueError(f"{what}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{what}: cannot score the eval slice: {exc}") from None


def flat_metrics(
    decision: gate.Decision, challenger: dict[str, float], champion: dict[str, float] | None
) -> dict[str, float]:
    """Every number of the evaluation, flat (metrics.json and MLflow)."""
    out = {f"challenger_{k}": v for k, v in challenger.items()}
    out.update({f"champion_{k}": v for k, v in (champion or {}).items()})
    out["promote"] = float(decision.promote)
    if decision.difference is not None:
        out["difference"] = decision.difference
    if decision.bootstrap is not None:
        out["ci_low"] = decision.bootstrap.ci_low
        out["ci_high"] = decision.bootstrap.ci_high
        out["bootstrap_seconds"] = decision.bootstrap.seconds
        out["bootstrap_valid_resamples"] = float(decision.bootstrap.valid_resamples)
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


def _number(value: float | None) -> str:
    """A metric for the log line; "undefined" when the slice cannot define it (one class)."""
    return "undefined" if value is None or not np.isfinite(value) else f"{value:.4f}"


def evaluate(args: EvaluateConfig) -> int:
    """Choose among the candidates, score the champion on the same slice, apply the gate."""
    policy_file = args.policies / f"{POLICY}.yml"
    try:
        policy = gate.GatePolicy.from_dict(load_policy(POLICY, args.policies))
    except PolicyError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    try:
        frame, manifest = read_dataset(args.eval)
        y = eval_labels(frame, manifest, args.eval)
    except DataError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])
    if args.challenger is not None and args.challenger.exists() and any(args.challenger.iterdir()):
        return fail(STEP, [(str(args.challenger), "output folder is not empty")])

    champion: ModelVersion | None = None
    try:
        registry = open_registry(args.model_name)
        candidates = []
        for name, folder in candidate_folders(args):
            scores = score(folder, frame, f"{name} candidate" if name != "window" else "challenger")
            value = (
                metrics.metric(policy.primary_metric, y, scores) if metrics.has_both_classes(y) else np.nan
            )
            candidates.append(Candidate(name, folder, scores, float(value)))
        chosen, choice = choose(candidates, y, policy)
        challenger_scores = chosen.scores
        champion = registry.champion()
        champion_scores = None
        if champion is not None:
            with tempfile.TemporaryDirectory(prefix="ctloop-champion-") as tmp:
                local = registry.download(champion.version, tmp)
                champion_scores = score(local, frame, f"champion version {champion.version}")
    except RegistryError as exc:
        return fail(STEP, [("model_name", str(exc))])
    except ValueError as exc:
        return fail(STEP, [("model", str(exc))])

    version = champion.version if champion is not None else None
    decision = gate.decide(y, challenger_scores, champion_scores, policy, version)
    challenger_report = metrics.report(y, challenger_scores)
    champion_report = metrics.report(y, champion_scores) if champion_scores is not None else None

    result = {
        "model_name": args.model_name,
        "promote": decision.promote,
        "reason": decision.reason,
        "champion_version": version,
        "challenger": {"model_hash": lineage.model_hash(chosen.folder), "metrics": challenger_report},
        "candidate": chosen.name,
        "choice": choice,
        "candidates": [
            {
                "name": c.name,
                "model_hash": lineage.model_hash(c.folder),
                "training_window": modeling.read_training_info(c.folder).get("training_window"),
                policy.primary_metric: c.metric if np.isfinite(c.metric) else None,
            }
            for c in candidates
        ],
        "champion": None
        if champion is None
        else {"version": champion.version, "source": champion.source, "metrics": champion_report},
        "eval": {k: manifest.get(k) for k in ("name", "rows", "time_range", "content_hash")},
        "policy": {"file": str(policy_file), "sha256": hashlib.sha256(policy_file.read_bytes()).hexdigest()},
        "gate": decision.to_dict(),
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    flat = flat_metrics(decision, challenger_report, champion_report)
    args.decision.mkdir(parents=True, exist_ok=True)
    (args.decision / DECISION_FILE).write_text(json.dumps(gate.json_ready(result), indent=2) + "\n")
    (args.decision / METRICS_FILE).write_text(json.dumps(flat, indent=2, sort_keys=True) + "\n")
    if args.challenger is not None:
        shutil.copytree(chosen.folder, args.challenger, dirs_exist_ok=True)

    log_mlflow(
        metrics=flat,
        params={
            "primary_metric": policy.primary_metric,
            "champion_version": version or "none",
            "candidate": chosen.name,
            "candidates": len(candidates),
        },
        tags={"ctloop.gate.promote": str(decision.promote).lower()},
    )
    name = policy.primary_metric
    versus = "no champion" if version is None else f"champion v{version} {_number(decision.champion)}"
    for c in candidates:
        mark = " (chosen)" if c is chosen and len(candidates) > 1 else ""
        print(f"{STEP}: candidate {c.name} {name} {_number(c.metric)}{mark}")
    print(f"{STEP}: challenger {name} {_number(decision.challenger)} vs {versus}: promote={decision.promote}")
    for check in decision.checks:
        print(f"{STEP}:   [{'pass' if check.passed else 'FAIL'}] {check.name}: {check.reason}")
    return 0


def parse_args(argv: list[str] | None = None) -> EvaluateConfig:
    """The command line as an :class:`EvaluateConfig`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, type=Path, help="challenger model folder")
    parser.add_argument("--eval", required=True, type=Path, help="eval-slice dataset folder")
    parser.add_argument("--policies", required=True, type=Path, help="the policies folder")
    parser.add_argument("--model_name", required=True, help="registered model name")
    parser.add_argument("--decision", required=True, type=Path, help="output folder for decision.json")
    parser.add_argument(
        "--recent_model",
        type=Path,
        default=None,
        help="the recent-window candidate's model folder (optional)",
    )
    parser.add_argument(
        "--challenger", type=Path, default=None, help="output: a copy of the chosen candidate's model folder"
    )
    args = parser.parse_args(argv)
    return EvaluateConfig(
        args.model,
        args.eval,
        args.policies,
        args.model_name,
        args.decision,
        args.recent_model,
        args.challenger,
    )


def main(argv: list[str] | None = None) -> int:
    return evaluate(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
