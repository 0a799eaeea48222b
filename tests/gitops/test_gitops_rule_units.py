"""Rule details beyond the fixtures: what each rule accepts and what it reports, on small YAML texts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from ctloop.gitops.rules import load_rules
from ctloop.gitops.yamldoc import Context, SpecDoc, detect_kind, parse

REPO = Path(__file__).resolve().parents[2]
RULES = {r.rule_id: r for r in load_rules(REPO / "policies" / "specs")}


def run(rule_id: str, text: str, root: Path, name: str = "spec.yml", folder: str = "x") -> list[str]:
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    data, lines = parse(path.read_text())
    doc = SpecDoc(path, detect_kind(path, data), data, lines, Context(root=root))
    return [p.reason for p in RULES[rule_id].check(doc)]


@pytest.mark.parametrize(
    ("value", "flagged"),
    [
        ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0;", True),
        ("https://acct.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=AbCdEf0123456789xyzXYZ%3D", True),
        (
            "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abcdefgh12345678",
            True,
        ),
        ("-----BEGIN RSA PRIVATE KEY-----\\nMIIE", True),
        ("Server=tcp:db;Database=d;User ID=u;Password=hunter2;", True),
        ("${{secrets.STORAGE_KEY}}", False),
        ("azureml:ctloop-train:1", False),
        ("@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x)", False),
        ("https://ctloopkv.vault.azure.net/secrets/storage-key", False),
        ("plain text with spaces", False),
    ],
)
def test_secret_values_anywhere(tmp_path: Path, value: str, flagged: bool) -> None:
    found = run("secrets.no-literal", f'settings:\n  note: "{value}"\n', tmp_path)
    assert bool(found) is flagged, found


@pytest.mark.parametrize(
    ("key", "value", "flagged"),
    [
        ("admin_password", "correct-horse", True),  # any literal password
        ("dbPassword", "x", True),
        ("account_key", "Zm9vYmFyYmF6cXV4MTIzNDU2", True),  # high entropy under *key
        ("clientSecret", "q8Z~w3Rt5yU7iO9pA1sD3fG5hJ7kL9", True),
        ("api_key", "xxxxxxxxxxxxxxxxxxxx", False),  # a placeholder: no entropy
        ("key_vault_name", "kv-ctloop-dev-weu-0012345", False),  # last word is "name"
        ("key_columns", "date", False),
        ("sas_token", "${{ secrets.SAS }}", False),
        ("password", "", False),
    ],
)
def test_secret_keys(tmp_path: Path, key: str, value: str, flagged: bool) -> None:
    found = run("secrets.no-literal", f'{key}: "{value}"\n', tmp_path)
    assert bool(found) is flagged, found


def test_pulumi_secure_values_are_allowed(tmp_path: Path) -> None:
    text = "config:\n  ctloop:adminPassword:\n    secure: v1:abcdefghijklmnopqrstuvwxyz0123456789==\n"
    assert run("secrets.no-literal", text, tmp_path, name="Pulumi.dev.yaml", folder=".") == []


@pytest.mark.parametrize(
    ("expression", "ok"),
    [
        ("0 6 * * *", True),
        ("*/15 0-23/2 1,15 JAN-MAR MON-FRI", True),
        ("0 6 * *", False),
        ("60 6 * * *", False),
        ("0 6 32 * *", False),
        ("0 6 * 13 *", False),
        ("0 6 * * 7", False),
        ("0 18-6 * * *", False),
        ("0 */0 * * *", False),
        ("0 6 * * FUNDAY", False),
    ],
)
def test_cron(tmp_path: Path, expression: str, ok: bool) -> None:
    trigger = {"type": "cron", "expression": expression, "time_zone": "UTC"}
    text = yaml.safe_dump({"name": "s", "trigger": trigger, "create_job": "p.yml"})
    assert (run("schedule.valid-cron", text, tmp_path) == []) is ok


def test_recurrence_and_time_zones(tmp_path: Path) -> None:
    trigger = {
        "type": "recurrence",
        "frequency": "day",
        "interval": 1,
        "time_zone": "W. Europe Standard Time",
    }
    good = yaml.safe_dump({"name": "s", "trigger": trigger, "create_job": "p.yml"})
    assert run("schedule.valid-cron", good, tmp_path) == []
    assert run("schedule.time-zone", good, tmp_path) == []
    bad = good.replace("interval: 1", "interval: 0").replace("W. Europe Standard Time", "Mars/Olympus")
    assert run("schedule.valid-cron", bad, tmp_path) == ["0 is not a positive integer"]
    assert run("schedule.time-zone", bad, tmp_path) == ["'Mars/Olympus' is not an Azure ML time zone name"]


@pytest.mark.parametrize(
    ("dep", "ok"),
    [
        ("python=3.11.7", True),
        ("conda-forge::numpy==2.4.6", True),
        ("numpy=2.4.6=py311h64a7726_0", True),
        ("numpy", False),
        ("numpy>=2", False),
        ("numpy=2.*", False),
    ],
)
def test_conda_pins(tmp_path: Path, dep: str, ok: bool) -> None:
    text = f"name: e\nchannels: [conda-forge]\ndependencies:\n  - {dep}\n"
    assert (run("environment.dependencies-pinned", text, tmp_path) == []) is ok


@pytest.mark.parametrize(
    ("dep", "ok"),
    [
        ("numpy==2.4.6", True),
        ("uvicorn[standard]==0.30.0; python_version >= '3.11'", True),
        ("--extra-index-url https://download.pytorch.org/whl/cpu", True),
        ("numpy~=2.4", False),
        ("numpy", False),
        ("-e .", False),
        ("git+https://github.com/org/repo", False),
        ("pkg @ https://host/pkg.whl#sha256=" + "a" * 64, True),
    ],
)
def test_pip_pins(tmp_path: Path, dep: str, ok: bool) -> None:
    text = f'name: e\ndependencies:\n  - pip:\n      - "{dep}"\n'
    assert (run("environment.dependencies-pinned", text, tmp_path) == []) is ok


def test_pip_requirements_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "reqs.txt").write_text("# pinned\nnumpy==2.4.6\nscipy>=1\n")
    text = "name: e\ndependencies:\n  - pip:\n      - -r reqs.txt\n"
    assert run("environment.dependencies-pinned", text, tmp_path) == [
        "pip dependency 'scipy>=1' is not pinned with =="
    ]


@pytest.mark.parametrize(
    ("image", "ok"),
    [
        ("mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20240709.v1", True),
        ("localhost:5000/img@sha256:" + "b" * 64, True),
        ("localhost:5000/img", False),
        ("python:latest", False),
    ],
)
def test_base_image_pins(tmp_path: Path, image: str, ok: bool) -> None:
    text = f"name: e\nversion: '1'\nimage: {image}\n"
    assert (run("environment.base-image-pinned", text, tmp_path) == []) is ok


def test_dockerfile_from_lines(tmp_path: Path) -> None:
    ctx = tmp_path / "x" / "ctx"
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM python:3.11.7-slim AS build\nFROM build\nFROM ubuntu\n")
    found = run("environment.base-image-pinned", "name: e\nversion: '1'\nbuild:\n  path: ctx\n", tmp_path)
    assert found == ["Dockerfile: image 'ubuntu' has no tag (means latest): pin a tag or a digest"]


@pytest.mark.parametrize(
    ("version", "ok"),
    [("1.0.0", True), ("2.10.3-rc.1+build.5", True), ("1.0", False), ("01.0.0", False), ("1", False)],
)
def test_semver(tmp_path: Path, version: str, ok: bool) -> None:
    text = f"type: command\nname: c\nversion: {version}\ncommand: echo\n"
    assert (run("component.semver-version", text, tmp_path) == []) is ok


def test_environment_reference_forms(tmp_path: Path) -> None:
    def pinned(env: str) -> list[str]:
        return run(
            "component.environment-pinned",
            f"type: command\nname: c\ncommand: echo\nenvironment: {env}\n",
            tmp_path,
        )

    assert pinned("azureml:ctloop-train:1") == []
    assert pinned("azureml://registries/shared/environments/train/versions/3") == []
    assert pinned("azureml:ctloop-train:latest")
    assert pinned("azureml:ctloop-train@latest")
    assert pinned("ctloop-train:1")
    assert pinned("{image: 'python:latest'}")


def _job(name: str, **inputs: str) -> dict:
    binds = {}
    for port, src in inputs.items():
        job, out = src.split(".")
        binds[port] = "${{parent.jobs." + job + ".outputs." + out + "}}"
    return {"component": f"../components/{name}.yml", "inputs": binds}


def _gate(tmp_path: Path, jobs: dict) -> list[str]:
    text = yaml.safe_dump({"type": "pipeline", "jobs": jobs})
    return run("pipeline.release-gated", text, tmp_path, name="p.yml", folder="pipelines")


def test_release_gate_paths(tmp_path: Path) -> None:
    comps = tmp_path / "components"
    comps.mkdir()
    for name in ("train", "evaluate", "register", "deploy", "report"):
        (comps / f"{name}.yml").write_text(
            f"type: command\nname: ctloop_{name}\nversion: 1.0.0\ncommand: echo\n"
        )
    head = {
        "train": _job("train"),
        "evaluate": _job("evaluate", model="train.model"),
        "register": _job("register", model="train.model", decision="evaluate.decision"),
    }
    # deploy reads register's output: every path from train passes the gated register job.
    assert _gate(tmp_path, {**head, "deploy": _job("deploy", model="register.model")}) == []
    # deploy reachable through a helper job that does not consume the decision: reported with the path.
    around = {
        **head,
        "report": _job("report", model="train.model"),
        "deploy": _job("deploy", model="report.out"),
    }
    found = _gate(tmp_path, around)
    assert len(found) == 1 and "train -> report -> deploy" in found[0]
    # No gate at all.
    assert _gate(tmp_path, {"train": _job("train"), "register": _job("register", model="train.model")}) == [
        "release step in a pipeline without an evaluate gate"
    ]


@pytest.mark.parametrize(
    ("component", "needs"),
    [
        ({"name": "c"}, False),
        ({"name": "c", "tags": {"ctloop.requires": "gpu"}}, True),
        ({"name": "c", "distribution": {"type": "pytorch"}}, True),
        ({"name": "c", "distribution": {"type": "pytorch"}, "tags": {"ctloop.requires": "cpu"}}, False),
        (None, False),
    ],
)
def test_gpu_need(component: dict | None, needs: bool) -> None:
    from ctloop.gitops.graph import requires_gpu

    assert requires_gpu(component) is needs
