"""A pytorch-distributed component runs under torchrun: each process sees its rank like on Azure ML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctloop.engine.spec import load_pipeline
from ctloop.engine.step import _processes

pytest.importorskip("torch")
pytestmark = pytest.mark.torch


def test_two_processes_each_get_rank_and_rendezvous(toy, cli):
    result = cli("run", toy.pipeline("distributed"), "--no-mlflow")
    assert result.code == 0, result.err
    step = toy.record()["steps"]["ranks"]
    assert step["processes"] == 2
    out = Path(step["outputs"]["out"])
    ranks = {p.name: json.loads(p.read_text()) for p in out.glob("rank-*.json")}
    assert sorted(ranks) == ["rank-0.json", "rank-1.json"]
    for rank, env in enumerate(ranks[f"rank-{i}.json"] for i in range(2)):
        assert env["RANK"] == str(rank) and env["LOCAL_RANK"] == str(rank)
        assert env["WORLD_SIZE"] == "2" and env["MASTER_ADDR"] and env["MASTER_PORT"]
        assert env["CTLOOP_STEP"] == "ranks"
    assert ranks["rank-0.json"]["MASTER_PORT"] == ranks["rank-1.json"]["MASTER_PORT"]


def test_instance_count_is_simulated_on_one_node(toy):
    yml = toy.pipeline("distributed")
    yml.write_text(
        yml.read_text().replace(
            "process_count_per_instance: ${{parent.inputs.procs}}",
            "process_count_per_instance: ${{parent.inputs.procs}}\n    resources:\n      instance_count: 3",
        )
    )
    spec = load_pipeline(yml)
    ctx = type("Ctx", (), {"spec": spec})()
    assert _processes(ctx, spec.jobs["ranks"]) == 6  # 2 per instance x 3 instances, one local node
