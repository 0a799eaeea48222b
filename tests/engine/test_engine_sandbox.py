"""Azure ML's job semantics: a step never changes the user's tree, its inputs or the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop.engine.hashing import tree_hash

SAMPLE = Path(__file__).parent / "samples" / "sandbox"


@pytest.fixture
def sample(tmp_path: Path, ctloop_home: Path) -> Path:
    root = tmp_path / "sandbox"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _tree(root: Path) -> str:
    return tree_hash(root)


def test_step_writing_into_its_code_folder_changes_neither_the_tree_nor_the_cache(
    sample, ctloop_home, cli, toy
):
    before = _tree(sample)
    first = cli("run", sample / "pipeline.yml", "--no-mlflow")
    assert first.code == 0, first.out + first.err
    assert _tree(sample) == before and not (sample / "src" / "scratch.txt").exists()
    again = cli("run", sample / "pipeline.yml", "--no-mlflow")
    assert again.code == 0 and "2/2 steps ok, 2 cached" in again.out
    assert _tree(sample) == before


def test_step_changing_a_read_only_input_fails_and_the_input_is_untouched(sample, ctloop_home, cli, toy):
    before = _tree(sample)
    result = cli("run", sample / "pipeline.yml", "--no-mlflow", "--set", "touch=yes")
    assert result.code == 1
    step = toy.record()["steps"]["first"]
    assert step["status"] == "failed"
    assert "changed its read-only input 'data' (mode ro_mount)" in step["reason"]
    assert _tree(sample) == before


def test_a_download_input_from_an_upstream_step_leaves_the_cached_output_intact(
    sample, ctloop_home, cli, toy
):
    yml = sample / "pipeline.yml"
    assert cli("run", yml, "--no-mlflow").code == 0
    upstream = Path(toy.record()["steps"]["first"]["outputs"]["out"])
    kept = _tree(upstream)
    text = yml.read_text()
    cut = text.rindex("      touch: ${{parent.inputs.touch}}")
    yml.write_text(text[:cut] + "      touch: 'yes'\n")
    result = cli("run", yml, "--no-mlflow")
    assert result.code == 1, result.out
    record = toy.record()
    assert record["steps"]["first"]["status"] == "cached"
    assert "(mode download)" in record["steps"]["second"]["reason"]
    assert _tree(upstream) == kept and (sample / "data" / "rows.csv").read_text().count("9,9") == 0


def test_an_output_with_a_datastore_path_lands_in_the_local_datastore(sample, ctloop_home, cli, toy):
    assert cli("run", sample / "pipeline.yml", "--no-mlflow").code == 0
    record = toy.record()
    published = Path(record["steps"]["first"]["datastore_outputs"]["out"])
    assert published == ctloop_home / "datastores" / "workspaceblobstore" / "sandbox" / record["run_id"]
    assert (published / "lines.txt").read_text() == "3"
