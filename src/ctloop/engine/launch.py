"""How many processes a step runs and the environment each one gets, as Azure ML sets it.

Azure ML runs a command job once per node (``resources.instance_count``) and, with a
``distribution``, ``process_count_per_instance`` processes on each node. Locally every "node" is
this machine; each process gets the variables the service's launcher would give it:

- every process: ``AZUREML_NODE_COUNT``, ``NODE_RANK``, ``AZUREML_PROCESS_COUNT_PER_INSTANCE``;
- pytorch: ``MASTER_ADDR``, ``MASTER_PORT``, ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
  ``LOCAL_WORLD_SIZE`` (what ``torch.distributed.init_process_group("env://")`` reads);
- mpi: ``OMPI_COMM_WORLD_RANK``/``_SIZE``/``_LOCAL_RANK``/``_LOCAL_SIZE``/``_NODE_RANK``,
  ``AZ_BATCHAI_MPI_MASTER_NODE`` and ``AZ_BATCH_MASTER_NODE`` (no mpirun needed);
- tensorflow: ``TF_CONFIG`` (cluster of ``worker_count`` workers and ``parameter_server_count``
  parameter servers, the task's type and index).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DISTRIBUTIONS = ("pytorch", "mpi", "tensorflow")
MASTER_ADDR = "127.0.0.1"


@dataclass(frozen=True)
class Layout:
    """Nodes, processes per node and the distribution type (None: a plain command per node)."""

    nodes: int = 1
    per_node: int = 1
    distribution: str | None = None
    workers: int | None = None  # tensorflow worker_count
    parameter_servers: int = 0  # tensorflow parameter_server_count

    @property
    def processes(self) -> int:
        if self.distribution == "tensorflow":
            return (self.workers or self.nodes) + self.parameter_servers
        return self.nodes * self.per_node

    def describe(self) -> dict[str, Any]:
        return {"nodes": self.nodes, "per_node": self.per_node, "distribution": self.distribution}


def free_port() -> int:
    """A TCP port free on this machine now (for the rendezvous of one step's processes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((MASTER_ADDR, 0))
        return int(sock.getsockname()[1])


def process_envs(layout: Layout, port: int | None = None) -> list[dict[str, str]]:
    """One environment overlay per process, in rank order."""
    if layout.distribution == "tensorflow":
        return _tensorflow(layout, port)
    port = port if port is not None else free_port()
    world = layout.nodes * layout.per_node
    envs = []
    for node in range(layout.nodes):
        for local in range(layout.per_node):
            rank = node * layout.per_node + local
            env = _common(layout, node)
            if layout.distribution == "pytorch":
                env.update(
                    MASTER_ADDR=MASTER_ADDR,
                    MASTER_PORT=str(port),
                    WORLD_SIZE=str(world),
                    RANK=str(rank),
                    LOCAL_RANK=str(local),
                    LOCAL_WORLD_SIZE=str(layout.per_node),
                    GROUP_RANK=str(node),
                )
            elif layout.distribution == "mpi":
                env.update(
                    OMPI_COMM_WORLD_RANK=str(rank),
                    OMPI_COMM_WORLD_SIZE=str(world),
                    OMPI_COMM_WORLD_LOCAL_RANK=str(local),
                    OMPI_COMM_WORLD_LOCAL_SIZE=str(layout.per_node),
                    OMPI_COMM_WORLD_NODE_RANK=str(node),
                    AZ_BATCHAI_MPI_MASTER_NODE=MASTER_ADDR,
                    AZ_BATCH_MASTER_NODE=f"{MASTER_ADDR}:{port}",
                )
            envs.append(env)
    return envs


def _common(layout: Layout, node: int) -> dict[str, str]:
    return {
        "AZUREML_NODE_COUNT": str(layout.nodes),
        "NODE_RANK": str(node),
        "AZUREML_PROCESS_COUNT_PER_INSTANCE": str(layout.per_node),
    }


def _tensorflow(layout: Layout, port: int | None) -> list[dict[str, str]]:
    workers = layout.workers or layout.nodes
    roles = [("worker", i) for i in range(workers)] + [("ps", i) for i in range(layout.parameter_servers)]
    ports = [free_port() for _ in roles] if port is None else [port + i for i in range(len(roles))]
    cluster: dict[str, list[str]] = {"worker": []}
    if layout.parameter_servers:
        cluster["ps"] = []
    for (role, _), p in zip(roles, ports, strict=True):
        cluster[role].append(f"{MASTER_ADDR}:{p}")
    envs = []
    for i, (role, index) in enumerate(roles):
        env = _common(layout, min(i, layout.nodes - 1))
        env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": role, "index": index}})
        envs.append(env)
    return envs


def layout_of(
    distribution: str | None, nodes: int, per_node: int | None, extra: Mapping[str, Any] | None = None
) -> Layout:
    """The layout for a job's settings (``extra``: tensorflow worker/parameter-server counts)."""
    extra = extra or {}
    if distribution is None:
        return Layout(nodes=nodes, per_node=1)
    workers = extra.get("worker_count")
    return Layout(
        nodes=nodes,
        per_node=per_node or 1,
        distribution=distribution,
        workers=int(workers) if workers else None,
        parameter_servers=int(extra.get("parameter_server_count") or 0),
    )
