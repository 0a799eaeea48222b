"""What ``make preview`` / ``make up`` need before the Pulumi CLI runs, each missing piece with how to get it.

Checks, in order: the stack config is valid (offline), the Pulumi CLI is on PATH, it is logged in to
a state backend, and there is an Azure login (``az account show`` succeeds, or the ARM_* variables
the azure-native provider reads are set). With a login, ``infra/capacity.py`` then asks Azure ML
whether each cluster's VM size is offered in the stack's region and fits the vCPU quota, and warns
when a running cluster's scale settings would change (they apply after it scales to zero).
Exit 0 when all pass, 1 otherwise.

    python -m infra.preflight --stack dev
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctloop.policies import PolicyError

from .config import load_stack_config

TIMEOUT_S = 60

PULUMI_HELP = (
    "install the Pulumi CLI (https://www.pulumi.com/docs/install/, e.g. "
    "`curl -fsSL https://get.pulumi.com | sh`) and put it on PATH"
)
BACKEND_HELP = (
    "log in to a state backend: `pulumi login` (Pulumi Cloud), `pulumi login azblob://<container>` "
    "(Azure Blob Storage) or `pulumi login --local`; then `pulumi stack init <stack>` once per stack"
)
AZURE_HELP = (
    "log in to Azure: `az login` then `az account set --subscription <id>`; or export ARM_SUBSCRIPTION_ID, "
    "ARM_TENANT_ID, ARM_CLIENT_ID with ARM_CLIENT_SECRET (or ARM_CLIENT_CERTIFICATE_PATH, "
    "or ARM_USE_OIDC=true); "
    "or ARM_USE_MSI=true with ARM_SUBSCRIPTION_ID on a machine with a managed identity"
)

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
Which = Callable[[str], str | None]


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    detail: str


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(list(argv), 127, "", str(exc))


def check_stack(stack: str, root: Path) -> Finding:
    try:
        cfg = load_stack_config(stack, root)
    except PolicyError as exc:
        return Finding(False, "stack config", str(exc))
    detail = f"Pulumi.{stack}.yaml valid ({cfg.environment}, {cfg.location}, network {cfg.network.mode})"
    if not cfg.ci_principal:
        detail += "; no ctloop:ci_principal: CI uploads of code and data will be refused (no blob data role)"
    return Finding(True, "stack config", detail)


def check_pulumi(which: Which) -> Finding:
    path = which("pulumi")
    if not path:
        return Finding(False, "Pulumi CLI", f"`pulumi` not found on PATH: {PULUMI_HELP}")
    return Finding(True, "Pulumi CLI", path)


def check_backend(run: Runner) -> Finding:
    result = run(["pulumi", "whoami", "--non-interactive"])
    if result.returncode != 0:
        why = (result.stderr or result.stdout).strip().splitlines()
        return Finding(False, "Pulumi backend", f"{why[-1] if why else 'not logged in'}: {BACKEND_HELP}")
    return Finding(True, "Pulumi backend", f"logged in as {result.stdout.strip()}")


def arm_env_login(environ: Mapping[str, str]) -> str | None:
    """Describe the ARM_* login the environment provides, or None when it is incomplete."""
    has = {k for k, v in environ.items() if k.startswith("ARM_") and v.strip()}
    if "ARM_SUBSCRIPTION_ID" not in has:
        return None
    if environ.get("ARM_USE_MSI", "").lower() == "true":
        return "managed identity (ARM_USE_MSI)"
    if not {"ARM_TENANT_ID", "ARM_CLIENT_ID"} <= has:
        return None
    if "ARM_CLIENT_SECRET" in has:
        return "service principal with a client secret (ARM_*)"
    if "ARM_CLIENT_CERTIFICATE_PATH" in has:
        return "service principal with a certificate (ARM_*)"
    if environ.get("ARM_USE_OIDC", "").lower() == "true":
        return "workload identity federation (ARM_USE_OIDC)"
    return None


def check_azure(environ: Mapping[str, str], which: Which, run: Runner) -> Finding:
    via_env = arm_env_login(environ)
    if via_env:
        return Finding(True, "Azure login", via_env)
    if not which("az"):
        return Finding(False, "Azure login", f"no ARM_* credentials and no `az` CLI: {AZURE_HELP}")
    result = run(["az", "account", "show", "--query", "[name, id]", "--output", "tsv"])
    if result.returncode != 0:
        return Finding(False, "Azure login", f"`az account show` failed: {AZURE_HELP}")
    account = " ".join(result.stdout.split())
    return Finding(True, "Azure login", f"az CLI: {account}")


def preflight(
    stack: str,
    root: Path,
    environ: Mapping[str, str] | None = None,
    which: Which = shutil.which,
    run: Runner = run_command,
) -> list[Finding]:
    environ = os.environ if environ is None else environ
    findings = [check_stack(stack, root), check_pulumi(which)]
    if findings[-1].ok:
        findings.append(check_backend(run))
    findings.append(check_azure(environ, which, run))
    return findings


def subscription_of(environ: Mapping[str, str], azure: Finding) -> str | None:
    """The subscription to check capacity in: ARM_SUBSCRIPTION_ID, else the az CLI's account id."""
    if environ.get("ARM_SUBSCRIPTION_ID"):
        return environ["ARM_SUBSCRIPTION_ID"]
    if azure.ok and azure.detail.startswith("az CLI: "):
        return azure.detail.split()[-1]
    return None


def capacity_findings(stack: str, root: Path, subscription_id: str) -> list[Finding]:
    """VM sizes, quota and running-cluster scale changes, with the caller's Azure credential."""
    from azure.core.exceptions import AzureError
    from azure.identity import DefaultAzureCredential

    from . import capacity, naming

    cfg = load_stack_config(stack, root)
    workspace = naming.derive(cfg.prefix, cfg.environment, seed="-").workspace
    client = capacity.ArmClient(DefaultAzureCredential())
    try:
        checks = capacity.run_checks(cfg, subscription_id, client, workspace=workspace)
    except AzureError as exc:
        return [Finding(False, "Azure ML capacity", str(exc).splitlines()[0])]
    return [Finding(c.ok, c.what, ("WARNING: " if c.warning else "") + c.detail) for c in checks]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name (dev, staging, prod)")
    parser.add_argument("--root", default=".", help="repository root (holds Pulumi.<stack>.yaml)")
    parser.add_argument("--no-capacity", action="store_true", help="skip the VM size and quota checks")
    args = parser.parse_args(argv)
    findings = preflight(args.stack, Path(args.root))
    if all(f.ok for f in findings) and not args.no_capacity:
        subscription = subscription_of(os.environ, findings[-1])
        if subscription:
            findings += capacity_findings(args.stack, Path(args.root), subscription)
    for f in findings:
        print(f"{'ok     ' if f.ok else 'MISSING'} {f.what}: {f.detail}", flush=True)
    if all(f.ok for f in findings):
        return 0
    print(f"preflight: not ready to run Pulumi for stack {args.stack!r} (see above)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
