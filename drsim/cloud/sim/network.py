"""Networks in the simulated world: isolated networks made by drills, and the isolation check."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from drsim.cloud.api import (
    IsolatedNetwork,
    IsolationReport,
    ResourceKind,
)
from drsim.cloud.arm import RequestClass
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    NetworkState,
    NsgState,
    frozen_tags,
    resource_id,
)
from drsim.cloud.sim.state import WorldState
from drsim.errors import ConflictError, NotFoundError


class NetworkService(WorldState):
    """Microsoft.Network operations of the provider Protocol."""

    async def create_isolated_network(
        self, *, name: str, region: str, cidr: str, tags: Mapping[str, str], peer_with: Sequence[str] = (), allow_outbound: bool = False
    ) -> IsolatedNetwork:
        async with self._write("create_isolated_network", region, RequestClass.WRITE, name) as write:
            if self._region_down(region):
                raise self._unreachable(region, "the network's region")
            try:
                space = str(ipaddress.ip_network(cidr))
            except ValueError:
                raise ConflictError(f"{cidr!r} is not a valid address space") from None
            vnet_id = resource_id(DRILL_GROUP, ResourceKind.NETWORK, name)
            existing = self._networks.get(vnet_id)
            if existing is not None:
                if existing.region == region and existing.cidr == space:
                    return existing.public()
                raise ConflictError(f"virtual network {name} already exists with another region or address space")
            peers = []
            for peer in peer_with:
                peer_id = peer if peer in self._networks else self._network_by_name.get(peer)
                if peer_id is None:
                    raise NotFoundError(f"cannot peer with unknown network {peer}")
                peers.append(peer_id)
            await write.wait(self._draw(self.catalog.compute.network_create, "network-create", vnet_id))
        nsg_id = resource_id(DRILL_GROUP, ResourceKind.NSG, f"{name}-nsg")
        frozen = frozen_tags(tags)
        # Isolated: no peering, no gateway, a subnet without default outbound access and an NSG whose
        # priority-100 outbound rule denies all (azure-sdk-notes.md, Network).
        self._nsgs[nsg_id] = NsgState(
            id=nsg_id, name=f"{name}-nsg", region=region, network_id=vnet_id, deny_outbound=not allow_outbound, tags=frozen
        )
        net = NetworkState(
            id=vnet_id,
            name=name,
            region=region,
            cidr=space,
            subnet_id=f"{vnet_id}/subnets/default",
            nsg_id=nsg_id,
            peerings=peers,
            gateways=[],
            outbound_denied=not allow_outbound,
            default_outbound_access=allow_outbound,
            tags=frozen,
            production=False,
        )
        self._networks[vnet_id] = net
        self._network_by_name.setdefault(name, vnet_id)
        self._tag(vnet_id, ResourceKind.NETWORK, frozen)
        self._tag(nsg_id, ResourceKind.NSG, frozen)
        return net.public()

    async def check_isolation(self, network_id: str) -> IsolationReport:
        net = self._networks.get(network_id)
        await self._request("check_isolation", net.region if net else self.estate.regions.primary, RequestClass.READ, network_id)
        net = self._get_network(network_id)
        return IsolationReport(
            network_id=net.id,
            peerings=tuple(net.peerings),
            gateways=tuple(net.gateways),
            outbound_denied=net.outbound_denied,
            default_outbound_access=net.default_outbound_access,
        )
