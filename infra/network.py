"""The network of ``private`` mode: a VNet with a private-endpoint subnet and a self-hosted CI runner
subnet, one private endpoint per workspace dependency, and the private DNS zones that resolve them.

Compute does not use this VNet: it runs in the workspace's managed virtual network, where Azure ML
creates its own private endpoints to storage, vault and registry. This VNet is how people and the CI
runner reach a workspace that has no public access (``docs/infra.md``: what a team must provide).
In ``public`` mode nothing here is created; the firewalls of storage, vault and registry deny by
default and allow ``network.allowed_ip_ranges``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_azure_native import network, privatedns, resources

from .config import StackConfig, VnetConfig

# (target key, private-link group id) -> the private DNS zones its endpoint registers in.
ZONES: dict[tuple[str, str], tuple[str, ...]] = {
    ("workspace", "amlworkspace"): ("privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"),
    ("storage", "blob"): ("privatelink.blob.core.windows.net",),
    ("storage", "file"): ("privatelink.file.core.windows.net",),
    ("keyvault", "vault"): ("privatelink.vaultcore.azure.net",),
    ("registry", "registry"): ("privatelink.azurecr.io",),
}


@dataclass(frozen=True)
class PrivateNetwork:
    vnet: network.VirtualNetwork
    endpoints_subnet: network.Subnet
    runner_subnet: network.Subnet
    endpoints: list[network.PrivateEndpoint]


def _zone_key(zone: str) -> str:
    return zone.removeprefix("privatelink.").replace(".", "-")


def create(
    cfg: StackConfig, rg: resources.ResourceGroup, targets: dict[str, pulumi.Input[str]]
) -> PrivateNetwork | None:
    """VNet, subnets, DNS zones and private endpoints for ``targets`` (key -> id); None in public mode."""
    if not cfg.network.private:
        return None
    vnet_cfg: VnetConfig = cfg.network.vnet  # type: ignore[assignment]  # config requires it when private
    base = f"{cfg.prefix}-{cfg.environment}"
    opts = pulumi.ResourceOptions(parent=rg)
    vnet = network.VirtualNetwork(
        "vnet",
        virtual_network_name=f"vnet-{base}",
        resource_group_name=rg.name,
        location=cfg.location,
        address_space=network.AddressSpaceArgs(address_prefixes=[vnet_cfg.address_space]),
        tags=cfg.tags,
        opts=pulumi.ResourceOptions(parent=rg, ignore_changes=["subnets"]),
    )
    endpoints_subnet = network.Subnet(
        "snet-private-endpoints",
        subnet_name="snet-private-endpoints",
        resource_group_name=rg.name,
        virtual_network_name=vnet.name,
        address_prefix=vnet_cfg.private_endpoints_subnet,
        private_endpoint_network_policies="Enabled",
        opts=pulumi.ResourceOptions(parent=vnet),
    )
    runner_subnet = network.Subnet(
        "snet-ci-runner",
        subnet_name="snet-ci-runner",
        resource_group_name=rg.name,
        virtual_network_name=vnet.name,
        address_prefix=vnet_cfg.runner_subnet,
        opts=pulumi.ResourceOptions(parent=vnet, depends_on=[endpoints_subnet]),
    )
    zones: dict[str, privatedns.PrivateZone] = {}
    for zone in sorted({z for names in ZONES.values() for z in names}):
        key = _zone_key(zone)
        zones[zone] = privatedns.PrivateZone(
            f"dns-{key}",
            private_zone_name=zone,
            resource_group_name=rg.name,
            location="global",
            tags=cfg.tags,
            opts=opts,
        )
        privatedns.VirtualNetworkLink(
            f"dns-link-{key}",
            virtual_network_link_name=f"link-{base}",
            private_zone_name=zones[zone].name,
            resource_group_name=rg.name,
            location="global",
            registration_enabled=False,
            virtual_network=privatedns.SubResourceArgs(id=vnet.id),
            tags=cfg.tags,
            opts=pulumi.ResourceOptions(parent=zones[zone]),
        )
    endpoints = []
    for (target, group), zone_names in ZONES.items():
        name = f"pe-{base}-{target}-{group}"
        endpoint = network.PrivateEndpoint(
            f"pe-{target}-{group}",
            private_endpoint_name=name,
            resource_group_name=rg.name,
            location=cfg.location,
            subnet=network.SubnetArgs(id=endpoints_subnet.id),
            private_link_service_connections=[
                network.PrivateLinkServiceConnectionArgs(
                    name=name, private_link_service_id=targets[target], group_ids=[group]
                )
            ],
            tags=cfg.tags,
            opts=opts,
        )
        network.PrivateDnsZoneGroup(
            f"pe-{target}-{group}-dns",
            private_dns_zone_group_name="default",
            private_endpoint_name=endpoint.name,
            resource_group_name=rg.name,
            private_dns_zone_configs=[
                network.PrivateDnsZoneConfigArgs(name=_zone_key(z), private_dns_zone_id=zones[z].id)
                for z in zone_names
            ],
            opts=pulumi.ResourceOptions(parent=endpoint),
        )
        endpoints.append(endpoint)
    return PrivateNetwork(vnet, endpoints_subnet, runner_subnet, endpoints)
