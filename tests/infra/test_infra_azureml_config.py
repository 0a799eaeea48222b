"""``make azureml-config``: stack outputs become the .azureml/config.json MLClient.from_config() reads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from infra.azureml_config import OutputsError, main, parse_outputs, to_config

ROOT = Path(__file__).resolve().parents[2]


class OfflineCredential:
    """A credential that proves no token is requested while the client is built."""

    def get_token(self, *scopes, **kwargs):
        raise AssertionError("no network call expected")


def test_the_real_stack_outputs_become_a_config_azure_ai_ml_reads(stack_run, tmp_path):
    from azure.ai.ml import MLClient

    outputs = stack_run("dev").outputs
    config = to_config(outputs, "dev")
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(json.dumps(config))
    client = MLClient.from_config(credential=OfflineCredential(), path=str(tmp_path))
    assert (client.subscription_id, client.resource_group_name, client.workspace_name) == (
        outputs["subscription_id"],
        outputs["resource_group"],
        outputs["workspace_name"],
    )
    assert config["compute_names"] == {"gpu": "gpu-cluster", "cpu": "cpu-cluster"}
    assert (config["stack"], config["location"]) == ("dev", "swedencentral")


def test_missing_required_outputs_are_named():
    with pytest.raises(OutputsError, match=r"stack outputs lack \['resource_group', 'workspace_name'\]"):
        to_config({"subscription_id": "s", "workspace_name": " "})


def test_outputs_must_be_a_json_object():
    with pytest.raises(OutputsError, match=r"out\.json: expected a JSON object"):
        parse_outputs("[1, 2]", "out.json")
    with pytest.raises(OutputsError, match=r"out\.json: not JSON"):
        parse_outputs("{", "out.json")


def test_cli_writes_the_file_from_saved_outputs(stack_run, tmp_path, capsys):
    saved = tmp_path / "outputs.json"
    saved.write_text(json.dumps(stack_run("staging").outputs))
    target = tmp_path / "nested" / ".azureml" / "config.json"
    assert main(["--stack", "staging", "--outputs-json", str(saved), "--output", str(target)]) == 0
    written = json.loads(target.read_text())
    assert written["workspace_name"] == "mlw-ctloop-staging"
    assert json.loads((target.parent / "config.staging.json").read_text()) == written
    assert "wrote" in capsys.readouterr().out


def _fake_pulumi(bin_dir: Path, outputs: dict) -> None:
    bin_dir.mkdir()
    (bin_dir / "outputs.json").write_text(json.dumps(outputs))
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3" = "stack output --json" ]; then /bin/cat "${0%/*}/outputs.json"; exit 0; fi\n'
        'echo "unexpected: $*" >&2; exit 3\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _run_cli(args: list[str], path: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "infra.azureml_config", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


def test_cli_reads_pulumi_stack_output_when_the_cli_exists(stack_run, tmp_path):
    _fake_pulumi(tmp_path / "bin", stack_run("prod").outputs)
    result = _run_cli(["--stack", "prod"], str(tmp_path / "bin"), tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / ".azureml" / "config.json").read_text())
    assert written["resource_group"] == "rg-ctloop-prod"


def test_cli_without_pulumi_explains_what_to_do_and_writes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    result = _run_cli(["--stack", "dev"], str(tmp_path / "empty"), tmp_path)
    assert result.returncode == 1
    assert "the Pulumi CLI is not on PATH" in result.stderr
    assert "--outputs-json" in result.stderr
    assert not (tmp_path / ".azureml").exists()
