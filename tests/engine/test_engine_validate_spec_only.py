"""``ctloop validate --spec-only``: any Azure ML repository, checked as the service checks it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop import cli as ctloop_cli

SAMPLE = Path(__file__).parent / "samples" / "foreign"


@pytest.fixture
def foreign(tmp_path: Path, ctloop_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "foreign"
    shutil.copytree(SAMPLE, root)
    monkeypatch.chdir(root)
    return root


def _validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = ctloop_cli.main(["validate", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_remote_data_and_registered_components_pass_a_spec_only_check(foreign, capsys):
    code, text = _validate(capsys, "--spec-only", ".")
    assert code == 0, text
    assert "checked as Azure ML checks them (spec only): no problems" in text


def test_a_repository_without_policies_specs_is_checked_spec_only(foreign, capsys):
    code, text = _validate(capsys, ".")
    assert code == 0 and "(spec only)" in text, text


def test_a_real_spec_error_still_fails_with_file_line_and_field(foreign, capsys):
    yml = foreign / "pipeline.yml"
    yml.write_text(yml.read_text() + "      other: ${{parent.jobs.nowhere.outputs.out}}\n")
    code, text = _validate(capsys, "--spec-only", ".")
    assert code == 2
    assert "pipeline.yml:21: pipeline.binding-exists: jobs.registered.inputs.other:" in text
    assert "names no job 'nowhere'" in text


def test_running_the_same_pipeline_names_what_is_missing_locally(foreign, capsys):
    capsys.readouterr()
    code = ctloop_cli.main(["run", "pipeline.yml", "--no-mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and "component my_registered_component@latest is not registered locally" in err
    yml = foreign / "pipeline.yml"
    yml.write_text(yml.read_text().split("  registered:")[0])
    code = ctloop_cli.main(["run", "pipeline.yml", "--no-mlflow"])
    err = capsys.readouterr().err
    assert code == 2 and "'https://example.org/titanic.csv' is not a local path" in err
