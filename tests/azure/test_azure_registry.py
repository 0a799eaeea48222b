"""The Azure registry's MLflow code, run against a real MLflow store (SQLite) instead of a workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctloop.azure.registry import CHAMPION_TAG, AzureMLRegistry
from ctloop.registry.base import STATUS_PROMOTED, RegistryError


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    return folder


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SQLite store for the module (creating its schema is the slow part); tests use distinct models."""
    home = tmp_path_factory.mktemp("ctloop-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)  # MLflow's default artifact root is ./mlruns
        mp.setenv("CTLOOP_HOME", str(home))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        yield f"sqlite:///{home / 'mlflow.db'}"


def test_register_champion_tags_download(uri: str, model_dir: Path, tmp_path: Path) -> None:
    reg = AzureMLRegistry("rainfall-classifier", tracking_uri=uri)
    v1 = reg.register(model_dir, {"ctloop.run": "r1"})
    v2 = reg.register(model_dir, {})
    assert (v1.version, v2.version) == ("1", "2")
    assert reg.champion() is None
    assert reg.set_champion("1", None) is True
    assert reg.set_champion("2", None) is False  # the pointer moved: compare fails, nothing changes
    assert reg.champion().version == "1"
    assert reg.set_champion("2", "1") is True
    versions = {v.version: v for v in reg.list_versions()}
    assert versions["2"].is_champion and not versions["1"].is_champion
    assert versions["2"].status == STATUS_PROMOTED
    assert versions["1"].tags["ctloop.superseded_by"] == "2"
    assert reg.set_tags("1", {"note": "x"}).tags["note"] == "x"
    local = reg.download("2", tmp_path / "dl")
    assert (local / "weights.bin").read_bytes() == b"\x00\x01"
    assert "rainfall-classifier" in AzureMLRegistry.model_names(tracking_uri=uri)
    with pytest.raises(RegistryError, match="no version '9'"):
        reg.get("9")
    with pytest.raises(RegistryError, match="not an MLflow model folder"):
        reg.register(tmp_path, {})


def test_a_lost_claim_reports_false(uri: str, model_dir: Path) -> None:
    reg = AzureMLRegistry("m", tracking_uri=uri)
    reg.register(model_dir, {})

    class Racing:
        """Another writer's claim lands between our write and our read-back."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
            self.inner.set_registered_model_tag(name, key, value)
            if key == CHAMPION_TAG:
                self.inner.set_registered_model_tag(name, key, "1;someone-else")

        def __getattr__(self, attr: str) -> Any:
            return getattr(self.inner, attr)

    racing = AzureMLRegistry("m", tracking_uri=uri, client=Racing(reg._client))
    assert racing.set_champion("1", None) is False
