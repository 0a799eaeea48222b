"""register: store the challenger with its lineage; move the champion only when the gate passed.

``python -m ctloop.steps.register --model DIR --decision DIR --data DIR --model_name NAME --registration OUT``

Every challenger is registered, promoted or not, tagged with: the data it came from (asset
name/version, content hash, time range), the code snapshot hash, the pipeline run id, its metrics
and the gate decision. When the gate passed, the ``champion`` pointer moves by compare-and-set
against the champion the evaluate step compared with; if another run moved it meanwhile, the
newer champion stays and this version is recorded as ``champion_moved_concurrently``.

An unchanged rerun registers nothing new: when a registered version already holds the same
model (its ``ctloop.model_hash`` tag), that version is reused (outcome ``unchanged``, or
``promoted`` when the gate passed and the pointer moved); a model a rollout rejected is never
promoted again (outcome ``rejected_before``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ctloop import lineage, modeling
from ctloop.registry import (
    STATUS_MOVED,
    STATUS_NOT_PROMOTED,
    STATUS_PROMOTED,
    STATUS_REGISTERED,
    STATUS_REJECTED,
    TAG_STATUS,
    RegistryError,
    open_registry,
)
from ctloop.steps import fail, log_mlflow, mlflow_enabled
from ctloop.steps.evaluate import DECISION_FILE
from ctloop.tabular import DataError, read_manifest

STEP = "register"
REGISTRATION_FILE = "registration.json"
ASSET_FILE = "asset.json"
#: Outcomes when the challenger's model hash is already a registered version (nothing new stored).
OUTCOME_UNCHANGED = "unchanged"
OUTCOME_REJECTED_BEFORE = "rejected_before"


def pipeline_run_id() -> str:
    """The step run's ``mlflow.parentRunId`` tag (the pipeline run), else ``$CTLOOP_RUN_ID``."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if run_id and mlflow_enabled():
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        try:
            parent = MlflowClient().get_run(run_id).data.tags.get("mlflow.parentRunId")
        except MlflowException:
            parent = None
        if parent:
            return parent
    return os.environ.get("CTLOOP_RUN_ID", "")


def read_decision(folder: Path) -> dict[str, Any]:
    """decision.json of the evaluate step; ValueError naming the file and field when unusable."""
    path = folder / DECISION_FILE
    if not path.is_file():
        raise ValueError(f"{path}: <file>: decision.json missing")
    try:
        decision = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
    for key in ("model_name", "promote", "champion_version", "challenger", "gate"):
        if key not in decision:
            raise ValueError(f"{path}: {key}: required key missing")
    checks = decision["gate"].get("checks") or []
    if decision["promote"] is not (bool(checks) and all(c.get("passed") is True for c in checks)):
        raise ValueError(f"{path}: promote: does not agree with the gate's checks")
    return decision


def _fmt(value: Any) -> str:
    return "" if value is None else (f"{value:.6f}" if isinstance(value, float) else str(value))


def lineage_tags(model: Path, decision: dict[str, Any], data: Path) -> dict[str, str]:
    """Tags recording where the version came from and what the gate said."""
    manifest = read_manifest(data)
    asset_file = data / ASSET_FILE
    asset = json.loads(asset_file.read_text()) if asset_file.is_file() else {}
    asset_name = asset.get("name") or manifest.get("name") or ""
    asset_version = str(asset.get("version") or "")
    time_range = manifest.get("time_range") or [None, None]
    info = modeling.read_training_info(model)
    window = info.get("training_window") or [None, None]
    gate = decision["gate"]
    boot = gate.get("bootstrap") or {}
    ci = f"[{_fmt(boot.get('ci_low'))}, {_fmt(boot.get('ci_high'))}]" if boot else ""
    evaluation = decision.get("eval") or {}
    eval_range = evaluation.get("time_range") or [None, None]
    return {
        "ctloop.model_hash": decision["challenger"]["model_hash"],
        "ctloop.trainer": str(info.get("trainer", "")),
        "ctloop.training_window": f"{window[0]}/{window[1]}",
        "ctloop.data.asset": f"{asset_name}:{asset_version}" if asset_version else asset_name,
        "ctloop.data.asset_name": asset_name,
        "ctloop.data.asset_version": asset_version,
        "ctloop.data.content_hash": str(manifest.get("content_hash", "")),
        "ctloop.data.time_range": f"{time_range[0]}/{time_range[1]}",
        "ctloop.code_hash": lineage.code_snapshot_hash(),
        "ctloop.pipeline_run_id": pipeline_run_id(),
        "ctloop.eval.content_hash": str(evaluation.get("content_hash", "")),
        "ctloop.eval.time_range": f"{eval_range[0]}/{eval_range[1]}",
        "ctloop.gate.metric": str(gate.get("metric", "")),
        "ctloop.gate.challenger_metric": _fmt(gate.get("challenger")),
        "ctloop.gate.champion_metric": _fmt(gate.get("champion")),
        "ctloop.gate.difference": _fmt(gate.get("difference")),
        "ctloop.gate.ci": ci,
        "ctloop.gate.compared_with": str(decision["champion_version"] or "none"),
        "ctloop.gate.promote": str(bool(decision["promote"])).lower(),
        "ctloop.gate.reason": str(decision.get("reason", ""))[:4000],
    }


