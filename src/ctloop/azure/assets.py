"""Register this repository's environments and components in the workspace at their declared versions.

Azure ML versions are immutable, so each asset is registered with the tag ``ctloop.content_hash``
(the same hash as ``components/versions.lock``). For each one, in order (environments first):

- the version does not exist: it is created;
- it exists with the same hash: it is skipped;
- it exists with another hash, or without one: nothing at all is created and the command fails,
  naming every such asset (bump its version).

Content that does not match the lock is refused too: ``ctloop validate`` must pass first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ctloop.gitops import versions

CONTENT_TAG = "ctloop.content_hash"


class AssetConflictError(RuntimeError):
    """Some declared versions cannot be registered; ``problems`` lists one line per asset."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Asset:
    kind: str  # "environment" or "component"
    path: Path
    entry: versions.Entry

    @property
    def ref(self) -> str:
        return f"azureml:{self.entry.name}:{self.entry.version}"


@dataclass(frozen=True)
class Action:
    asset: Asset
    action: str  # "create" | "unchanged"


def local_assets(root: Path) -> list[Asset]:
    """Environments then components declared under ``root``, with their content hashes."""
    found = [Asset(e.kind, p, e) for p, e in versions.current_entries(root)]
    return sorted(found, key=lambda a: (a.kind != "environment", a.entry.name))


def _existing(client: Any, asset: Asset) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    ops = client.environments if asset.kind == "environment" else client.components
    try:
        return ops.get(name=asset.entry.name, version=asset.entry.version)
    except ResourceNotFoundError:
        return None


def plan(client: Any, root: Path) -> list[Action]:
    """What registration would do; AssetConflictError when any asset cannot be registered as is."""
    lock = versions.read_lock(root / versions.LOCK_PATH)
    problems: list[str] = []
    actions: list[Action] = []
    for asset in local_assets(root):
        reason = versions.lock_problem(asset.entry, lock)
        if reason:
            problems.append(f"{asset.path.relative_to(root)}: {reason}")
            continue
        existing = _existing(client, asset)
        if existing is None:
            actions.append(Action(asset, "create"))
            continue
        remote = (getattr(existing, "tags", None) or {}).get(CONTENT_TAG)
        if remote == asset.entry.digest:
            actions.append(Action(asset, "unchanged"))
        else:
            what = (
                "without a ctloop content hash"
                if remote is None
                else f"with different content ({remote[:19]}...)"
            )
            problems.append(
                f"{asset.path.relative_to(root)}: {asset.kind} {asset.entry.ref} already exists in the "
                f"workspace {what}: bump its version (Azure ML versions are immutable)"
            )
    if problems:
        raise AssetConflictError(problems)
    return actions


def _load(asset: Asset) -> Any:
    from azure.ai.ml import load_component, load_environment

    from ctloop.gitops.azureml_load import quiet_sdk

    with quiet_sdk():
        entity = (load_environment if asset.kind == "environment" else load_component)(str(asset.path))
    entity.tags = {**(entity.tags or {}), CONTENT_TAG: asset.entry.digest}
    return entity


def register_assets(client: Any, root: Path, out: TextIO = sys.stdout, dry_run: bool = False) -> list[Action]:
    """Create every missing environment and component version (environments first)."""
    actions = plan(client, root)
    for act in actions:
        a = act.asset
        if act.action == "unchanged":
            print(f"  {a.kind} {a.entry.ref}: exists with the same content, skipped", file=out)
            continue
        if dry_run:
            print(f"  {a.kind} {a.entry.ref}: would be created", file=out)
            continue
        ops = client.environments if a.kind == "environment" else client.components
        ops.create_or_update(_load(a))
        print(f"  {a.kind} {a.entry.ref}: created", file=out)
    return actions


def register_command(root: Path, stack: str, dry_run: bool = False) -> int:
    """``ctloop components register``: exit 0, or 2 with one line per problem."""
    from ctloop.azure.workspace import AzureSetupError, ml_client

    try:
        client = ml_client(root, stack)
        print(f"registering environments and components in stack {stack!r}:")
        register_assets(client, root, dry_run=dry_run)
    except AzureSetupError as exc:
        print(f"components register: {exc}", file=sys.stderr)
        return 2
    except (AssetConflictError, versions.LockError) as exc:
        for line in getattr(exc, "problems", [str(exc)]):
            print(f"components register: {line}", file=sys.stderr)
        return 2
    return 0
