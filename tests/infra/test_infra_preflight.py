"""``make preview|up`` preflight: every missing prerequisite is reported with how to get it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.preflight import arm_env_login, preflight

ROOT = Path(__file__).resolve().parents[2]


def _tool(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


@pytest.fixture()
def bin_dir(tmp_path, monkeypatch) -> Path:
    """An empty PATH the test fills with fake `pulumi` / `az` executables."""
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", str(path))
    return path


def by_what(findings):
    return {f.what: f for f in findings}


def test_nothing_installed_reports_both_with_instructions(bin_dir):
    found = by_what(preflight("dev", ROOT, environ={}))
    assert found["stack config"].ok
    assert not found["Pulumi CLI"].ok and "https://www.pulumi.com/docs/install/" in found["Pulumi CLI"].detail
    assert "Pulumi backend" not in found
    assert not found["Azure login"].ok and "az login" in found["Azure login"].detail


def test_all_present_passes(bin_dir):
    _tool(bin_dir, "pulumi", 'test "$1" = whoami && echo alice && exit 0; exit 1')
    _tool(bin_dir, "az", 'test "$1 $2" = "account show" && printf "Team Sub\\tabc\\n" && exit 0; exit 1')
    findings = preflight("prod", ROOT, environ={})
    assert all(f.ok for f in findings), findings
    assert by_what(findings)["Azure login"].detail == "az CLI: Team Sub abc"
    assert by_what(findings)["Pulumi backend"].detail == "logged in as alice"


def test_not_logged_in_anywhere_is_reported(bin_dir):
    _tool(bin_dir, "pulumi", "echo 'error: no credentials' >&2; exit 255")
    _tool(bin_dir, "az", "echo 'Please run az login' >&2; exit 1")
    found = by_what(preflight("dev", ROOT, environ={}))
    assert not found["Pulumi backend"].ok and "pulumi login" in found["Pulumi backend"].detail
    assert "no credentials" in found["Pulumi backend"].detail
    assert not found["Azure login"].ok and "`az account show` failed" in found["Azure login"].detail


def test_arm_variables_are_an_azure_login_without_the_az_cli(bin_dir):
    env = {"ARM_SUBSCRIPTION_ID": "s", "ARM_TENANT_ID": "t", "ARM_CLIENT_ID": "c", "ARM_USE_OIDC": "true"}
    found = by_what(preflight("dev", ROOT, environ=env))
    assert found["Azure login"].ok and "OIDC" in found["Azure login"].detail


@pytest.mark.parametrize(
    ("environ", "ok"),
    [
        (
            {
                "ARM_SUBSCRIPTION_ID": "s",
                "ARM_TENANT_ID": "t",
                "ARM_CLIENT_ID": "c",
                "ARM_CLIENT_SECRET": "x",
            },
            True,
        ),
        ({"ARM_SUBSCRIPTION_ID": "s", "ARM_USE_MSI": "true"}, True),
        ({"ARM_SUBSCRIPTION_ID": "s", "ARM_TENANT_ID": "t", "ARM_CLIENT_ID": "c"}, False),
        ({"ARM_TENANT_ID": "t", "ARM_CLIENT_ID": "c", "ARM_CLIENT_SECRET": "x"}, False),
        ({"ARM_SUBSCRIPTION_ID": " ", "ARM_USE_MSI": "true"}, False),
    ],
)
def test_arm_variable_sets(environ, ok):
    assert (arm_env_login(environ) is not None) is ok


def test_an_invalid_stack_config_is_reported_with_its_key(bin_dir, tmp_path):
    text = (ROOT / "Pulumi.dev.yaml").read_text().replace("max_nodes: 2\n", "max_nodes: 12\n", 1)
    (tmp_path / "Pulumi.dev.yaml").write_text(text)
    found = by_what(preflight("dev", tmp_path, environ={}))
    assert not found["stack config"].ok
    assert (
        "ctloop:gpu_cluster.max_nodes: 12 is outside the allowed range 1..8" in found["stack config"].detail
    )


def test_module_entry_point_exits_1_and_says_what_is_missing(tmp_path):
    (tmp_path / "bin").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "bin"), "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("ARM_")}
    result = subprocess.run(
        [sys.executable, "-m", "infra.preflight", "--stack", "staging", "--root", str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    expected = "ok      stack config: Pulumi.staging.yaml valid (staging, westeurope, network public)"
    assert expected in result.stdout
    assert "MISSING Pulumi CLI" in result.stdout and "MISSING Azure login" in result.stdout
    assert "not ready to run Pulumi for stack 'staging'" in result.stderr


def test_capacity_is_checked_in_the_subscription_of_the_login():
    from infra.preflight import Finding, subscription_of

    az = Finding(True, "Azure login", "az CLI: Team Sub 11111111-2222-4333-8444-555555555555")
    assert subscription_of({}, az) == "11111111-2222-4333-8444-555555555555"
    assert subscription_of({"ARM_SUBSCRIPTION_ID": "abc"}, az) == "abc"
    assert subscription_of({}, Finding(False, "Azure login", "missing")) is None


def test_a_stack_without_a_ci_principal_says_uploads_will_be_refused(bin_dir):
    found = by_what(preflight("staging", ROOT, environ={}))
    assert found["stack config"].ok
    assert "network public" in found["stack config"].detail
    assert (
        "no ctloop:ci_principal: CI uploads of code and data will be refused" in found["stack config"].detail
    )
