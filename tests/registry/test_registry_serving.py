"""One truth about what serves: the champion follows the rollout, on a real local registry."""

from __future__ import annotations

from pathlib import Path

from ctloop.registry.local import LocalRegistry
from ctloop.rollout.registry_adapter import RolloutRegistry


def pointers(registry: LocalRegistry) -> tuple[str | None, str | None]:
    champion, serving = registry.champion(), registry.serving()
    return (champion.version if champion else None, serving.version if serving else None)


def test_a_promoted_rollout_makes_its_version_serving_and_champion(
    registry: LocalRegistry, model_dir: Path
) -> None:
    registry.register(model_dir, {})
    registry.register(model_dir, {})
    assert registry.set_champion("1", None)
    assert pointers(registry) == ("1", None)
    adapter = RolloutRegistry(registry.name, registry)
    adapter.record_deployed("1", "ctloop-rainfall", "blue")
    assert pointers(registry) == ("1", "1")
    # A rollout of a version the gate did not pick (a manual `rollout start --version 2`).
    adapter.record_deployed("2", "ctloop-rainfall", "green")
    assert pointers(registry) == ("2", "2")
    versions = {v.version: v for v in registry.list_versions()}
    assert versions["1"].tags["ctloop.superseded_by"] == "2" and versions["2"].status == "deployed"


def test_a_rejected_rollout_returns_the_champion_to_what_serves(
    registry: LocalRegistry, model_dir: Path
) -> None:
    for _ in range(2):
        registry.register(model_dir, {})
    adapter = RolloutRegistry(registry.name, registry)
    assert registry.set_champion("1", None)
    adapter.record_deployed("1", "ctloop-rainfall", "blue")
    assert registry.set_champion("2", "1")  # the gate promoted 2; its rollout then fails its canary
    assert pointers(registry) == ("2", "1")
    adapter.mark_rejected("2", "canary 10%: error rate 7% > 5%")
    assert pointers(registry) == ("1", "1")
    rejected = registry.get("2")
    assert rejected.status == "rejected" and rejected.tags["ctloop.champion_restored_from"] == "1"


def test_a_first_rollout_rejected_leaves_no_champion(registry: LocalRegistry, model_dir: Path) -> None:
    registry.register(model_dir, {})
    assert registry.set_champion("1", None)
    registry.mark_rejected("1", "smoke test: 500")
    assert pointers(registry) == (None, None)
    assert registry.get("1").tags["ctloop.champion_restored_from"] == "none"


def test_rejecting_a_version_that_is_not_champion_moves_nothing(
    registry: LocalRegistry, model_dir: Path
) -> None:
    for _ in range(2):
        registry.register(model_dir, {})
    registry.record_deployed("1")
    registry.mark_rejected("2", "manual")
    assert pointers(registry) == ("1", "1")
    assert "ctloop.champion_restored_from" not in registry.get("2").tags


def test_find_model_hash(registry: LocalRegistry, model_dir: Path) -> None:
    registry.register(model_dir, {"ctloop.model_hash": "abc"})
    registry.register(model_dir, {"ctloop.model_hash": "def"})
    assert registry.find_model_hash("def").version == "2"
    assert registry.find_model_hash("zzz") is None


def test_the_azure_store_keeps_the_same_pointers_in_model_tags(
    registry_home: Path, model_dir: Path, monkeypatch
) -> None:
    from ctloop.azure.registry import CHAMPION_TAG, SERVING_TAG, AzureMLRegistry

    monkeypatch.chdir(registry_home)  # the store's default artifact root is ./mlruns
    azure = AzureMLRegistry(
        "azure-model", tracking_uri=f"sqlite:///{registry_home / 'registry' / 'mlflow.db'}"
    )
    for _ in range(2):
        azure.register(model_dir, {})
    assert azure.set_champion("1", None)
    azure.record_deployed("1")
    assert azure.set_champion("2", "1")
    azure.mark_rejected("2", "canary failed")
    assert (azure.champion().version, azure.serving().version) == ("1", "1")
    tags = azure._client.get_registered_model("azure-model").tags
    assert tags[CHAMPION_TAG].startswith("1;") and tags[SERVING_TAG].startswith("1;")


def test_deploy_catches_up_a_champion_that_does_not_serve(registry: LocalRegistry, model_dir: Path) -> None:
    from ctloop.steps.deploy import pending_champion

    assert pending_champion("never-registered") is None
    for _ in range(2):
        registry.register(model_dir, {})
    assert registry.set_champion("1", None)
    assert pending_champion(registry.name) == ("1", None)  # killed before its first rollout ended
    registry.record_deployed("1")
    assert pending_champion(registry.name) is None
    assert registry.set_champion("2", "1")  # the run was killed after register moved the pointer
    assert pending_champion(registry.name) == ("2", "1")
    registry.mark_rejected("2", "canary failed")
    assert pending_champion(registry.name) is None and registry.champion().version == "1"
