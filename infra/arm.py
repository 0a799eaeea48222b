"""Render the resources a Pulumi program registers into an ARM deployment template, so that real
scanners (Checkov's ARM framework) can read what the program would create.

Input: (type token, inputs) pairs as the Pulumi engine sees them (camelCase, the mocks' record).
Output: ``{"$schema", "contentVersion", "resources": [...]}`` where each resource has the ARM ``type``,
the ``apiVersion`` the azure-native SDK calls (read from the resource class's docstring), the ARM
``name`` (``parent/child`` for child resources), the envelope keys (location, tags, sku, kind,
identity, zones) and everything else under ``properties``. azure-native renames a few wire
properties (x-ms-client-name in the REST API specs); ``RENAMES`` maps them back.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


@dataclass(frozen=True)
class ArmType:
    """How one azure-native type maps to ARM: its Azure name input, ARM type and parent name inputs."""

    name_key: str
    arm_type: str
    parents: tuple[str, ...] = ()  # inputs naming the parents, outermost first
    extension: bool = False  # an extension resource: applied to the resource id in ``scope_key``
    scope_key: str = "scope"


TYPES: dict[str, ArmType] = {
    "azure-native:resources:ResourceGroup": ArmType(
        "resourceGroupName", "Microsoft.Resources/resourceGroups"
    ),
    "azure-native:storage:StorageAccount": ArmType("accountName", "Microsoft.Storage/storageAccounts"),
    "azure-native:storage:BlobServiceProperties": ArmType(
        "blobServicesName", "Microsoft.Storage/storageAccounts/blobServices", ("accountName",)
    ),
    "azure-native:keyvault:Vault": ArmType("vaultName", "Microsoft.KeyVault/vaults"),
    "azure-native:containerregistry:Registry": ArmType(
        "registryName", "Microsoft.ContainerRegistry/registries"
    ),
    "azure-native:operationalinsights:Workspace": ArmType(
        "workspaceName", "Microsoft.OperationalInsights/workspaces"
    ),
    "azure-native:applicationinsights:Component": ArmType("resourceName", "Microsoft.Insights/components"),
    "azure-native:machinelearningservices:Workspace": ArmType(
        "workspaceName", "Microsoft.MachineLearningServices/workspaces"
    ),
    "azure-native:machinelearningservices:Compute": ArmType(
        "computeName", "Microsoft.MachineLearningServices/workspaces/computes", ("workspaceName",)
    ),
    "azure-native:machinelearningservices:OnlineEndpoint": ArmType(
        "endpointName", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints", ("workspaceName",)
    ),
    "azure-native:monitor:ActionGroup": ArmType("actionGroupName", "Microsoft.Insights/actionGroups"),
    "azure-native:monitor:MetricAlert": ArmType("ruleName", "Microsoft.Insights/metricAlerts"),
    "azure-native:monitor:ScheduledQueryRule": ArmType("ruleName", "Microsoft.Insights/scheduledQueryRules"),
    "azure-native:monitor:DiagnosticSetting": ArmType(
        "name", "Microsoft.Insights/diagnosticSettings", extension=True, scope_key="resourceUri"
    ),
    "azure-native:consumption:Budget": ArmType("budgetName", "Microsoft.Consumption/budgets", extension=True),
    "azure-native:authorization:RoleAssignment": ArmType(
        "roleAssignmentName", "Microsoft.Authorization/roleAssignments", extension=True
    ),
    "azure-native:network:VirtualNetwork": ArmType("virtualNetworkName", "Microsoft.Network/virtualNetworks"),
    "azure-native:network:Subnet": ArmType(
        "subnetName", "Microsoft.Network/virtualNetworks/subnets", ("virtualNetworkName",)
    ),
    "azure-native:network:PrivateEndpoint": ArmType(
        "privateEndpointName", "Microsoft.Network/privateEndpoints"
    ),
    "azure-native:network:PrivateDnsZoneGroup": ArmType(
        "privateDnsZoneGroupName",
        "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
        ("privateEndpointName",),
    ),
    "azure-native:privatedns:PrivateZone": ArmType("privateZoneName", "Microsoft.Network/privateDnsZones"),
    "azure-native:privatedns:VirtualNetworkLink": ArmType(
        "virtualNetworkLinkName",
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        ("privateZoneName",),
    ),
}

# Envelope keys: ARM keeps them beside ``properties``; inputs that only address the resource are dropped.
ENVELOPE = ("location", "tags", "sku", "kind", "identity", "zones")
ADDRESSING = ("resourceGroupName", "scope")

# azure-native input name -> ARM wire name, per ARM type (x-ms-client-name renames in the REST specs).
RENAMES: dict[str, dict[str, str]] = {
    "Microsoft.Storage/storageAccounts": {
        "networkRuleSet": "networkAcls",
        "enableHttpsTrafficOnly": "supportsHttpsTrafficOnly",
        "iPAddressOrRange": "value",
    },
    "Microsoft.ContainerRegistry/registries": {"iPAddressOrRange": "value"},
}


class UnknownType(ValueError):
    """A type token this renderer has no ARM mapping for."""


def _module_and_class(token: str) -> tuple[str, str]:
    _, module, cls = token.split(":")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", cls).lower()
    return f"pulumi_azure_native.{module}.{snake}", cls


@cache
def api_version(token: str) -> str:
    """The REST API version the azure-native SDK uses for ``token`` (from the class's docstring)."""
    module_name, _ = _module_and_class(token)
    spec_ = importlib.util.find_spec(module_name)
    if spec_ is None or spec_.origin is None:
        raise UnknownType(f"{token}: no module {module_name}")
    doc = Path(spec_.origin).read_text()
    found = re.search(r"Uses Azure REST API version (\d{4}-\d{2}-\d{2}(?:-preview)?)", doc)
    if not found:
        raise UnknownType(f"{token}: no REST API version in the SDK's docstring")
    return found.group(1)


def spec(token: str) -> ArmType:
    if token not in TYPES:
        raise UnknownType(f"{token}: no ARM type mapping (add it to infra.arm.TYPES)")
    return TYPES[token]


def azure_name(token: str, inputs: Mapping[str, Any], default: str) -> str:
    return str(inputs.get(spec(token).name_key) or default)


def resource_id(token: str, inputs: Mapping[str, Any], name: str, subscription_id: str) -> str:
    """The ARM id a resource would get (what ARM returns as ``id``)."""
    t = spec(token)
    if token == "azure-native:resources:ResourceGroup":
        return f"/subscriptions/{subscription_id}/resourceGroups/{name}"
    if t.extension:
        return f"{inputs[t.scope_key]}/providers/{t.arm_type}/{name}"
    namespace, *kinds = t.arm_type.split("/")
    parts = [str(inputs[p]) for p in t.parents] + [name]
    path = "/".join(f"{k}/{v}" for k, v in zip(kinds, parts, strict=True))
    rg = f"/subscriptions/{subscription_id}/resourceGroups/{inputs.get('resourceGroupName', '')}"
    return f"{rg}/providers/{namespace}/{path}"


def _rename(value: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(value, Mapping):
        return {renames.get(k, k): _rename(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, renames) for v in value]
    return value


def render_resource(
    token: str, inputs: Mapping[str, Any], name: str, checkov_skips: Iterable[str] = ()
) -> dict:
    """One ARM template resource for one registered resource (``checkov_skips``: "ID: reason" lines)."""
    t = spec(token)
    arm_name = "/".join([*(str(inputs[p]) for p in t.parents), azure_name(token, inputs, name)])
    skip = {t.name_key, t.scope_key, *t.parents, *ENVELOPE, *ADDRESSING}
    if "properties" in inputs and isinstance(inputs["properties"], Mapping):
        properties = dict(inputs["properties"])
        properties.update({k: v for k, v in inputs.items() if k not in skip and k != "properties"})
    else:
        properties = {k: v for k, v in inputs.items() if k not in skip}
    resource: dict[str, Any] = {"type": t.arm_type, "apiVersion": api_version(token), "name": arm_name}
    if t.extension:
        resource["scope"] = inputs.get(t.scope_key)
    resource.update({k: inputs[k] for k in ENVELOPE if k in inputs})
    resource["properties"] = _rename(properties, RENAMES.get(t.arm_type, {}))
    skips = list(checkov_skips)
    if skips:
        resource["metadata"] = {"checkov": skips}
    return resource


def render_template(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]],
    skips: Mapping[tuple[str, str], list[str]] | None = None,
) -> dict[str, Any]:
    """An ARM template of ``(token, pulumi name, inputs)`` resources; ``skips`` by (ARM type, ARM name).

    The resource group itself is left out: the template deploys into it.
    """
    out = []
    for token, name, inputs in resources:
        if token == "azure-native:resources:ResourceGroup":
            continue
        rendered = render_resource(token, inputs, name)
        found = (skips or {}).get((rendered["type"], rendered["name"]), [])
        if found:
            rendered["metadata"] = {"checkov": list(found)}
        out.append(rendered)
    return {"$schema": SCHEMA, "contentVersion": "1.0.0.0", "resources": out}
