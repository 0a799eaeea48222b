"""The deploy step and its component: skip when the gate said no; otherwise a real rollout whose
outcome lands in deployment.json and in the (real, local MLflow) registry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.ai.ml import load_component
from serving_helpers import FAST_ROLLOUT, write_policies

from ctloop.registry.base import TAG_STATUS
from ctloop.rollout.registry_adapter import RolloutRegistry
from ctloop.steps import deploy

MODEL = "rainfall-classifier"


def _step(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctloop.steps.deploy", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def test_the_component_spec(repo_root: Path) -> None:
    component = load_component(str(repo_root / "components" / "deploy.yml"))
    # the exact version and environment are pinned by components/versions.lock (gitops tests)
    assert re.fullmatch(r"\d+\.\d+\.\d+", component.version) and component.code == "../src"
    assert re.fullmatch(r"(azureml:)?ctloop-train:\d+", str(component.environment))
    ports = {**component.inputs, **component.outputs}
    assert set(component.inputs) >= {"registration", "eval", "policies"} and set(component.outputs) == {
        "deployment"
    }
    assert all(port.description for port in ports.values())
    assert (component.inputs["registration"].type, component.inputs["eval"].type) == (
        "uri_folder",
        "uri_folder",
    )
    assert component.outputs["deployment"].type == "uri_folder"
    assert component._validate().passed
    for name in ports:
        assert f"{{{{{'outputs' if name in component.outputs else 'inputs'}.{name}}}}}" in component.command


def test_not_promoted_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo_root: Path) -> None:
    monkeypatch.setenv("CTLOOP_HOME", str(tmp_path / "home"))
    reg = tmp_path / "registration"
    reg.mkdir()
    (reg / "registration.json").write_text(
        json.dumps({"model_name": MODEL, "version": "4", "promoted": False})
    )
    args = ["--registration", str(reg), "--eval", str(tmp_path), "--policies", str(repo_root / "policies")]
    assert deploy.main([*args, "--deployment", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "deployment.json").read_text())
    assert result == {
        "model_name": MODEL,
        "version": "4",
        "status": "skipped",
        "reason": "gate did not promote",
    }
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "registration.json: <file>: not found"),
        ("{oops", "registration.json: <file>: not readable JSON"),
        ({"model_name": MODEL, "promoted": True}, "registration.json: version: missing"),
        (
            {"model_name": MODEL, "version": "2", "promoted": "yes"},
            "registration.json: promoted: expected true or false",
        ),
    ],
)
def test_bad_registration_fails_with_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any, message: str
) -> None:
    reg = tmp_path / "registration"
    reg.mkdir()
    if content is not None:
        text = content if isinstance(content, str) else json.dumps(content)
        (reg / "registration.json").write_text(text)
    args = ["--registration", str(reg), "--eval", str(tmp_path), "--policies", str(tmp_path)]
    assert deploy.main([*args, "--deployment", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deploy: ") and message in err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def registered(no_leaks: Path, built: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A real local registry (MLflow on SQLite under the module's temp dir) holding model v1."""
    from ctloop.registry.local import LocalRegistry

    mp = pytest.MonkeyPatch()
    home = no_leaks / "home"
    mp.setenv("CTLOOP_HOME", str(home))
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{no_leaks / 'mlflow.db'}")
    mp.setenv("CTLOOP_TARGET", "local")
    try:
        version = LocalRegistry(MODEL).register(built["models"]["v1"], {TAG_STATUS: "promoted"})
        yield {"root": no_leaks, "home": home, "version": version}
    finally:
        mp.undo()


def test_the_adapter_fetches_and_tags_through_the_registry(
    registered: dict[str, Any], tmp_path: Path
) -> None:
    adapter = RolloutRegistry(MODEL)
    version = registered["version"].version
    folder = adapter.fetch(version, tmp_path / "download")
    assert (folder / "MLmodel").is_file()
    adapter.mark_rejected(version, "smoke test: status 500")
    tags = adapter.registry.get(version).tags
    assert tags[TAG_STATUS] == "rejected" and tags["ctloop.rejected_reason"] == "smoke test: status 500"


def test_promoted_runs_a_real_first_rollout(
    registered: dict[str, Any], built: dict[str, Any], repo_root: Path
) -> None:
    root, version = registered["root"], registered["version"]
    reg = root / "registration"
    reg.mkdir()
    (reg / "registration.json").write_text(
        json.dumps(
            {"model_name": MODEL, "version": version.version, "promoted": True, "source": version.source}
        )
    )
    policies = write_policies(root / "policies", **FAST_ROLLOUT)
    env = {
        **os.environ,
        "CTLOOP_HOME": str(registered["home"]),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "CTLOOP_TARGET": "local",
    }
    out = root / "deployment"
    args = ["--registration", str(reg), "--eval", str(built["eval"]), "--policies", str(policies)]
    args += ["--deployment", str(out), "--endpoints", str(repo_root / "pipelines" / "endpoints")]
    try:
        proc = _step(args, env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        result = json.loads((out / "deployment.json").read_text())
        assert result["status"] == "promoted" and result["slot"] == "blue" and result["previous_slot"] is None
        assert [c["stage"] for c in result["checks"]] == ["smoke"]
        assert json.loads((out / "rollout.json").read_text())["stage"] == "promoted"
        from ctloop.registry.local import LocalRegistry

        tags = LocalRegistry(MODEL, tracking_uri=env["MLFLOW_TRACKING_URI"]).get(version.version).tags
        assert tags[TAG_STATUS] == "deployed" and tags["ctloop.deployment"] == "blue"
    finally:
        subprocess.run(
            [sys.executable, "-m", "ctloop.cli", "endpoint", "down", "--policies", str(policies)],
            env=env,
            capture_output=True,
            timeout=120,
        )
