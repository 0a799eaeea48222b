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
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "deploy.yml", "retrain.yml", "nightly.yml"}
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


def _workflow(name: str) -> dict:
    return yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())


def _jobs_that_log_in(workflow: dict) -> dict[str, dict]:
    """Jobs that talk to Azure: an azure/login step or ARM_/AZURE_CLIENT_ID in their environment."""
    found = {}
    for name, job in workflow["jobs"].items():
        uses = [s.get("uses", "") for s in job.get("steps", [])]
        env = job.get("env", {})
        if any(u.startswith("azure/login@") for u in uses) or {"ARM_CLIENT_ID", "AZURE_CLIENT_ID"} & set(env):
            found[name] = job
    return found


def test_schedules_filters_and_stages() -> None:
    retrain = _workflow("retrain.yml")
    assert retrain[True]["schedule"] == [{"cron": "0 6 * * *"}]  # YAML 1.1 reads `on:` as True
    assert _workflow("nightly.yml")[True]["schedule"][0]["cron"]
    ado = yaml.safe_load((REPO / "azure-pipelines.yml").read_text())
    assert [s["stage"] for s in ado["stages"]] == ["Validate", "Dev", "Staging", "Prod", "Retrain"]
    assert ado["schedules"][0]["cron"] == "0 6 * * *"
    assert {"src", "components", "pipelines", "policies", "infra"} <= set(ado["trigger"]["paths"]["include"])


def test_deploy_applies_dev_then_staging_then_prod_with_approvals() -> None:
    jobs = _workflow("deploy.yml")["jobs"]
    assert [jobs[j]["needs"] for j in ("dev", "staging", "prod")] == ["validate", "dev", "staging"]
    assert [jobs[j]["environment"] for j in ("dev", "staging", "prod")] == ["dev", "staging", "prod"]
    for env in ("dev", "staging", "prod"):
        runs = [s["run"] for s in jobs[env]["steps"] if "run" in s]
        preview, up = runs.index(f"make preview STACK={env}"), runs.index(f"make up STACK={env} YES=1")
        config = runs.index(f"make azureml-config STACK={env}")
        assert preview < up < config < runs.index(f"make run-pipeline TARGET=azure STACK={env}")
        assert runs.index("make oidc-refresh") < runs.index(f"make run-pipeline TARGET=azure STACK={env}")
    assert "make checkov" in " ".join(s.get("run", "") for s in jobs["validate"]["steps"])
    # prod is private: its job runs on the self-hosted runner in the prod VNet
    assert "self-hosted" in jobs["prod"]["runs-on"]
    ado = {s["stage"]: s for s in yaml.safe_load((REPO / "azure-pipelines.yml").read_text())["stages"]}
    assert [ado[s]["dependsOn"] for s in ("Dev", "Staging", "Prod")] == ["Validate", "Dev", "Staging"]
    environments = [ado[s]["jobs"][0]["environment"] for s in ("Dev", "Staging", "Prod")]
    assert environments == ["ctloop-dev", "ctloop-staging", "ctloop-prod"]
    for stage, env in (("Dev", "dev"), ("Staging", "staging"), ("Prod", "prod")):
        script = " && ".join(_commands(ado[stage]))
        assert script.index(f"make preview STACK={env}") < script.index(f"make up STACK={env} YES=1")


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_tag() -> None:
    for path in WORKFLOWS:
        lines = path.read_text().splitlines()
        uses = [line for line in lines if re.match(r"\s*(- )?uses:", line)]
        assert uses, path.name
        for line in uses:
            assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+(\.\d+)*", line), (
                f"{path.name}: {line.strip()}"
            )


def test_id_token_only_on_jobs_that_log_in_and_one_identity_per_environment() -> None:
    identities: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert "id-token" not in workflow.get("permissions", {}), f"{path.name}: id-token at workflow level"
        logging_in = _jobs_that_log_in(workflow)
        for name, job in workflow["jobs"].items():
            has_token = job.get("permissions", {}).get("id-token") == "write"
            assert has_token == (name in logging_in), f"{path.name}:{name}"
        for name, job in logging_in.items():
            env = job.get("environment")
            assert env, f"{path.name}:{name} logs in without a GitHub environment"
            text = yaml.safe_dump(job) + yaml.safe_dump(workflow.get("env", {}))
            ids = set(re.findall(r"vars\.(AZURE_CLIENT_ID_\w+)", text))
            assert len(ids) == 1, f"{path.name}:{name} uses {ids}"
            identities.setdefault(env, set()).update(ids)
    assert {e: i for e, i in identities.items()} == {
        "dev": {"AZURE_CLIENT_ID_DEV"},
        "staging": {"AZURE_CLIENT_ID_STAGING"},
        "prod": {"AZURE_CLIENT_ID_PROD"},
        "preview": {"AZURE_CLIENT_ID_PREVIEW"},
        "retrain": {"AZURE_CLIENT_ID_RETRAIN"},
    }
    # the PR preview is read-only: it never applies anything
    preview = _workflow("pr.yml")["jobs"]["preview"]
    assert not any("make up" in s.get("run", "") for s in preview["steps"])


def test_pulumi_provider_is_configured_for_oidc_wherever_pulumi_runs() -> None:
    for name in ("deploy.yml", "pr.yml"):
        workflow = _workflow(name)
        for job_name, job in _jobs_that_log_in(workflow).items():
            env = {**workflow.get("env", {}), **job.get("env", {})}
            assert env.get("ARM_USE_OIDC") == "true", f"{name}:{job_name}"
            assert {"ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID"} <= set(env), f"{name}:{job_name}"


def test_azure_devops_service_connections_are_known_at_compile_time() -> None:
    text = (REPO / "azure-pipelines.yml").read_text()
    values = re.findall(r"azureSubscription:\s*(.+)", text)
    assert len(values) == 4
    for value in values:
        assert re.fullmatch(r"\$\{\{ parameters\.\w+ \}\}|[\w-]+", value.strip()), value
    assert len(set(values)) == 4  # one service connection (identity) per environment


def test_retrain_passes_target_and_stack_through() -> None:
    runs = [s.get("run", "") for s in _workflow("retrain.yml")["jobs"]["loop"]["steps"]]
    assert "make check-triggers TARGET=azure STACK=${{ env.STACK }}" in runs
    assert "make loop TARGET=azure STACK=${{ env.STACK }}" in runs
    nightly = [s.get("run", "") for s in _workflow("nightly.yml")["jobs"]["live"]["steps"]]
    assert "make test-azure STACK=dev" in nightly


def test_cli_modules_import_azure_lazily() -> None:
    code = (
        "import sys, ctloop.gitops.commands, ctloop.azure.commands, ctloop.azure.submitter,"
        " ctloop.azure.registry;"
        "print('azure.ai.ml' in sys.modules, 'mlflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_make_up_runs_without_a_prompt_only_when_asked() -> None:
    def dry(*args: str) -> str:
        done = subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, check=True)
        return done.stdout

    ci = dry("up", "STACK=staging", "YES=1")
    assert "pulumi up --stack staging --policy-pack policies/infra" in ci and "--yes --non-interactive" in ci
    assert "infra.scan --stack staging" in ci  # Checkov gates the apply
    assert "--yes" not in dry("up", "STACK=staging")
