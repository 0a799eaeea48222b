"""The engine's start-up shortcuts: a spec validated once on this machine skips azure-ai-ml anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop.engine.spec import SpecError, load_pipeline, memo, sdk


@pytest.fixture
def loader_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pipelines handed to the real azure-ai-ml loader (the call goes through)."""
    calls: list[str] = []
    real = sdk.load_job

    def counted(src, sources):  # type: ignore[no-untyped-def]
        calls.append(str(src.path))
        return real(src, sources)

    monkeypatch.setattr(sdk, "load_job", counted)
    return calls


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def test_a_validated_spec_is_recalled_from_another_checkout_with_its_paths_moved(toy, tmp_path, loader_calls):
    first = load_pipeline(toy.pipeline("diamond"), use_memo=True)
    moved = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(toy.root, moved)
    again = load_pipeline(moved / "pipelines" / "diamond.yml", use_memo=True)
    assert loader_calls == [str(toy.pipeline("diamond"))]  # validated once, recalled in the copy
    assert again.file == moved / "pipelines" / "diamond.yml"
    assert again.order == first.order
    for name, job in again.jobs.items():
        assert _under(job.component.source, moved), name
        assert job.component.code is None or _under(job.component.code, moved), name
        assert job.component.spec_hash == first.jobs[name].component.spec_hash
    paths = [pin.value for pin in again.inputs.values() if pin.is_path]
    assert paths and all(_under(Path(p), moved) for p in paths)


def test_a_changed_spec_goes_through_azure_ai_ml_again(toy, loader_calls):
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    component = toy.root / "components" / "combine.yml"
    component.write_text(component.read_text() + "\n# reviewed\n")
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert len(loader_calls) == 2


def test_a_spec_that_names_its_own_folder_is_keyed_by_location(toy, tmp_path, loader_calls):
    pipeline = toy.pipeline("diamond")
    pipeline.write_text(pipeline.read_text() + f"\n# data kept under {toy.root}\n")
    load_pipeline(pipeline, use_memo=True)
    moved = tmp_path / "copy"
    shutil.copytree(toy.root, moved)
    load_pipeline(moved / "pipelines" / "diamond.yml", use_memo=True)
    assert loader_calls == [str(pipeline), str(moved / "pipelines" / "diamond.yml")]


def test_an_unreadable_memo_entry_is_ignored_and_replaced(toy, loader_calls):
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    (entry,) = memo.memo_dir().glob("*.json")
    entry.write_text("{not json")
    spec = load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert len(loader_calls) == 2 and spec.jobs
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert len(loader_calls) == 2  # the entry was written again


def test_the_memo_is_per_user_not_per_state_dir(toy, tmp_path, monkeypatch, loader_calls):
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    monkeypatch.setenv("CTLOOP_HOME", str(tmp_path / "fresh-state"))
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    assert len(loader_calls) == 1
    assert not (tmp_path / "fresh-state").exists()


def test_a_broken_copy_of_a_validated_spec_is_still_refused(toy, tmp_path, loader_calls):
    load_pipeline(toy.pipeline("diamond"), use_memo=True)
    moved = tmp_path / "copy"
    shutil.copytree(toy.root, moved)
    shutil.rmtree(moved / "src")  # the cheap checks run on every load, recalled or not
    with pytest.raises(SpecError) as err:
        load_pipeline(moved / "pipelines" / "diamond.yml", use_memo=True)
    assert loader_calls == [str(toy.pipeline("diamond"))]
    assert any("code" in p.rule_id or "code" in p.reason for p in err.value.problems)
