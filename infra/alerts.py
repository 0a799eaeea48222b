"""Alerting on the online endpoint: an action group (e-mail), a metric alert on p99 latency and a
log alert on the error rate, thresholds from the stack config.

Why the error rate is a log alert: Azure Monitor metric alerts compare one metric with a static
threshold and cannot divide two series, and the endpoint publishes request counts
(``RequestsPerMinute`` by status class), not a rate. The endpoint's traffic log
(``AmlOnlineEndpointTrafficLog``, sent to Log Analytics by a diagnostic setting created here) has
one row per request, so a scheduled query computes errors / requests over the window. Errors are
5xx answers and 424 (the scoring container failed); client errors (other 4xx) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import machinelearningservices as ml
from pulumi_azure_native import monitor, operationalinsights, resources

from .config import StackConfig
from .naming import Names

ENDPOINT_TYPE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
LATENCY_METRIC = "RequestLatency_P99"
TRAFFIC_LOG = "AmlOnlineEndpointTrafficLog"
ERROR_RATE_COLUMN = "ErrorRatePercent"


@dataclass(frozen=True)
class Alerts:
    action_group: monitor.ActionGroup
    diagnostics: monitor.DiagnosticSetting
    latency: monitor.MetricAlert
    error_rate: monitor.ScheduledQueryRule


def minutes(n: int) -> str:
    """ISO 8601 duration for ``n`` minutes (PT15M, PT1H, PT6H, P1D)."""
    if n % 1440 == 0:
        return f"P{n // 1440}D"
    if n % 60 == 0:
        return f"PT{n // 60}H"
    return f"PT{n}M"


def error_rate_query(endpoint_name: str, min_requests: int) -> str:
    """KQL over the endpoint's traffic log: one row with the error percentage when traffic is enough."""
    return "\n".join(
        [
            TRAFFIC_LOG,
            f'| where EndpointName == "{endpoint_name}"',
            "| extend Code = toint(ResponseCode)",
            "| summarize Requests = count(), Errors = countif(Code >= 500 or Code == 424)",
            f"| where Requests >= {min_requests}",
            f"| extend {ERROR_RATE_COLUMN} = 100.0 * Errors / Requests",
        ]
    )


def create(
    cfg: StackConfig,
    names: Names,
    rg: resources.ResourceGroup,
    endpoint: ml.OnlineEndpoint,
    logs: operationalinsights.Workspace,
) -> Alerts:
    a = cfg.alerts
    opts = pulumi.ResourceOptions(parent=rg)
    group = monitor.ActionGroup(
        "action-group",
        action_group_name=names.action_group,
        group_short_name=names.action_group_short,
        resource_group_name=rg.name,
        location="Global",
        enabled=True,
        email_receivers=[
            monitor.MicrosoftCommonEmailReceiverArgs(
                name=f"email-{i}", email_address=address, use_common_alert_schema=True
            )
            for i, address in enumerate(a.emails)
        ],
        tags=cfg.tags,
        opts=opts,
    )
    diagnostics = monitor.DiagnosticSetting(
        "endpoint-diagnostics",
        name=names.endpoint_diagnostics,
        resource_uri=endpoint.id,
        workspace_id=logs.id,
        logs=[monitor.DiagnosticsLogSettingsArgs(category=TRAFFIC_LOG, enabled=True)],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )
    latency = monitor.MetricAlert(
        "endpoint-p99-latency",
        rule_name=names.latency_alert,
        resource_group_name=rg.name,
        location="global",
        description=f"p99 request latency of the {cfg.environment} endpoint is over {a.p99_latency_ms:g} ms",
        severity=a.severity,
        enabled=True,
        auto_mitigate=True,
        scopes=[endpoint.id],
        target_resource_type=ENDPOINT_TYPE,
        target_resource_region=cfg.location,
        evaluation_frequency=minutes(a.frequency_minutes),
        window_size=minutes(a.window_minutes),
        criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
            odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
            all_of=[
                monitor.MetricCriteriaArgs(
                    criterion_type="StaticThresholdCriterion",
                    name="p99-latency",
                    metric_name=LATENCY_METRIC,
                    metric_namespace=ENDPOINT_TYPE,
                    operator="GreaterThan",
                    threshold=a.p99_latency_ms,
                    time_aggregation="Average",
                )
            ],
        ),
        actions=[monitor.MetricAlertActionArgs(action_group_id=group.id)],
        tags=cfg.tags,
        opts=opts,
    )
    error_rate = monitor.ScheduledQueryRule(
        "endpoint-error-rate",
        rule_name=names.error_rate_alert,
        resource_group_name=rg.name,
        location=cfg.location,
        kind="LogAlert",
        description=f"error rate of the {cfg.environment} endpoint is over {a.error_rate_percent:g}%",
        display_name=names.error_rate_alert,
        severity=a.severity,
        enabled=True,
        auto_mitigate=True,
        scopes=[logs.id],
        evaluation_frequency=minutes(a.frequency_minutes),
        window_size=minutes(a.window_minutes),
        criteria=monitor.ScheduledQueryRuleCriteriaArgs(
            all_of=[
                monitor.ConditionArgs(
                    query=endpoint.name.apply(lambda n: error_rate_query(n, a.error_rate_min_requests)),
                    time_aggregation="Maximum",
                    metric_measure_column=ERROR_RATE_COLUMN,
                    operator="GreaterThan",
                    threshold=a.error_rate_percent,
                    failing_periods=monitor.ConditionFailingPeriodsArgs(
                        number_of_evaluation_periods=1, min_failing_periods_to_alert=1
                    ),
                )
            ]
        ),
        actions=monitor.ActionsArgs(action_groups=[group.id]),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg, depends_on=[diagnostics]),
    )
    return Alerts(action_group=group, diagnostics=diagnostics, latency=latency, error_rate=error_rate)