@dataclass(frozen=True)
class RegisterConfig:
    """The step's arguments."""

    model: Path
    decision: Path
    data: Path
    model_name: str
    registration: Path


def _store(registry: Any, config: RegisterConfig, tags: dict[str, str], promote: bool) -> tuple[Any, str]:
    """Register the challenger, or reuse the version that holds the same model; (version, outcome)."""
    existing = registry.find_model_hash(tags["ctloop.model_hash"])
    if existing is None:
        tags[TAG_STATUS] = STATUS_REGISTERED if promote else STATUS_NOT_PROMOTED
        return registry.register(config.model, tags), ""
    if existing.status == STATUS_REJECTED:
        return existing, OUTCOME_REJECTED_BEFORE
    return existing, OUTCOME_UNCHANGED


def register(config: RegisterConfig) -> int:
    """Run the step; 0 on success, 1 with one line per problem."""
    try:
        decision = read_decision(config.decision)
    except ValueError as exc:
        return fail(STEP, [("decision", str(exc))])
    if decision["model_name"] != config.model_name:
        reason = f"{config.model_name!r} but the decision is about {decision['model_name']!r}"
        return fail(STEP, [("model_name", reason)])
    if lineage.model_hash(config.model) != decision["challenger"]["model_hash"]:
        return fail(
            STEP, [("model", "this model folder is not the one the decision evaluated (hash differs)")]
        )
    try:
        tags = lineage_tags(config.model, decision, config.data)
    except DataError as exc:
        return fail(STEP, [(exc.file, f"{exc.field}: {exc.reason}")])

    promote = bool(decision["promote"])
    expected = decision["champion_version"]
    try:
        registry = open_registry(config.model_name)
        version, reused = _store(registry, config, tags, promote)
        if reused == OUTCOME_REJECTED_BEFORE:
            outcome = reused  # never promote a model a rollout already rejected
        elif not promote or (reused and version.is_champion):
            outcome = reused or STATUS_NOT_PROMOTED
        elif registry.set_champion(version.version, expected):
            outcome = STATUS_PROMOTED
        else:
            outcome = STATUS_MOVED
            if not reused:
                registry.set_tags(version.version, {TAG_STATUS: STATUS_MOVED})
        champion = registry.champion()
        version = registry.get(version.version)
    except RegistryError as exc:
        return fail(STEP, [("registry", str(exc))])

    after = champion.version if champion is not None else None
    result = {
        "model_name": config.model_name,
        "version": version.version,
        "source": version.source,
        "outcome": outcome,
        "promoted": outcome == STATUS_PROMOTED,
        "gate_promote": promote,
        "registered": not reused,
        "champion_before": expected,
        "champion_after": after,
        "tags": version.tags,
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    config.registration.mkdir(parents=True, exist_ok=True)
    (config.registration / REGISTRATION_FILE).write_text(json.dumps(result, indent=2) + "\n")
    log_mlflow(
        metrics={"promoted": float(result["promoted"]), "registered": float(not reused)},
        params={"model_name": config.model_name, "model_version": version.version, "outcome": outcome},
        tags={"ctloop.model_version": version.version, "ctloop.outcome": outcome},
    )
    if reused:
        short = tags["ctloop.model_hash"][:12]
        print(f"{STEP}: model hash {short} is already version {version.version}: registration skipped")
    note = {
        STATUS_PROMOTED: f"now champion (was {expected or 'none'})",
        STATUS_NOT_PROMOTED: f"not promoted; champion stays {after or 'none'}",
        STATUS_MOVED: f"gate passed but the champion moved to {after} meanwhile: left in place",
        OUTCOME_UNCHANGED: f"unchanged; champion stays {after or 'none'}",
        OUTCOME_REJECTED_BEFORE: f"rejected by a rollout before: not promoted again; champion {after}",
    }[outcome]
    what = "kept" if reused else "registered"
    print(f"{STEP}: {config.model_name} version {version.version} {what}, {note}")
    return 0


def parse_args(argv: list[str] | None = None) -> RegisterConfig:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, type=Path, help="challenger model folder")
    parser.add_argument("--decision", required=True, type=Path, help="the evaluate step's decision folder")
    parser.add_argument("--data", required=True, type=Path, help="the ingested dataset folder (lineage)")
    parser.add_argument("--model_name", required=True, help="registered model name")
    parser.add_argument(
        "--registration", required=True, type=Path, help="output folder for registration.json"
    )
    args = parser.parse_args(argv)
    return RegisterConfig(args.model, args.decision, args.data, args.model_name, args.registration)


def main(argv: list[str] | None = None) -> int:
    return register(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
