"""The Azure ML specs of the DNN trainer: component, GPU environment, pipeline (loaded with azure-ai-ml)."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "components" / "train_dnn.yml"
PIPELINE = REPO / "pipelines" / "training-dnn.yml"
TABULAR_PIPELINE = REPO / "pipelines" / "training.yml"
ENVIRONMENT = REPO / "environments" / "gpu-train.yml"


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


@pytest.fixture(scope="module")
def ml():
    return pytest.importorskip("azure.ai.ml", reason="azure-ai-ml loads the specs")


def test_component_loads_and_declares_distribution_and_outputs(ml) -> None:
    comp = ml.load_component(str(COMPONENT))
    assert comp._validate().passed
    assert comp.distribution.type == "pytorch"
    assert comp.outputs["model"].type == "mlflow_model"
    assert comp.outputs["checkpoints"].type == "uri_folder" and comp.outputs["checkpoints"].mode == "rw_mount"
    assert comp.inputs["eval"].optional is True
    env = read(ENVIRONMENT)
    assert read(COMPONENT)["environment"] == f"azureml:{env['name']}:{env['version']}"


def test_component_command_is_accepted_by_the_step() -> None:
    """Render the command as Azure ML would (optional block kept) and parse it with the step's parser."""
    from ctloop.steps.train_dnn import parse_args

    command = read(COMPONENT)["command"]
    rendered = re.sub(r"\$\[\[(.*?)\]\]", r"\1", command)
    rendered = re.sub(r"\$\{\{(inputs|outputs)\.(\w+)\}\}", r"/mnt/\1/\2", rendered)
    argv = shlex.split(rendered)
    assert argv[:3] == ["python", "-m", "ctloop.steps.train_dnn"]
    config = parse_args(argv[3:])
    assert (config.train, config.eval, config.checkpoints, config.model) == (
        Path("/mnt/inputs/train"),
        Path("/mnt/inputs/eval"),
        Path("/mnt/outputs/checkpoints"),
        Path("/mnt/outputs/model"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train = Path("elsewhere")  # type: ignore[misc]


def test_environment_is_pinned() -> None:
    env = read(ENVIRONMENT)
    image = env["image"]
    assert re.fullmatch(r"mcr\.microsoft\.com/azureml/[\w.-]+:\d{8}\.v\d+", image), image
    conda = read(ENVIRONMENT.parent / env["conda_file"])
    pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert all(re.fullmatch(r"[\w.-]+==[\w.+-]+", p) for p in pip), pip
    pinned = dict(p.lower().split("==") for p in pip)
    # Two reviewed differences from the local locks, each explained in the conda file: torch is the
    # newest build whose CUDA major is the image's (tests/gitops/test_environments_resolve.py checks
    # the CUDA tag), and mlflow-skinny is capped by azureml-mlflow.
    conda_text = (ENVIRONMENT.parent / env["conda_file"]).read_text()
    reviewed = {"torch", "mlflow-skinny"}
    assert all(name in conda_text.split("dependencies")[0] for name in reviewed), "explain each difference"
    lock = lock_pins(REPO / "requirements.lock")
    for name, version in pinned.items():
        if name in lock and name not in reviewed:
            assert version == lock[name], f"{name}: {version} here, {lock[name]} in requirements.lock"


def test_pipeline_binds_node_and_process_counts_to_inputs(ml) -> None:
    job = ml.load_job(str(PIPELINE))
    result = job._validate()
    assert result.passed, result.error_messages
    train = job.jobs["train"]
    assert train.resources.instance_count == "${{parent.inputs.instance_count}}"
    assert train.distribution.process_count_per_instance == "${{parent.inputs.process_count_per_instance}}"
    assert train.compute in ("gpu-cluster", "azureml:gpu-cluster")
    assert {"instance_count", "process_count_per_instance"} <= set(job.inputs)
    rest = job._to_rest_object().as_dict()["properties"]["jobs"]["train"]  # survives serialisation
    assert rest["resources"]["instance_count"] == "${{parent.inputs.instance_count}}"
    assert (
        rest["distribution"]["process_count_per_instance"] == "${{parent.inputs.process_count_per_instance}}"
    )


def test_pipeline_is_the_tabular_one_with_only_the_train_job_swapped() -> None:
    dnn, tabular = read(PIPELINE), read(TABULAR_PIPELINE)
    assert set(dnn["jobs"]) == set(tabular["jobs"])
    trainers = {"train", "train_recent"}
    for name, job in tabular["jobs"].items():
        if name not in trainers:
            assert dnn["jobs"][name] == job, f"job {name} differs from pipelines/training.yml"
    for name in trainers:
        assert dnn["jobs"][name]["component"] == "../components/train_dnn.yml"
        assert dnn["jobs"][name]["inputs"]["train"] == tabular["jobs"][name]["inputs"]["train"]
    assert dnn["settings"] == tabular["settings"]
    shared = {k: v for k, v in tabular["inputs"].items() if k != "trainer"}
    assert {k: dnn["inputs"][k] for k in shared} == shared
