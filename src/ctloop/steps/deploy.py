"""deploy: roll the registered version out to the online endpoint when the gate promoted it.

``python -m ctloop.steps.deploy --registration DIR --eval DIR --policies DIR --deployment OUT
[--endpoints DIR] [--target local|azure] [--endpoint-name NAME]``

Reads ``<registration>/registration.json`` (written by the register step). Fields relied on:
``model_name`` (str) and ``version`` (str or int) always; ``promoted`` (bool, absent = false);
optionally ``model_dir`` / ``model_uri`` / ``source``, used when one names an existing local
model folder (else the version is fetched from the registry). When ``promoted`` is false the
step records ``skipped: gate did not promote`` and exits 0, unless the registry's champion does
not serve yet (a run killed mid-rollout): then it rolls the champion out (``catch_up``).
Otherwise it runs the blue/green
rollout (``ctloop rollout start``, policies/rollout.yml) in a child process, so this step never
imports the endpoint code itself, and writes ``<deployment>/deployment.json``: ``status``
(``skipped`` | ``promoted`` | ``rolled_back`` | ``failed``), ``reason``, ``model_name``,
``version``, ``rollout_id``, ``endpoint``, ``slot``, ``checks``. A rollback exits 1.

On ``--target azure`` inside an Azure ML job the rollout uses the job's own identity and
workspace: :func:`rollout_environment` maps the variables the service sets (``AZUREML_ARM_*``,
``DEFAULT_IDENTITY_CLIENT_ID``) to the ones the Azure endpoint reads, and ``--endpoint-name``
(the stack's endpoint) to ``AZUREML_ENDPOINT_NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctloop.steps import fail, log_mlflow

STEP = "deploy"
REGISTRATION_FILE = "registration.json"
DEPLOYMENT_FILE = "deployment.json"
SKIPPED_REASON = "gate did not promote"


@dataclass(frozen=True)
class DeployConfig:
    """The step's arguments: ``deployment`` is the output folder; ``endpoints`` defaults to
    ``<policies>/../pipelines/endpoints``; ``endpoint_name`` is the stack's endpoint (azure)."""

    registration: Path
    eval: Path
    policies: Path
    deployment: Path
    endpoints: Path | None = None
    target: str = "local"
    endpoint_name: str | None = None


def read_registration(folder: Path) -> dict[str, Any]:
    """The fields of registration.json this step uses; ValueError('<file>: <field>: <reason>')."""
    path = folder / REGISTRATION_FILE if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: <file>: not found (the register step writes it)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: <file>: not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: <root>: expected a JSON object")
    name, version = data.get("model_name"), data.get("version")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{path}: model_name: missing or not a string")
    if isinstance(version, bool) or not isinstance(version, str | int) or str(version) == "":
        raise ValueError(f"{path}: version: missing or not a string/integer")
    promoted = data.get("promoted", False)
    if not isinstance(promoted, bool):
        raise ValueError(f"{path}: promoted: expected true or false, got {promoted!r}")
    return {"path": path, "model_name": name, "version": str(version), "promoted": promoted}


