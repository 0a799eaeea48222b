"""pipelines/endpoints/*.yml load with azure-ai-ml's own loaders and say what the rollout relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from azure.ai.ml import load_online_deployment, load_online_endpoint
from azure.ai.ml.entities import ManagedOnlineDeployment, ManagedOnlineEndpoint

from ctloop.rollout.endpoint import EndpointError
from ctloop.rollout.specs import endpoint_name, local_settings


def test_the_endpoint_uses_key_auth(repo_root: Path) -> None:
    endpoint = load_online_endpoint(str(repo_root / "pipelines" / "endpoints" / "endpoint.yml"))
    assert isinstance(endpoint, ManagedOnlineEndpoint)
    assert endpoint.auth_mode == "key" and endpoint.name == "ctloop-rainfall"
    assert endpoint_name(repo_root / "pipelines" / "endpoints") == endpoint.name


@pytest.mark.parametrize("slot", ["blue", "green"])
def test_each_slot_is_a_complete_managed_deployment(repo_root: Path, slot: str) -> None:
    folder = repo_root / "pipelines" / "endpoints"
    dep = load_online_deployment(str(folder / f"{slot}.yml"))
    assert isinstance(dep, ManagedOnlineDeployment)
    assert dep.name == slot and dep.endpoint_name == "ctloop-rainfall"
    assert dep.instance_type and dep.instance_count >= 2
    assert (
        dep.request_settings.request_timeout_ms and dep.request_settings.max_concurrent_requests_per_instance
    )
    for probe in (dep.liveness_probe, dep.readiness_probe):
        assert probe.period and probe.timeout and probe.failure_threshold and probe.initial_delay
    assert dep.data_collector is not None
    assert set(dep.data_collector.collections) == {"request", "response", "model_inputs", "model_outputs"}
    assert all(str(c.enabled).lower() == "true" for c in dep.data_collector.collections.values())
    assert str(dep.environment).endswith("ctloop-serve:1")
    local = local_settings(folder, slot)
    assert local.scoring_script == (repo_root / "src" / "ctloop" / "serving" / "score.py").resolve()
    assert local.environment["OMP_NUM_THREADS"] == "1"
    rest = dep._to_rest_object(location="westeurope").as_dict()["properties"]  # serialises offline
    assert rest["codeConfiguration"]["scoringScript"] == "ctloop/serving/score.py"
    assert rest["endpointComputeType"] == "Managed"


def test_blue_and_green_differ_only_in_their_names(repo_root: Path) -> None:
    folder = repo_root / "pipelines" / "endpoints"
    blue, green = (yaml.safe_load((folder / f"{s}.yml").read_text()) for s in ("blue", "green"))
    for spec in (blue, green):
        spec.pop("name"), spec.pop("description"), spec.pop("tags")
    assert blue == green


def test_a_broken_slot_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "blue.yml").write_text(
        "name: blue\ncode_configuration: {code: ../nowhere, scoring_script: s.py}\n"
    )
    with pytest.raises(
        EndpointError, match=r"blue.yml: code_configuration.scoring_script: .* does not exist"
    ):
        local_settings(tmp_path, "blue")
    with pytest.raises(EndpointError, match=r"green.yml: <file>: not found"):
        local_settings(tmp_path, "green")
    with pytest.raises(EndpointError, match="slots are blue, green"):
        local_settings(tmp_path, "red")


def test_specs_copied_without_the_repository_serve_the_running_package(
    repo_root: Path, tmp_path: Path
) -> None:
    """A job input holds the endpoint YAMLs alone: the scoring code is the package the step runs."""
    import shutil

    import ctloop

    copy = tmp_path / "inputs" / "endpoints"
    shutil.copytree(repo_root / "pipelines" / "endpoints", copy)
    assert not (copy / "../../src").resolve().exists()
    settings = local_settings(copy, "blue")
    assert settings.code_dir == Path(ctloop.__file__).resolve().parents[1]
    assert settings.scoring_script == settings.code_dir / "ctloop" / "serving" / "score.py"

    blue = yaml.safe_load((copy / "blue.yml").read_text())
    blue["code_configuration"]["scoring_script"] = "ctloop/serving/missing.py"
    (copy / "blue.yml").write_text(yaml.safe_dump(blue))
    with pytest.raises(EndpointError, match=r"blue\.yml: code_configuration\.scoring_script: .*missing\.py"):
        local_settings(copy, "blue")
