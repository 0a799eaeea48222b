"""Data given by an https URL: Azure ML downloads it at job start; the local engine refuses, saying so."""

from __future__ import annotations

from pathlib import Path

PIPELINE = """\
type: pipeline
jobs:
  read:
    type: command
    command: cat ${{inputs.table}}
    environment: azureml:AzureML-sklearn-1.5-ubuntu20.04-py38-cpu@latest
    inputs:
      table:
        type: uri_file
        path: https://example.org/titanic.csv
"""


def test_https_data_is_refused_with_what_to_do_instead(tmp_path: Path, cli, toy):
    (tmp_path / "pipeline.yml").write_text(PIPELINE)
    result = cli("run", tmp_path / "pipeline.yml", "--no-mlflow")
    assert result.code == 2 and "nothing was run" in result.err
    line = next(ln for ln in result.err.splitlines() if "[pipeline.input-path-exists]" in ln)
    assert "jobs.read.inputs.table.path" in line
    assert "Azure ML downloads it when the job starts; the local engine never downloads" in line
    assert not (toy.home / "runs").exists()
