"""Data and components referenced as ``azureml:<name>:<version>`` / ``@latest`` come from local stores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ctloop import cli as ctloop_cli

SAMPLE = Path(__file__).parent / "samples" / "stores"


@pytest.fixture
def sample(tmp_path: Path, ctloop_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "stores"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(root)
    return root


def ctloop(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = ctloop_cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_unregistered_references_are_refused_naming_the_asset_and_the_command(sample, ctloop_home, capsys):
    code, _, err = ctloop(capsys, "run", "pipeline.yml", "--no-mlflow")
    assert code == 2
    assert "component count_rows@latest is not registered locally" in err
    assert "ctloop component create --file" in err
    assert not (ctloop_home / "runs").exists() or not any((ctloop_home / "runs").iterdir())
    assert ctloop(capsys, "component", "create", "--file", "count.yml")[0] == 0
    code, _, err = ctloop(capsys, "run", "pipeline.yml", "--no-mlflow")
    assert code == 2 and "data asset sample_values:1 is not registered locally" in err
    assert "ctloop data create" in err


def test_registered_data_and_component_run_with_an_inline_job_and_a_value_input(sample, ctloop_home, capsys):
    assert ctloop(capsys, "data", "create", "--file", "data.yml")[0] == 0
    code, out, _ = ctloop(capsys, "component", "create", "--file", "count.yml")
    assert code == 0 and "azureml:count_rows:1" in out
    (sample / "src" / "count.py").write_text("raise SystemExit(3)\n")  # the store keeps its snapshot
    code, out, err = ctloop(capsys, "run", "pipeline.yml", "--no-mlflow")
    assert code == 0, out + err
    runs = sorted((ctloop_home / "runs").iterdir())
    report = runs[-1] / "outputs" / "report" / "report" / "count.txt"
    assert report.read_text() == "12"  # 4 rows x factor 3 from {value: 3}


def test_data_create_versions_and_refuses_bad_input(sample, ctloop_home, capsys):
    code, out, _ = ctloop(capsys, "data", "create", "--name", "vals", "--path", "data")
    assert code == 0 and "azureml:vals:1" in out
    (sample / "data" / "more.csv").write_text("x\n5\n")
    code, out, _ = ctloop(capsys, "data", "create", "--name", "vals", "--path", "data")
    assert code == 0 and "azureml:vals:2" in out
    code, _, err = ctloop(capsys, "data", "create", "--name", "vals", "--path", "missing")
    assert code == 2 and "does not exist" in err
    assert sorted(p.name for p in (ctloop_home / "assets" / "vals").iterdir() if p.is_dir()) == ["1", "2"]


def test_component_create_refuses_an_existing_version(sample, ctloop_home, capsys):
    assert ctloop(capsys, "component", "create", "--file", "count.yml")[0] == 0
    code, _, err = ctloop(capsys, "component", "create", "--file", "count.yml")
    assert code == 2 and "count_rows:1 is already registered" in err
