"""CI/CD files: valid against check-jsonschema's built-in schemas, and every step is a make target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PROVIDED_ELSEWHERE = {"check-triggers", "loop"}  # monitoring's targets, called by name


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-zA-Z][\w-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))


def _commands(node: object) -> list[str]:
    """Every shell command in a workflow/pipeline document (run:, script:, inlineScript:)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("run", "script", "inlineScript") and isinstance(value, str):
                found.append(value)
            else:
                found += _commands(value)
    elif isinstance(node, list):
        for item in node:
            found += _commands(item)
    return found


def test_ci_files_pass_the_builtin_schemas() -> None:
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "deploy.yml", "retrain.yml"}
    gh = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)]
    az = [
        str(BIN / "check-jsonschema"), "--regex-variant", "nonunicode", "--builtin-schema",
        "vendor.azure-pipelines", "--data-transform", "azure-pipelines", str(REPO / "azure-pipelines.yml"),
    ]  # fmt: skip
    for cmd in (gh, az):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_every_ci_step_is_a_make_target() -> None:
    targets = _make_targets() | PROVIDED_ELSEWHERE
    for path in [*WORKFLOWS, REPO / "azure-pipelines.yml"]:
        for command in _commands(yaml.safe_load(path.read_text())):
            for part in re.split(r"\s*&&\s*", command.strip()):
                words = part.split()
                assert words[0] == "make", f"{path.name}: inline script {part!r}"
                assert words[1] in targets, f"{path.name}: unknown target {words[1]!r}"


def test_schedules_filters_and_stages() -> None:
    retrain = yaml.safe_load((REPO / ".github" / "workflows" / "retrain.yml").read_text())
    assert retrain[True]["schedule"] == [{"cron": "0 6 * * *"}]  # YAML 1.1 reads `on:` as True
    ado = yaml.safe_load((REPO / "azure-pipelines.yml").read_text())
    assert [s["stage"] for s in ado["stages"]] == ["CheckData", "TrainModel", "Deploy"]
    assert ado["schedules"][0]["cron"] == "0 6 * * *"
    assert {"src", "components", "pipelines", "policies"} <= set(ado["trigger"]["paths"]["include"])
    train = ado["stages"][1]["jobs"][0]
    assert int(train["timeoutInMinutes"]) > 0
    deploy = yaml.safe_load((REPO / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy["jobs"]["prod"]["environment"] == "prod" and deploy["jobs"]["prod"]["needs"] == "dev"


def test_cli_modules_import_azure_lazily() -> None:
    code = (
        "import sys, ctloop.gitops.commands, ctloop.azure.registry;"
        "print('azure.ai.ml' in sys.modules, 'mlflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]
