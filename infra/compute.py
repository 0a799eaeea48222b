"""The AmlCompute clusters: GPU for training, CPU for the light steps; both scale to zero.

Every cluster: minimum 0 nodes, idle scale-down, no SSH port, no local (key) auth, a system-assigned
identity (its data access is granted in access.py), and no public IP on nodes when the workspace
has a managed virtual network (without one Azure ML needs node public IPs to reach the cluster).
"""

from __future__ import annotations

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import resources

from .config import ClusterConfig, StackConfig


def create_cluster(
    cfg: StackConfig, cluster: ClusterConfig, rg: resources.ResourceGroup, workspace: ml.Workspace
) -> ml.Compute:
    return ml.Compute(
        cluster.name,
        compute_name=cluster.name,
        resource_group_name=rg.name,
        workspace_name=workspace.name,
        location=cfg.location,
        identity=ml.ManagedServiceIdentityArgs(type=ml.ManagedServiceIdentityType.SYSTEM_ASSIGNED),
        properties=ml.AmlComputeArgs(
            compute_type="AmlCompute",
            description=f"ctloop {cluster.kind} cluster ({cfg.environment})",
            disable_local_auth=True,
            properties=ml.AmlComputePropertiesArgs(
                vm_size=cluster.vm_size,
                vm_priority=cluster.priority,
                os_type=ml.OsType.LINUX,
                scale_settings=ml.ScaleSettingsArgs(
                    min_node_count=cluster.min_nodes,
                    max_node_count=cluster.max_nodes,
                    node_idle_time_before_scale_down=cluster.idle_time,
                ),
                remote_login_port_public_access=ml.RemoteLoginPortPublicAccess.DISABLED,
                enable_node_public_ip=not cfg.isolated,
            ),
        ),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=workspace),
    )


def create(cfg: StackConfig, rg: resources.ResourceGroup, workspace: ml.Workspace) -> dict[str, ml.Compute]:
    """Both clusters, keyed by kind (``gpu``, ``cpu``)."""
    return {c.kind: create_cluster(cfg, c, rg, workspace) for c in cfg.clusters}
