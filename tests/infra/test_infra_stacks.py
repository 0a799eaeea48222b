"""The real Pulumi program, run under mocks for dev, staging and prod: every resource exists with the
properties the stack config asks for (scale 0..N, priority, TLS, public access, RBAC scopes, tags, names)."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from infra_mocks import SUBSCRIPTION_ID, TENANT_ID, StackRun, pulumi_config, run_stack

from infra import naming, outputs, roles
from infra.alerts import ERROR_RATE_COLUMN, LATENCY_METRIC, TRAFFIC_LOG
from infra.config import StackConfig, StackConfigError, load_stack_config

STACKS = ("dev", "staging", "prod")

RG = "azure-native:resources:ResourceGroup"
STORAGE = "azure-native:storage:StorageAccount"
VAULT = "azure-native:keyvault:Vault"
ACR = "azure-native:containerregistry:Registry"
LOGS = "azure-native:operationalinsights:Workspace"
APPI = "azure-native:applicationinsights:Component"
WS = "azure-native:machinelearningservices:Workspace"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
COMPUTE = "azure-native:machinelearningservices:Compute"
ROLE = "azure-native:authorization:RoleAssignment"
GROUP = "azure-native:monitor:ActionGroup"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
LOG_ALERT = "azure-native:monitor:ScheduledQueryRule"
DIAG = "azure-native:monitor:DiagnosticSetting"
BUDGET = "azure-native:consumption:Budget"
BLOB = "azure-native:storage:BlobServiceProperties"
VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
PE = "azure-native:network:PrivateEndpoint"
PE_DNS = "azure-native:network:PrivateDnsZoneGroup"
ZONE = "azure-native:privatedns:PrivateZone"
ZONE_LINK = "azure-native:privatedns:VirtualNetworkLink"

EXPECTED_COUNTS = {
    RG: 1,
    STORAGE: 1,
    VAULT: 1,
    ACR: 1,
    LOGS: 1,
    APPI: 1,
    WS: 1,
    ENDPOINT: 1,
    COMPUTE: 2,
    ROLE: 8,  # 2 cluster identities x 4 scopes (storage, registry, vault, workspace); none for the workspace
    GROUP: 1,
    METRIC_ALERT: 1,
    LOG_ALERT: 1,
    DIAG: 1,
    BUDGET: 1,
    BLOB: 1,
}
# private network mode adds a VNet, two subnets, 5 private endpoints (workspace, blob, file, vault,
# registry) with their DNS zone groups, and 6 private DNS zones each linked to the VNet
PRIVATE_COUNTS = {VNET: 1, SUBNET: 2, PE: 5, PE_DNS: 5, ZONE: 6, ZONE_LINK: 6}

NAME_KIND = {
    RG: "resource_group",
    STORAGE: "storage_account",
    VAULT: "key_vault",
    ACR: "container_registry",
    LOGS: "log_analytics",
    APPI: "app_insights",
    WS: "workspace",
    ENDPOINT: "endpoint",
    COMPUTE: "compute",
    GROUP: "action_group",
    METRIC_ALERT: "alert_rule",
    LOG_ALERT: "alert_rule",
    DIAG: "diagnostic_setting",
    BUDGET: "budget",
}


@pytest.fixture(params=STACKS)
def run(request, stack_run) -> StackRun:
    return stack_run(request.param)


@pytest.fixture()
def cfg(run, repo_root) -> StackConfig:
    return load_stack_config(run.stack, repo_root)


def test_every_resource_is_created_once_per_kind(run, cfg):
    counts = {t: len(run.of_type(t)) for t in {r.type for r in run.resources}}
    assert counts == {**EXPECTED_COUNTS, **(PRIVATE_COUNTS if cfg.network.private else {})}


def test_every_azure_name_respects_its_length_and_charset_rule(run):
    for r in run.resources:
        if r.type in NAME_KIND:
            assert naming.RULES[NAME_KIND[r.type]].violation(r.state["name"]) is None, (
                r.type,
                r.state["name"],
            )
    storage = run.one(STORAGE).state["name"]
    assert len(storage) <= 24 and re.fullmatch("[a-z0-9]+", storage)
    assert len(run.one(VAULT).state["name"]) <= 24


def test_every_tracked_resource_carries_the_required_tags(run, cfg):
    tracked = [r for r in run.resources if "location" in r.inputs]
    untracked = {BUDGET, ROLE, DIAG, BLOB, SUBNET, PE_DNS}  # no location, no tags in ARM
    assert len(tracked) == len([r for r in run.resources if r.type not in untracked])
    for r in tracked:
        tags = r.inputs["tags"]
        assert (tags["env"], tags["owner"], tags["cost-center"]) == (
            cfg.environment,
            cfg.owner,
            cfg.cost_center,
        )


def test_everything_is_in_the_stack_region_and_resource_group(run, cfg):
    rg = run.one(RG)
    assert rg.inputs["resourceGroupName"] == f"rg-ctloop-{cfg.environment}"
    for r in run.resources:
        if r.type in (GROUP, METRIC_ALERT, ZONE, ZONE_LINK):
            assert r.inputs["location"].lower() == "global"
        elif "location" in r.inputs:
            assert r.inputs["location"] == cfg.location, r.type
        if "resourceGroupName" in r.inputs:
            assert r.inputs["resourceGroupName"] == rg.state["name"], r.type


def test_storage_account_is_locked_down(run, cfg):
    s = run.one(STORAGE).inputs
    assert s["kind"] == "StorageV2"
    assert s["sku"] == {"name": cfg.storage_sku}
    assert s["minimumTlsVersion"] == "TLS1_2"
    assert s["enableHttpsTrafficOnly"] is True
    assert s["allowBlobPublicAccess"] is False
    assert s["allowSharedKeyAccess"] is False
    assert s["isHnsEnabled"] is False
    assert s["publicNetworkAccess"] == cfg.public_network_access
    rules = s["networkRuleSet"]
    assert (rules["defaultAction"], rules["bypass"]) == ("Deny", "AzureServices")
    expected = [] if cfg.network.private else [r.cidr for r in cfg.network.allowed_ip_ranges]
    assert [r["iPAddressOrRange"] for r in rules.get("ipRules", [])] == expected
    blob = run.one(BLOB).inputs
    assert blob["accountName"] == run.one(STORAGE).state["name"]
    for policy in (blob["deleteRetentionPolicy"], blob["containerDeleteRetentionPolicy"]):
        assert policy == {"enabled": True, "days": cfg.storage_soft_delete_days}


def test_key_vault_uses_rbac_soft_delete_and_purge_protection_per_stack(run, cfg):
    props = run.one(VAULT).inputs["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == cfg.key_vault.soft_delete_retention_days
    assert props.get("enablePurgeProtection") is (True if cfg.key_vault.purge_protection else None)
    assert props["tenantId"] == TENANT_ID
    assert "accessPolicies" not in props
    assert props["publicNetworkAccess"] == cfg.public_network_access
    expected = [] if cfg.network.private else [{"value": r.cidr} for r in cfg.network.allowed_ip_ranges]
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": expected}


def test_purge_protection_is_on_in_prod(stack_run):
    assert stack_run("prod").one(VAULT).inputs["properties"]["enablePurgeProtection"] is True


def test_container_registry_has_no_admin_user(run, cfg):
    acr = run.one(ACR).inputs
    assert acr["adminUserEnabled"] is False
    assert acr["anonymousPullEnabled"] is False
    assert acr["sku"] == {"name": cfg.registry_sku}
    assert acr["publicNetworkAccess"] == cfg.public_network_access
    assert acr["networkRuleSet"]["defaultAction"] == "Deny"
    assert (acr["zoneRedundancy"], acr["dataEndpointEnabled"]) == ("Enabled", True)
    assert acr["policies"]["retentionPolicy"] == {"days": cfg.registry_retention_days, "status": "enabled"}


def test_application_insights_is_workspace_based(run, cfg):
    logs = run.one(LOGS)
    assert logs.inputs["retentionInDays"] == cfg.log_retention_days
    appi = run.one(APPI).inputs
    assert appi["workspaceResourceId"] == logs.id
    assert appi["ingestionMode"] == "LogAnalytics"


def test_workspace_is_linked_and_has_a_system_identity(run, cfg):
    ws = run.one(WS).inputs
    assert ws["identity"] == {"type": "SystemAssigned"}
    assert ws["storageAccount"] == run.one(STORAGE).id
    assert ws["keyVault"] == run.one(VAULT).id
    assert ws["containerRegistry"] == run.one(ACR).id
    assert ws["applicationInsights"] == run.one(APPI).id
    assert ws["publicNetworkAccess"] == cfg.public_network_access
    assert ws["systemDatastoresAuthMode"] == "Identity"
    assert ws["hbiWorkspace"] is cfg.high_business_impact
    assert ws["managedNetwork"]["isolationMode"] == cfg.managed_network
    assert ws["imageBuildCompute"] == cfg.cpu_cluster.name  # the registry is behind a firewall


def test_clusters_scale_from_zero_with_ssh_and_local_auth_off(run, cfg):
    by_name = {r.inputs["computeName"]: r for r in run.of_type(COMPUTE)}
    assert set(by_name) == {"gpu-cluster", "cpu-cluster"}
    for cluster in cfg.clusters:
        r = by_name[cluster.name]
        assert r.inputs["workspaceName"] == run.one(WS).state["name"]
        assert r.inputs["identity"] == {"type": "SystemAssigned"}
        outer = r.inputs["properties"]
        assert outer["computeType"] == "AmlCompute"
        assert outer["disableLocalAuth"] is True
        inner = outer["properties"]
        assert inner["scaleSettings"] == {
            "minNodeCount": 0,
            "maxNodeCount": cluster.max_nodes,
            "nodeIdleTimeBeforeScaleDown": f"PT{cluster.idle_seconds}S",
        }
        assert inner["vmSize"] == cluster.vm_size
        assert inner["vmPriority"] == cluster.priority
        assert inner["remoteLoginPortPublicAccess"] == "Disabled"
        assert inner["enableNodePublicIp"] is (not cfg.isolated)


def test_gpu_scale_and_priority_per_stack(stack_run):
    def gpu(stack: str) -> dict:
        r = next(r for r in stack_run(stack).of_type(COMPUTE) if r.inputs["computeName"] == "gpu-cluster")
        return r.inputs["properties"]["properties"]

    assert [gpu(s)["scaleSettings"]["maxNodeCount"] for s in STACKS] == [2, 4, 8]
    assert [gpu(s)["vmPriority"] for s in STACKS] == ["LowPriority", "Dedicated", "Dedicated"]


def test_no_role_that_azure_ml_grants_the_workspace_identity_is_assigned_again(run):
    """Azure ML assigns its workspace identity's roles itself; a second assignment of the same
    (principal, role, scope) fails the first `pulumi up` with RoleAssignmentExists."""
    workspace_identity = run.one(WS).state["identity"]["principalId"]
    assert [r.inputs for r in run.of_type(ROLE) if r.inputs["principalId"] == workspace_identity] == []
    assert roles.STORAGE_BLOB_DATA_CONTRIBUTOR in roles.GRANTED_BY_AZURE_ML_TO_WORKSPACE


def test_cluster_identities_get_exactly_the_data_roles_and_the_deploy_role(run):
    principals = {r.inputs["computeName"]: r.state["identity"]["principalId"] for r in run.of_type(COMPUTE)}
    scopes = {
        run.one(STORAGE).id: roles.STORAGE_BLOB_DATA_CONTRIBUTOR,
        run.one(ACR).id: roles.ACR_PULL,
        run.one(VAULT).id: roles.KEY_VAULT_SECRETS_USER,
        run.one(WS).id: roles.AZUREML_DATA_SCIENTIST,  # the deploy step deploys from inside a job
    }
    expected = {(p, role, scope) for p in principals.values() for scope, role in scopes.items()}
    found = set()
    for r in run.of_type(ROLE):
        i = r.inputs
        prefix = f"/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Authorization/roleDefinitions/"
        assert i["roleDefinitionId"].startswith(prefix)
        assert i["principalType"] == "ServicePrincipal"
        found.add((i["principalId"], i["roleDefinitionId"].removeprefix(prefix), i["scope"]))
    assert found == expected
    names = [r.inputs["roleAssignmentName"] for r in run.of_type(ROLE)]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[0-9a-f-]{36}", n) for n in names)


def test_endpoint_exists_for_the_alerts_to_watch(run, cfg):
    ep = run.one(ENDPOINT).inputs
    assert ep["kind"] == "Managed"
    assert ep["workspaceName"] == run.one(WS).state["name"]
    assert ep["properties"]["authMode"] == cfg.endpoint_auth_mode
    assert ep["properties"]["publicNetworkAccess"] == cfg.public_network_access
    assert "traffic" not in ep["properties"]


def test_alerts_watch_the_endpoint_with_thresholds_from_config(run, cfg):
    endpoint, logs, group = run.one(ENDPOINT), run.one(LOGS), run.one(GROUP)
    assert [r["emailAddress"] for r in group.inputs["emailReceivers"]] == list(cfg.alerts.emails)
    assert len(group.inputs["groupShortName"]) <= 12

    latency = run.one(METRIC_ALERT).inputs
    assert latency["scopes"] == [endpoint.id]
    criterion = latency["criteria"]["allOf"][0]
    assert (criterion["metricName"], criterion["operator"]) == (LATENCY_METRIC, "GreaterThan")
    assert criterion["threshold"] == cfg.alerts.p99_latency_ms == 1000
    assert latency["windowSize"] == "PT15M" and latency["evaluationFrequency"] == "PT5M"
    assert latency["actions"] == [{"actionGroupId": group.id}]
    assert latency["severity"] == cfg.alerts.severity

    errors = run.one(LOG_ALERT).inputs
    assert errors["scopes"] == [logs.id]
    condition = errors["criteria"]["allOf"][0]
    assert condition["threshold"] == cfg.alerts.error_rate_percent == 2
    assert condition["metricMeasureColumn"] == ERROR_RATE_COLUMN
    assert f'EndpointName == "{endpoint.state["name"]}"' in condition["query"]
    assert f"Requests >= {cfg.alerts.error_rate_min_requests}" in condition["query"]
    assert errors["actions"] == {"actionGroups": [group.id]}

    diag = run.one(DIAG).inputs
    assert (diag["resourceUri"], diag["workspaceId"]) == (endpoint.id, logs.id)
    assert diag["logs"] == [{"category": TRAFFIC_LOG, "enabled": True}]


def test_budget_covers_the_resource_group_with_the_configured_thresholds(run, cfg):
    b = run.one(BUDGET).inputs
    assert b["scope"] == run.one(RG).id
    assert b["amount"] == cfg.budget.amount
    assert (b["category"], b["timeGrain"]) == ("Cost", "Monthly")
    start = date.fromisoformat(b["timePeriod"]["startDate"][:10])
    assert start.day == 1
    thresholds = sorted((n["threshold"], n["thresholdType"]) for n in b["notifications"].values())
    assert thresholds == sorted((n.percent, n.type) for n in cfg.budget.notifications)
    assert all(n["contactEmails"] == list(cfg.budget.emails) for n in b["notifications"].values())


def test_outputs_carry_what_azure_ai_ml_needs(run, cfg):
    out = run.outputs
    assert set(out) == set(outputs.KEYS)
    assert out["subscription_id"] == SUBSCRIPTION_ID
    assert out["resource_group"] == run.one(RG).state["name"]
    assert out["workspace_name"] == run.one(WS).state["name"]
    assert out["workspace_id"] == run.one(WS).id
    assert out["compute_names"] == cfg.compute_names == {"gpu": out["gpu_compute"], "cpu": out["cpu_compute"]}
    assert (out["location"], out["environment"]) == (cfg.location, cfg.environment)
    assert out["endpoint_name"] == run.one(ENDPOINT).state["name"]


def test_the_three_stacks_are_separate(stack_run):
    runs = [stack_run(s) for s in STACKS]
    groups = [r.one(RG).state["name"] for r in runs]
    assert len(set(groups)) == 3
    storage_names = [r.one(STORAGE).state["name"] for r in runs]
    assert len(set(storage_names)) == 3
    for r in runs:
        assert r.calls.count("azure-native:authorization:getClientConfig") == 1


def test_optional_people_and_endpoint_name(repo_root, stack_run):
    """People in data_access_principals get blob access and AzureML Data Scientist; endpoint.name
    replaces the derived endpoint name everywhere it is used."""
    config = pulumi_config("dev", repo_root)
    person = {"object_id": "11111111-2222-4333-8444-555555555555", "principal_type": "Group"}
    config["ctloop:data_access_principals"] = json.dumps([person])
    config["ctloop:endpoint"] = json.dumps({"name": "ctloop-rainfall", "auth_mode": "Key"})
    r = run_stack("dev", repo_root, config=config)
    endpoint = r.one(ENDPOINT)
    assert endpoint.state["name"] == r.outputs["endpoint_name"] == "ctloop-rainfall"
    assert r.one(METRIC_ALERT).inputs["scopes"] == [endpoint.id]
    assert 'EndpointName == "ctloop-rainfall"' in r.one(LOG_ALERT).inputs["criteria"]["allOf"][0]["query"]
    mine = [a.inputs for a in r.of_type(ROLE) if a.inputs["principalId"] == person["object_id"]]
    assert sorted((a["scope"], a["roleDefinitionId"].rsplit("/", 1)[1]) for a in mine) == sorted(
        [
            (r.one(STORAGE).id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR),
            (r.one(WS).id, roles.AZUREML_DATA_SCIENTIST),
        ]
    )
    assert all(a["principalType"] == "Group" for a in mine)
    # a second run of the same stack keeps every other assignment's name: re-runs create no duplicates
    others = sorted(a.inputs["roleAssignmentName"] for a in r.of_type(ROLE) if a.inputs not in mine)
    assert others == sorted(a.inputs["roleAssignmentName"] for a in stack_run("dev").of_type(ROLE))


def test_the_program_refuses_a_bad_config_before_creating_anything(repo_root):
    config = pulumi_config("dev", repo_root)
    gpu = json.loads(config["ctloop:gpu_cluster"])
    gpu["max_nodes"] = 12
    config["ctloop:gpu_cluster"] = json.dumps(gpu)
    with pytest.raises(
        StackConfigError, match=r"Pulumi\.dev\.yaml: ctloop:gpu_cluster\.max_nodes: 12 is outside"
    ):
        run_stack("dev", repo_root, config=config)


def test_ci_principal_gets_blob_data_access_for_uploads_and_the_workspace_role(repo_root):
    config = pulumi_config("staging", repo_root)
    ci = "22222222-3333-4444-8555-666666666666"
    config["ctloop:ci_principal"] = ci
    r = run_stack("staging", repo_root, config=config)
    mine = sorted(
        (a.inputs["scope"], a.inputs["roleDefinitionId"].rsplit("/", 1)[1], a.inputs["principalType"])
        for a in r.of_type(ROLE)
        if a.inputs["principalId"] == ci
    )
    assert mine == sorted(
        [
            (r.one(STORAGE).id, roles.STORAGE_BLOB_DATA_CONTRIBUTOR, "ServicePrincipal"),
            (r.one(WS).id, roles.AZUREML_DATA_SCIENTIST, "ServicePrincipal"),
        ]
    )


def test_public_mode_has_firewalls_and_no_private_network(stack_run):
    run = stack_run("staging")
    assert not run.of_type(VNET) and not run.of_type(PE) and not run.of_type(ZONE)
    assert run.one(WS).inputs["publicNetworkAccess"] == "Enabled"
    storage = run.one(STORAGE).inputs["networkRuleSet"]
    assert storage["defaultAction"] == "Deny"
    assert storage["ipRules"] == [
        {"iPAddressOrRange": "198.51.100.16/28", "action": "Allow"},
        {"iPAddressOrRange": "203.0.113.0/24", "action": "Allow"},
    ]
    acr = run.one(ACR).inputs["networkRuleSet"]
    assert [r["iPAddressOrRange"] for r in acr["ipRules"]] == ["198.51.100.16/28", "203.0.113.0/24"]


def test_private_mode_builds_vnet_private_endpoints_and_dns(stack_run, repo_root):
    run = stack_run("prod")
    cfg = load_stack_config("prod", repo_root)
    assert cfg.network.private
    for typ in (WS, STORAGE, VAULT, ACR):
        assert (
            run.one(typ).inputs.get(
                "publicNetworkAccess", run.one(typ).inputs.get("properties", {}).get("publicNetworkAccess")
            )
            == "Disabled"
        ), typ
    assert run.one(ENDPOINT).inputs["properties"]["publicNetworkAccess"] == "Disabled"
    vnet = run.one(VNET)
    assert vnet.inputs["addressSpace"]["addressPrefixes"] == [cfg.network.vnet.address_space]
    subnets = {s.inputs["subnetName"]: s.inputs for s in run.of_type(SUBNET)}
    assert subnets["snet-private-endpoints"]["addressPrefix"] == cfg.network.vnet.private_endpoints_subnet
    assert subnets["snet-ci-runner"]["addressPrefix"] == cfg.network.vnet.runner_subnet
    assert all(s["virtualNetworkName"] == vnet.state["name"] for s in subnets.values())
    # one endpoint per (target, group), each pointing at the real resource, each in the PE subnet
    pe_subnet = next(s for s in run.of_type(SUBNET) if s.inputs["subnetName"] == "snet-private-endpoints")
    targets = {
        (c["privateLinkServiceId"], c["groupIds"][0])
        for pe in run.of_type(PE)
        for c in pe.inputs["privateLinkServiceConnections"]
    }
    assert targets == {
        (run.one(WS).id, "amlworkspace"),
        (run.one(STORAGE).id, "blob"),
        (run.one(STORAGE).id, "file"),
        (run.one(VAULT).id, "vault"),
        (run.one(ACR).id, "registry"),
    }
    assert {pe.inputs["subnet"]["id"] for pe in run.of_type(PE)} == {pe_subnet.id}
    zones = {z.inputs["privateZoneName"]: z for z in run.of_type(ZONE)}
    assert set(zones) == {
        "privatelink.api.azureml.ms",
        "privatelink.notebooks.azure.net",
        "privatelink.blob.core.windows.net",
        "privatelink.file.core.windows.net",
        "privatelink.vaultcore.azure.net",
        "privatelink.azurecr.io",
    }
    linked = {link.inputs["privateZoneName"] for link in run.of_type(ZONE_LINK)}
    assert linked == set(zones)
    assert {link.inputs["virtualNetwork"]["id"] for link in run.of_type(ZONE_LINK)} == {vnet.id}
    used = {c["privateDnsZoneId"] for g in run.of_type(PE_DNS) for c in g.inputs["privateDnsZoneConfigs"]}
    assert used == {z.id for z in zones.values()}


def test_a_stack_switches_network_mode_by_config_alone(repo_root):
    """staging in private mode: the same program builds the private network and closes public access."""
    config = pulumi_config("staging", repo_root)
    config["ctloop:network"] = json.dumps(
        {
            "mode": "private",
            "vnet": {
                "address_space": "10.50.0.0/22",
                "private_endpoints_subnet": "10.50.0.0/24",
                "runner_subnet": "10.50.1.0/24",
            },
        }
    )
    r = run_stack("staging", repo_root, config=config)
    assert len(r.of_type(PE)) == 5 and len(r.of_type(ZONE)) == 6
    assert r.one(VAULT).inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert r.one(STORAGE).inputs["networkRuleSet"]["ipRules"] == []