def pending_champion(model_name: str) -> tuple[str, str | None] | None:
    """(champion, serving) when the registry's champion does not serve yet, else None.

    A run killed between register and the end of its rollout leaves the champion pointer on a
    version nothing serves; the next run's deploy rolls that champion out (one truth: the champion
    is what serves), whether or not its own gate promoted anything."""
    try:
        from ctloop.registry import STATUS_REJECTED, model_names, open_registry

        if model_name not in model_names():  # reading creates nothing when there is no registry
            return None
        registry = open_registry(model_name)
        champion, serving = registry.champion(), registry.serving()
    except Exception as exc:  # no registry for this target: nothing to catch up
        print(f"{STEP}: champion/serving not checked: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    if champion is None or champion.status == STATUS_REJECTED:
        return None
    if serving is not None and serving.version == champion.version:
        return None
    return champion.version, serving.version if serving is not None else None


def _write(out: Path, result: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / DEPLOYMENT_FILE).write_text(json.dumps(result, indent=2, default=str) + "\n")


#: Azure ML job variable -> the variable the rollout's Azure client reads.
JOB_VARIABLES = {
    "AZUREML_ARM_SUBSCRIPTION": "AZURE_SUBSCRIPTION_ID",
    "AZUREML_ARM_RESOURCEGROUP": "AZURE_RESOURCE_GROUP",
    "AZUREML_ARM_WORKSPACE_NAME": "AZUREML_WORKSPACE_NAME",
    "DEFAULT_IDENTITY_CLIENT_ID": "AZURE_CLIENT_ID",
}


def rollout_environment(target: str, endpoint_name: str | None, environ: dict[str, str]) -> dict[str, str]:
    """The rollout child's environment: on azure, the job's workspace, identity and the endpoint."""
    env = dict(environ)
    if target != "azure":
        return env
    for job_var, client_var in JOB_VARIABLES.items():
        if environ.get(job_var) and not environ.get(client_var):
            env[client_var] = environ[job_var]
    if endpoint_name:
        env["AZUREML_ENDPOINT_NAME"] = endpoint_name
    return env


def _rollout(config: DeployConfig, registration: Path, result_file: Path) -> int:
    endpoints = config.endpoints or config.policies.resolve().parent / "pipelines" / "endpoints"
    cmd = [
        sys.executable,
        "-m",
        "ctloop.cli",
        "rollout",
        "start",
        "--registration",
        str(registration),
        "--eval",
        str(config.eval),
        "--policies",
        str(config.policies),
        "--endpoints",
        str(endpoints),
        "--target",
        config.target,
        "--result",
        str(result_file),
    ]
    env = rollout_environment(config.target, config.endpoint_name, dict(os.environ))
    return subprocess.call(cmd, env=env)


def deploy(config: DeployConfig) -> int:
    """Roll the registered version out (or the champion that does not serve yet); 1 on rollback."""
    try:
        reg = read_registration(config.registration)
    except ValueError as exc:
        file, _, rest = str(exc).partition(": ")
        return fail(STEP, [(file, rest)])
    base = {"model_name": reg["model_name"], "version": reg["version"]}
    if not reg["promoted"]:
        pending = pending_champion(reg["model_name"])
        if pending is None:
            _write(config.deployment, {**base, "status": "skipped", "reason": SKIPPED_REASON})
            print(f"{STEP}: skipped: {SKIPPED_REASON} ({reg['model_name']} version {reg['version']})")
            return 0
        champion, serving = pending
        print(f"{STEP}: champion {champion} does not serve (serving: {serving or 'none'}): rolling it out")
        path = config.deployment / "champion-registration.json"
        config.deployment.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model_name": reg["model_name"], "version": champion, "promoted": True}))
        reg = {**reg, "version": champion, "path": path}
        base = {"model_name": reg["model_name"], "version": champion, "catch_up": True}
    result_file = config.deployment / "rollout.json"
    config.deployment.mkdir(parents=True, exist_ok=True)
    code = _rollout(config, reg["path"], result_file)
    try:
        state = json.loads(result_file.read_text())
    except (OSError, ValueError):
        state = {}
    status = state.get("stage") if state.get("stage") in ("promoted", "rolled_back") else "failed"
    result = {
        **base,
        "status": status,
        "reason": state.get("reason") or (None if code == 0 else f"rollout exited with code {code}"),
        "rollout_id": state.get("id"),
        "endpoint": state.get("endpoint"),
        "slot": state.get("new"),
        "previous_slot": state.get("old"),
        "checks": state.get("checks", []),
    }
    _write(config.deployment, result)
    log_mlflow(
        metrics={"deployed": float(status == "promoted")},
        params={"deploy_status": status, "deploy_slot": result["slot"]},
        tags={"ctloop.deploy_status": status},
        failed=status != "promoted",
    )
    if status != "promoted":
        return fail(STEP, [("rollout", f"{status}: {result['reason']}")])
    print(f"{STEP}: {reg['model_name']} version {reg['version']} serves 100% in slot {result['slot']}")
    return 0


def parse_args(argv: list[str] | None = None) -> DeployConfig:
    parser = argparse.ArgumentParser(
        prog=f"python -m ctloop.steps.{STEP}", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--registration", required=True, type=Path, help="register step output (registration.json)"
    )
    parser.add_argument(
        "--eval", required=True, type=Path, help="eval dataset folder (smoke and canary traffic)"
    )
    parser.add_argument("--policies", required=True, type=Path, help="policies folder (rollout.yml)")
    parser.add_argument("--deployment", required=True, type=Path, help="output folder for deployment.json")
    parser.add_argument(
        "--endpoints", type=Path, help="endpoint YAML folder (default: <policies>/../pipelines/endpoints)"
    )
    parser.add_argument(
        "--target",
        choices=("local", "azure"),
        default=os.environ.get("CTLOOP_TARGET") or "local",
        help="endpoint target",
    )
    parser.add_argument("--endpoint-name", help="the stack's online endpoint (azure target)")
    args = parser.parse_args(argv)
    return DeployConfig(
        registration=args.registration,
        eval=args.eval,
        policies=args.policies,
        deployment=args.deployment,
        endpoints=args.endpoints,
        target=args.target,
        endpoint_name=args.endpoint_name,
    )


def main(argv: list[str] | None = None) -> int:
    return deploy(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
