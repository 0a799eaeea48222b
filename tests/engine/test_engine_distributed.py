"""Nodes and distributions: each process gets the environment Azure ML's launcher gives it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctloop.engine import launch


def _ranks(toy) -> dict[str, dict[str, str]]:
    step = toy.record()["steps"]["ranks"]
    out = Path(step["outputs"]["out"])
    return {p.stem.removeprefix("rank-"): json.loads(p.read_text()) for p in out.glob("rank-*.json")}


def _with(toy, block: str) -> Path:
    yml = toy.pipeline("distributed")
    old = (
        "    distribution:\n      type: pytorch\n      process_count_per_instance: ${{parent.inputs.procs}}\n"
    )
    assert old in yml.read_text()
    yml.write_text(yml.read_text().replace(old, block))
    return yml


def test_pytorch_processes_each_get_rank_and_one_rendezvous(toy, cli):
    result = cli("run", toy.pipeline("distributed"), "--no-mlflow")
    assert result.code == 0, result.err
    assert toy.record()["steps"]["ranks"]["processes"] == 2
    ranks = _ranks(toy)
    assert sorted(ranks) == ["0", "1"]
    for rank, env in ranks.items():
        assert env["RANK"] == rank and env["LOCAL_RANK"] == rank and env["NODE_RANK"] == "0"
        assert env["WORLD_SIZE"] == "2" and env["MASTER_ADDR"] and env["MASTER_PORT"]
        assert env["AZUREML_NODE_COUNT"] == "1" and env["CTLOOP_STEP"] == "ranks"
    assert ranks["0"]["MASTER_PORT"] == ranks["1"]["MASTER_PORT"]


def test_instance_count_without_distribution_runs_once_per_node(toy, cli):
    yml = _with(toy, "    resources:\n      instance_count: 3\n")
    comp = toy.root / "components" / "ranks.yml"
    comp.write_text(
        comp.read_text().replace("distribution:\n  type: pytorch\n  process_count_per_instance: 1\n", "")
    )
    assert "distribution" not in comp.read_text()
    result = cli("run", yml, "--no-mlflow")
    assert result.code == 0, result.err
    ranks = _ranks(toy)
    assert sorted(ranks) == ["node0", "node1", "node2"]
    assert {env["AZUREML_NODE_COUNT"] for env in ranks.values()} == {"3"}
    assert all(env["RANK"] is None for env in ranks.values())


def test_two_nodes_times_two_processes_set_node_rank(toy, cli):
    block = (
        "    distribution:\n      type: pytorch\n      process_count_per_instance: 2\n"
        "    resources:\n      instance_count: 2\n"
    )
    result = cli("run", _with(toy, block), "--no-mlflow")
    assert result.code == 0, result.err
    ranks = _ranks(toy)
    assert sorted(ranks) == ["0", "1", "2", "3"]
    assert [(ranks[r]["NODE_RANK"], ranks[r]["LOCAL_RANK"]) for r in "0123"] == [
        ("0", "0"),
        ("0", "1"),
        ("1", "0"),
        ("1", "1"),
    ]
    assert {ranks[r]["WORLD_SIZE"] for r in ranks} == {"4"}


def test_mpi_sets_open_mpi_variables(toy, cli):
    block = "    distribution:\n      type: mpi\n      process_count_per_instance: 2\n"
    result = cli("run", _with(toy, block), "--no-mlflow")
    assert result.code == 0, result.err
    ranks = _ranks(toy)
    assert sorted(ranks) == ["0", "1"]
    assert ranks["1"]["OMPI_COMM_WORLD_SIZE"] == "2" and ranks["1"]["OMPI_COMM_WORLD_LOCAL_RANK"] == "1"


def test_tensorflow_sets_tf_config_per_worker_and_parameter_server(toy, cli):
    block = (
        "    distribution:\n      type: tensorflow\n      worker_count: 2\n      parameter_server_count: 1\n"
    )
    yml = _with(toy, block)
    result = cli("run", yml, "--no-mlflow")
    assert result.code == 0, result.err
    out = Path(toy.record()["steps"]["ranks"]["outputs"]["out"])
    configs = [json.loads(json.loads(p.read_text())["TF_CONFIG"]) for p in out.glob("rank-*.json")]
    # every process writes rank-node0 (one node): check the launcher's overlays instead
    assert configs and len(configs[0]["cluster"]["worker"]) == 2 and len(configs[0]["cluster"]["ps"]) == 1
    envs = launch.process_envs(
        launch.layout_of("tensorflow", 1, 1, {"worker_count": 2, "parameter_server_count": 1})
    )
    tasks = [json.loads(e["TF_CONFIG"])["task"] for e in envs]
    assert tasks == [
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
        {"type": "ps", "index": 0},
    ]


@pytest.mark.parametrize(
    ("distribution", "nodes", "per_node", "expected"),
    [(None, 2, 1, 2), ("pytorch", 3, 2, 6), ("mpi", 1, 4, 4)],
)
def test_process_count_is_nodes_times_processes(distribution, nodes, per_node, expected):
    layout = launch.layout_of(distribution, nodes, per_node)
    envs = launch.process_envs(layout, port=29500)
    assert layout.processes == expected == len(envs)
    assert [e["NODE_RANK"] for e in envs] == [str(i // per_node) for i in range(expected)]
