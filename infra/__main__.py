"""The ctloop Pulumi program: reads the stack config and composes one module per concern.

Run by the Pulumi CLI (``Pulumi.yaml``: ``main: infra/``); ``make preview`` / ``make up STACK=...``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import pulumi  # noqa: E402
from pulumi_azure_native import authorization  # noqa: E402

from infra import (  # noqa: E402
    access,
    alerts,
    budget,
    compute,
    config,
    keyvault,
    monitoring,
    naming,
    network,
    outputs,
    registry,
    resource_group,
    storage,
    workspace,
)

cfg = config.from_pulumi(_ROOT)
client = authorization.get_client_config()
names = naming.derive(
    cfg.prefix,
    cfg.environment,
    seed=f"{client.subscription_id}/{cfg.resource_group_name}",
    endpoint=cfg.endpoint_name,
)

rg = resource_group.create(cfg, names)
account = storage.create(cfg, names, rg)
vault = keyvault.create(cfg, names, rg, client.tenant_id)
acr = registry.create(cfg, names, rg)
mon = monitoring.create(cfg, names, rg)
ws = workspace.create(cfg, names, rg, workspace.Dependencies(account, vault, acr, mon))
endpoint = workspace.create_endpoint(cfg, names, rg, ws)
clusters = compute.create(cfg, rg, ws)
network.create(cfg, rg, {"workspace": ws.id, "storage": account.id, "keyvault": vault.id, "registry": acr.id})
access.create(
    cfg,
    client.subscription_id,
    workspace=ws,
    clusters=clusters,
    storage_account=account,
    registry=acr,
    key_vault=vault,
)
alerts.create(cfg, names, rg, endpoint, mon.logs)
budget.create(cfg, names, rg, today=datetime.now(UTC).date())

outputs.export(
    outputs.collect(
        cfg,
        names,
        subscription_id=client.subscription_id,
        tenant_id=client.tenant_id,
        resource_group=rg,
        workspace=ws,
        clusters=clusters,
        endpoint=endpoint,
        storage_account=account,
        registry=acr,
        key_vault=vault,
        logs=mon.logs,
        app_insights=mon.app_insights,
    )
)
pulumi.log.info(
    f"ctloop stack {cfg.stack} ({cfg.environment}) in {cfg.location}: workspace {names.workspace}"
)
