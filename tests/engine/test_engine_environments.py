"""``ctloop run --environments build``: a step runs in a uv environment built from its conda file."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from ctloop.engine.environments import EnvironmentBuildError, build, read_conda

PIPELINE = """\
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: environments
jobs:
  joke:
    type: command
    code: ./src
    command: python joke.py
    environment:
      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
      conda_file: ./conda.yml
"""

CONDA = """\
name: joke-env
channels: [conda-forge]
dependencies:
  - python={python}
  - pip
  - pip:
    - {package}
"""


def _wheel(folder: Path) -> None:
    """A one-module wheel, ``tinyjoke 0.1``, for installs without an index."""
    folder.mkdir()
    info = "tinyjoke-0.1.dist-info"
    with zipfile.ZipFile(folder / "tinyjoke-0.1-py3-none-any.whl", "w") as whl:
        whl.writestr("tinyjoke.py", "def joke():\n    return 'tiny joke'\n")
        whl.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: tinyjoke\nVersion: 0.1\n")
        whl.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        whl.writestr(f"{info}/RECORD", f"tinyjoke.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n")


def _environments(project: Path) -> list[Path]:
    return sorted(p for p in (project.parent / "envs").iterdir() if p.is_dir())


@pytest.fixture
def project(tmp_path: Path, ctloop_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "joke.py").write_text("import sys, tinyjoke\nprint(tinyjoke.joke(), sys.prefix)\n")
    (root / "pipeline.yml").write_text(PIPELINE)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    (root / "conda.yml").write_text(CONDA.format(python=here, package="tinyjoke==0.1"))
    _wheel(tmp_path / "wheels")
    monkeypatch.setenv("UV_NO_INDEX", "1")  # never the network: only the local wheel
    monkeypatch.setenv("UV_FIND_LINKS", str(tmp_path / "wheels"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.setenv("CTLOOP_ENV_CACHE", str(tmp_path / "envs"))
    return root


def test_a_step_runs_in_the_environment_built_from_its_conda_file(project, cli, toy):
    plain = cli("run", project / "pipeline.yml", "--no-mlflow")
    assert plain.code == 1  # the default: this environment, which lacks the package
    assert "No module named 'tinyjoke'" in "".join(toy.record()["steps"]["joke"]["log_tail"])
    built = cli("run", project / "pipeline.yml", "--no-mlflow", "--environments", "build")
    assert built.code == 0, built.out + built.err
    step = toy.record()["steps"]["joke"]
    envs = _environments(project)
    assert len(envs) == 1
    assert f"tiny joke {envs[0]}" in Path(step["log"]).read_text()
    again = cli("run", project / "pipeline.yml", "--no-mlflow", "--environments", "build", "--force")
    assert again.code == 0 and _environments(project) == envs  # reused, not rebuilt
    cached = cli("run", project / "pipeline.yml", "--no-mlflow", "--environments", "build")
    assert cached.code == 0 and toy.record()["steps"]["joke"]["status"] == "cached"
    # the built environment's result is never reused for a run in ctloop's own environment
    assert cli("run", project / "pipeline.yml", "--no-mlflow").code == 1


def test_a_package_that_cannot_be_resolved_fails_the_step_naming_file_and_package(project, cli, toy):
    conda = project / "conda.yml"
    conda.write_text(CONDA.format(python="3.7", package="nosuchjoke==1.0"))
    result = cli("run", project / "pipeline.yml", "--no-mlflow", "--environments", "build")
    assert result.code == 1
    assert "warning:" in result.out and "declares python 3.7" in result.out
    reason = toy.record()["steps"]["joke"]["reason"]
    assert "\n" not in reason
    assert f"{conda}: dependencies.pip: cannot install nosuchjoke" in reason
    assert not _environments(project)  # nothing half-built is kept


def test_read_conda_splits_python_pip_and_conda_packages(tmp_path):
    path = tmp_path / "conda.yml"
    path.write_text("dependencies:\n  - python=3.8.5\n  - numpy=1.21\n  - pip\n  - pip:\n    - idx2numpy\n")
    conda = read_conda(path)
    assert (conda.python, conda.pip, conda.conda) == ("3.8.5", ("idx2numpy",), ("numpy=1.21",))
    path.write_text("name: x\n")
    with pytest.raises(EnvironmentBuildError, match=r"conda.yml: dependencies: must be a list"):
        read_conda(path)


def test_the_warning_names_the_declared_and_the_host_python(project, monkeypatch):
    conda = project / "conda.yml"
    conda.write_text(CONDA.format(python="3.7", package="tinyjoke==0.1"))
    warnings: list[str] = []
    env = build(read_conda(conda), warnings.append)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert warnings == [f"{conda}: declares python 3.7; the step runs on this machine's Python {here}"]
    assert (env / "bin" / "python").exists()


def test_a_named_environment_runs_in_the_conda_file_the_map_gives_it(project, cli, toy, monkeypatch):
    pipeline = project / "pipeline.yml"
    named = "azureml://registries/azureml/environments/joke/labels/latest"
    pipeline.write_text(
        PIPELINE.replace(
            "    environment:\n      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest\n"
            "      conda_file: ./conda.yml\n",
            f"    environment: {named}\n",
        )
    )
    (project / "map.yml").write_text(f"{named}: conda.yml\n")
    monkeypatch.setenv("CTLOOP_ENVIRONMENT_MAP", str(project / "map.yml"))
    result = cli("run", pipeline, "--no-mlflow", "--environments", "build")
    assert result.code == 0, result.out + result.err
    assert "tiny joke" in Path(toy.record()["steps"]["joke"]["log"]).read_text()
