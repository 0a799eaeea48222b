"""Named outputs become versioned data assets under assets/<name>/<version>/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctloop.engine.assets import AssetError, register_output
from ctloop.engine.hashing import tree_hash


def _asset(toy) -> dict:
    out = Path(toy.record()["steps"]["merge"]["outputs"]["out"])
    return json.loads((out / "asset.json").read_text())


def test_named_output_is_registered_and_reused(toy, cli):
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    asset = _asset(toy)
    root = toy.home / "assets" / "toy-total"
    assert asset == {"name": "toy-total", "version": "1", "path": str(root / "1")}
    assert float((root / "1" / "value.txt").read_text()) == 125
    meta = json.loads((root / "1" / "asset.json").read_text())
    assert meta["run_id"] == toy.record()["run_id"] and meta["step"] == "merge"
    assert toy.record()["steps"]["merge"]["assets"][0]["version"] == "1"
    # a forced rerun produces identical content: the same version is reused
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow", "--force").code == 0
    assert _asset(toy)["version"] == "1"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["1"]
    # new content: the next integer version
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow", "--set", "n=4").code == 0
    assert _asset(toy)["version"] == "2"
    assert float((root / "2" / "value.txt").read_text()) == 137.5
    # back to the first content: version 1 again, nothing new written
    assert cli("run", toy.pipeline("diamond"), "--no-mlflow").code == 0
    assert _asset(toy)["version"] == "1"
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == ["1", "2"]


def test_explicit_version_must_not_change_content(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, text in ((a, "1"), (b, "2")):
        folder.mkdir()
        (folder / "value.txt").write_text(text)
    root = tmp_path / "assets"
    ref = register_output(root, "data", "7", a, tree_hash(a), {})
    assert (ref.version, ref.reused) == ("7", False)
    assert register_output(root, "data", "7", a, tree_hash(a), {}).reused
    with pytest.raises(AssetError, match="data:7 already exists with different content"):
        register_output(root, "data", "7", b, tree_hash(b), {})
    assert register_output(root, "data", None, b, tree_hash(b), {}).version == "8"
