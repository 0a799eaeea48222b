"""Log Analytics workspace and the workspace-based Application Insights component."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import applicationinsights, operationalinsights, resources

from .config import StackConfig
from .naming import Names


@dataclass(frozen=True)
class Monitoring:
    logs: operationalinsights.Workspace
    app_insights: applicationinsights.Component


def create(cfg: StackConfig, names: Names, rg: resources.ResourceGroup) -> Monitoring:
    opts = pulumi.ResourceOptions(parent=rg)
    logs = operationalinsights.Workspace(
        "log-analytics",
        workspace_name=names.log_analytics,
        resource_group_name=rg.name,
        location=cfg.location,
        sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
        retention_in_days=cfg.log_retention_days,
        tags=cfg.tags,
        opts=opts,
    )
    app_insights = applicationinsights.Component(
        "app-insights",
        resource_name_=names.app_insights,
        resource_group_name=rg.name,
        location=cfg.location,
        kind="web",
        application_type="web",
        ingestion_mode="LogAnalytics",
        workspace_resource_id=logs.id,
        tags=cfg.tags,
        opts=opts,
    )
    return Monitoring(logs=logs, app_insights=app_insights)
