"""Role assignments, least privilege, one scope each.

- The workspace's system identity gets nothing from ctloop: Azure ML assigns its roles itself when it
  creates the workspace (``roles.GRANTED_BY_AZURE_ML_TO_WORKSPACE``); assigning them again makes the
  first ``pulumi up`` fail with RoleAssignmentExists.
- Cluster identities read and write data (identity-based datastores), pull images, read secrets, and
  hold AzureML Data Scientist on the workspace so the pipeline's deploy step can create deployments
  and move traffic from inside a job (it cannot create compute or change the workspace).
- The environment's CI principal (``ctloop:ci_principal``) and optional people
  (``ctloop:data_access_principals``) get blob data access for identity-based uploads of code and
  data, and AzureML Data Scientist on the workspace.

Assignment names are GUIDs derived from (stack, principal, role, scope), so they are stable across
runs and a re-run never creates duplicates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
from pulumi_azure_native import authorization

from . import roles
from .config import StackConfig

_NAMESPACE = uuid.UUID("6f1c9a4e-2b7d-4e0a-9a53-3c1d2f7e8b10")


@dataclass(frozen=True)
class Grant:
    """One principal to receive roles: a logical name and its principal id."""

    key: str
    principal_id: pulumi.Input[str]
    principal_type: str = "ServicePrincipal"


@dataclass(frozen=True)
class Target:
    """One scope to grant on: a logical name, its resource id and the role to grant there."""

    key: str
    scope: pulumi.Input[str]
    role: str


def assignment_name(stack: str, principal_key: str, role: str, scope_key: str) -> str:
    """A deterministic GUID for one (principal, role, scope) assignment in one stack."""
    return str(uuid.uuid5(_NAMESPACE, f"ctloop/{stack}/{principal_key}/{role}/{scope_key}"))


def assign(
    cfg: StackConfig, subscription_id: pulumi.Input[str], grants: list[Grant], targets: list[Target]
) -> list[authorization.RoleAssignment]:
    """Every grant receives every target's role on that target's scope."""
    created = []
    for g in grants:
        for t in targets:
            name = assignment_name(cfg.stack, g.key, t.role, t.key)
            created.append(
                authorization.RoleAssignment(
                    f"{g.key}-{roles.NAMES[t.role].lower().replace(' ', '-')}-{t.key}",
                    role_assignment_name=name,
                    principal_id=g.principal_id,
                    principal_type=g.principal_type,
                    role_definition_id=pulumi.Output.from_input(subscription_id).apply(
                        lambda sub, role=t.role: roles.definition_id(sub, role)
                    ),
                    scope=t.scope,
                    description=f"ctloop {cfg.environment}: {roles.NAMES[t.role]} for {g.key}",
                )
            )
    return created


def identity_principal(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """The system-assigned identity's principal id of a workspace or compute."""
    return resource.identity.apply(lambda i: i.principal_id)  # type: ignore[attr-defined]


def create(
    cfg: StackConfig,
    subscription_id: pulumi.Input[str],
    *,
    workspace: pulumi.CustomResource,
    clusters: dict[str, pulumi.CustomResource],
    storage_account: pulumi.CustomResource,
    registry: pulumi.CustomResource,
    key_vault: pulumi.CustomResource,
) -> list[authorization.RoleAssignment]:
    """All role assignments of one stack (none for the workspace identity: Azure ML makes those)."""
    identities = [Grant(f"{kind}-cluster", identity_principal(cluster)) for kind, cluster in clusters.items()]
    data_plane = [
        Target("storage", storage_account.id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
        Target("registry", registry.id, roles.ACR_PULL),
        Target("keyvault", key_vault.id, roles.KEY_VAULT_SECRETS_USER),
        Target("workspace", workspace.id, roles.AZUREML_DATA_SCIENTIST),
    ]
    people = [
        Grant(f"principal-{p.object_id}", p.object_id, p.principal_type) for p in cfg.data_access_principals
    ]
    if cfg.ci_principal:
        people.insert(0, Grant("ci", cfg.ci_principal, "ServicePrincipal"))
    people_targets = [
        Target("storage", storage_account.id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
        Target("workspace", workspace.id, roles.AZUREML_DATA_SCIENTIST),
    ]
    return assign(cfg, subscription_id, identities, data_plane) + assign(
        cfg, subscription_id, people, people_targets
    )
