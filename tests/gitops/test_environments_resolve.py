"""Every environments/* spec resolves for the cluster (linux x86-64, the conda file's Python).

``uv pip compile`` resolves each pip list against PyPI the way the image build will; a list with
no solution (a plugin's upper bound against a newer pin) fails here instead of at image build. The
torch build's CUDA major version must be the base image's. Skipped only when PyPI is unreachable
outside CI (under ``CI=true`` an unreachable index is a failure).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctloop.gitops.environments import (
    PYPI_SIMPLE,
    EnvironmentSpec,
    EnvironmentSpecError,
    canonical,
    cuda_problems,
    environments,
    reachable,
    read_environment,
    resolve,
    torch_cuda_major,
)

REPO = Path(__file__).resolve().parents[2]
SPECS = environments(REPO)


@pytest.fixture(scope="module")
def pypi() -> None:
    if reachable(PYPI_SIMPLE):
        return
    if os.environ.get("CI"):
        pytest.fail(f"PyPI ({PYPI_SIMPLE}) is unreachable under CI: environments cannot be resolved")
    pytest.skip(f"PyPI ({PYPI_SIMPLE}) is unreachable and CI is not set")


def _spec(tmp_path: Path, image: str, pip: list[str], python: str = "3.11.7") -> EnvironmentSpec:
    conda = tmp_path / "conda.yml"
    lines = "\n".join(f"      - {p}" for p in pip)
    conda.write_text(f"name: x\ndependencies:\n  - python={python}\n  - pip:\n{lines}\n", encoding="utf-8")
    env = tmp_path / "env.yml"
    env.write_text(f"name: x\nversion: '1'\nimage: {image}\nconda_file: conda.yml\n", encoding="utf-8")
    spec = read_environment(env)
    assert spec is not None
    return spec


def test_the_repository_has_conda_environments() -> None:
    assert {s.name for s in SPECS} >= {"ctloop-train", "ctloop-gpu-train", "ctloop-serve"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.path.name)
def test_environment_resolves_for_the_cluster(spec: EnvironmentSpec, pypi: None, tmp_path: Path) -> None:
    result = resolve(spec, tmp_path)
    assert result.ok, (
        f"{spec.path}: pip list has no solution for {spec.python} linux x86-64:\n{result.message}"
    )
    for pin in spec.pip:
        name, _, version = pin.partition("==")
        assert result.pins.get(canonical(name)) == version, f"{spec.path}: {pin} resolved differently"
    assert cuda_problems(spec, result.pins) == []


def test_a_conflicting_pin_has_no_solution(pypi: None, tmp_path: Path) -> None:
    """The conflict that once broke every image build (plugin bound vs newer mlflow) is caught."""
    spec = _spec(
        tmp_path, "mcr.microsoft.com/azureml/x:1", ["mlflow-skinny==3.17.2", "azureml-mlflow==1.62.0.post6"]
    )
    result = resolve(spec, tmp_path)
    assert not result.ok
    assert "mlflow-skinny" in result.message


def test_a_cuda13_torch_on_a_cuda12_image_is_reported(pypi: None, tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:20260715.v1", ["torch==2.13.0"]
    )
    result = resolve(spec, tmp_path)
    assert result.ok, result.message
    assert torch_cuda_major(result.pins) == 13
    [problem] = cuda_problems(spec, result.pins)
    assert "torch brings CUDA 13, the image has CUDA 12" in problem


@pytest.mark.parametrize(
    ("pins", "major"),
    [
        ({"torch": "2.13.0+cu126"}, 12),
        ({"torch": "2.13.0+cu130"}, 13),
        ({"torch": "2.13.0+cpu"}, None),
        ({"torch": "2.10.0", "nvidia-cuda-runtime-cu12": "12.8.90"}, 12),
        ({"torch": "2.13.0", "nvidia-cuda-runtime": "13.0.96"}, 13),
        ({"torch": "2.13.0", "cuda-toolkit": "13.0.3.0"}, 13),
        ({"torch": "2.13.0"}, None),
        ({"numpy": "2.4.6"}, None),
    ],
)
def test_torch_cuda_major(pins: dict[str, str], major: int | None) -> None:
    assert torch_cuda_major(pins) == major


def test_cuda_mismatches(tmp_path: Path) -> None:
    gpu = _spec(tmp_path, "mcr.microsoft.com/azureml/openmpi5.0-cuda12.4-ubuntu22.04:1", ["torch==2.10.0"])
    assert gpu.image_cuda_major == 12
    assert cuda_problems(gpu, {"torch": "2.13.0+cu126"}) == []
    assert "CPU build" in cuda_problems(gpu, {"torch": "2.13.0+cpu"})[0]
    cpu = _spec(tmp_path, "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:20240709.v1", ["torch==2.13.0"])
    assert cpu.image_cuda_major is None
    assert cuda_problems(cpu, {"torch": "2.13.0+cpu"}) == []
    assert "pin a +cpu build" in cuda_problems(cpu, {"torch": "2.13.0", "cuda-toolkit": "13.0.3.0"})[0]


def test_a_conda_file_without_python_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "conda.yml").write_text("dependencies:\n  - pip:\n      - numpy==2.4.6\n", encoding="utf-8")
    env = tmp_path / "env.yml"
    env.write_text("name: x\nimage: img:1\nconda_file: conda.yml\n", encoding="utf-8")
    with pytest.raises(EnvironmentSpecError, match=r"conda.yml: field 'dependencies': no python=X.Y pin"):
        read_environment(env)
