"""Microsoft.Network over the world: virtual networks (subnets and peerings in properties),
network security groups and network interfaces.

The world makes a drill network in one step (VNet, one subnet, a security group named
`<vnet>-nsg`, optional peerings); ARM clients make the security group first, then the VNet that
references it, then peerings. The emulator keeps the group's rules until the VNet is made, tells the
world whether they deny all outbound traffic (what isolation needs, azure-sdk-notes.md), and keeps
later peerings and network interfaces itself. VNet PUT answers 201 with Azure-AsyncOperation;
security groups and NICs, which the world does not model, are made at once (200).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from drsim.cloud.api import ResourceKind, VirtualMachine
from drsim.cloud.arm import id_key, try_parse_id
from drsim.cloud.emulator.arm import ArmError, Body, ErrorCode, JsonObject, PathOf, Router, invalid_content, listing
from drsim.cloud.emulator.operations import Outcome
from drsim.cloud.emulator.service import ResourceProviderService, no_content, not_found
from drsim.cloud.emulator.state import NetworkExtras, NetworkInterface, Provisioning, SecurityGroupDefinition
from drsim.cloud.sim.resources import NetworkState, NsgState

VNET_TYPE = ResourceKind.NETWORK.value
NSG_TYPE = ResourceKind.NSG.value
NIC_TYPE = ResourceKind.NIC.value
PEERING_TYPE = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
GATEWAY_SUBNET = "GatewaySubnet"  # where a VNet gateway lives (vpn-gateway-about-vpn-gateway-settings)
DENY_ALL_OUTBOUND_RULE = "deny-all-outbound"
SUCCEEDED = Provisioning.SUCCEEDED.value

# Every NSG carries these (network-security-groups-overview, default security rules).
_DEFAULT_RULES = (
    ("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
    ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
    ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
    ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
    ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
)


def _rule(nsg_id: str, collection: str, name: str, priority: int, direction: str, access: str, source: str, destination: str) -> JsonObject:
    return {
        "id": f"{nsg_id}/{collection}/{name}",
        "name": name,
        "properties": {
            "priority": priority,
            "direction": direction,
            "access": access,
            "protocol": "*",
            "sourceAddressPrefix": source,
            "sourcePortRange": "*",
            "destinationAddressPrefix": destination,
            "destinationPortRange": "*",
            "provisioningState": SUCCEEDED,
        },
    }


def denies_all_outbound(rules: Iterable[JsonObject]) -> bool:
    """The lowest-numbered outbound rule matching all traffic to anywhere denies it (NSG rule evaluation)."""
    outbound = []
    for rule in rules:
        props = Body(rule.get("properties") or {})
        direction, priority = props.get("direction"), props.get("priority")
        if isinstance(direction, str) and direction.lower() == "outbound" and isinstance(priority, int):
            outbound.append((priority, props))
    for _, props in sorted(outbound, key=lambda pair: pair[0]):
        everywhere = (
            str(props.get("destinationAddressPrefix") or "") in ("*", "Internet", "0.0.0.0/0") and str(props.get("protocol") or "*") == "*"
        )
        if everywhere:
            return str(props.get("access") or "").lower() == "deny"
    return False


class NetworkService(ResourceProviderService):
    """Microsoft.Network: virtualNetworks (+ subnets, peerings), networkSecurityGroups, networkInterfaces."""

    def register(self, router: Router) -> None:
        sub = "/subscriptions/{subscription}"
        group = sub + "/resourceGroups/{resource_group}/providers/Microsoft.Network"
        vnet = group + "/virtualNetworks/{name}"
        router.add("GET", sub + "/providers/Microsoft.Network/locations/{location}/operations/{operation}", self.operation_status)
        router.add("GET", sub + "/providers/Microsoft.Network/locations/{location}/operationResults/{operation}", self.operation_result)
        for scope in (sub + "/providers/Microsoft.Network", group):
            router.add("GET", scope + "/virtualNetworks", self.list_vnets)
            router.add("GET", scope + "/networkSecurityGroups", self.list_nsgs)
            router.add("GET", scope + "/networkInterfaces", self.list_nics)
        router.add("GET", vnet, self.get_vnet)
        router.add("PUT", vnet, self.put_vnet)
        router.add("PATCH", vnet, self.patch_tags)
        router.add("DELETE", vnet, self.delete_vnet)
        router.add("GET", vnet + "/subnets", self.list_subnets)
        router.add("GET", vnet + "/subnets/{subnet}", self.get_subnet)
        router.add("DELETE", vnet + "/subnets/{subnet}", self.delete_subnet)
        router.add("GET", vnet + "/virtualNetworkPeerings", self.list_peerings)
        router.add("GET", vnet + "/virtualNetworkPeerings/{peering}", self.get_peering)
        router.add("PUT", vnet + "/virtualNetworkPeerings/{peering}", self.put_peering)
        router.add("DELETE", vnet + "/virtualNetworkPeerings/{peering}", self.delete_peering)
        nsg = group + "/networkSecurityGroups/{name}"
        router.add("GET", nsg, self.get_nsg)
        router.add("PUT", nsg, self.put_nsg)
        router.add("PATCH", nsg, self.patch_tags)
        router.add("DELETE", nsg, self.delete_nsg)
        nic = group + "/networkInterfaces/{name}"
        router.add("GET", nic, self.get_nic)
        router.add("PUT", nic, self.put_nic)
        router.add("PATCH", nic, self.patch_tags)
        router.add("DELETE", nic, self.delete_nic)

    def _paths(self, location: str) -> tuple[PathOf, PathOf]:
        base = f"/subscriptions/{self.subscription}/providers/Microsoft.Network/locations/{location}"
        return (lambda op: f"{base}/operations/{op}"), (lambda op: f"{base}/operationResults/{op}")

    async def operation_status(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return self.operations.status_response(p["operation"])

    async def operation_result(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return self.operations.result_response(request, p["operation"])

    def _id(self, p: dict[str, str], type_path: str) -> str:
        return self.state.resource_id(p["resource_group"], type_path, p["name"])

    @staticmethod
    def _in_group(items: list[JsonObject], p: dict[str, str]) -> list[JsonObject]:
        group = p.get("resource_group")
        if group is None:
            return items
        return [i for i in items if (parsed := try_parse_id(i["id"])) is not None and parsed.resource_group.lower() == group.lower()]

    # --------------------------------------------------------------------------------- VNets

    def _peerings(self, net: NetworkState) -> dict[str, str]:
        """Peering name -> remote VNet id: the world's (named `to-<remote>`) and those added later."""
        found = {f"to-{remote.rstrip('/').rsplit('/', 1)[-1]}": remote for remote in net.peerings}
        extras = self.state.networks.get(id_key(net.id))
        if extras is not None:
            found.update(extras.peerings)
        return found

    def peering_json(self, net: NetworkState, name: str, remote: str) -> JsonObject:
        return {
            "id": f"{net.id}/virtualNetworkPeerings/{name}",
            "name": name,
            "type": PEERING_TYPE,
            "properties": {
                "remoteVirtualNetwork": {"id": remote},
                "peeringState": "Connected",
                "allowVirtualNetworkAccess": True,
                "allowForwardedTraffic": False,
                "allowGatewayTransit": False,
                "useRemoteGateways": False,
                "provisioningState": SUCCEEDED,
            },
        }

    def subnets_json(self, net: NetworkState) -> list[JsonObject]:
        extras = self.state.networks.get(id_key(net.id)) or NetworkExtras()
        subnet_id = self.state.subnet_id(net)
        props: JsonObject = {
            "addressPrefix": extras.subnet_prefix or net.cidr,
            "defaultOutboundAccess": net.default_outbound_access
            if extras.default_outbound_access is None
            else extras.default_outbound_access,
            "privateEndpointNetworkPolicies": "Disabled",
            "provisioningState": SUCCEEDED,
        }
        if net.nsg_id:
            props["networkSecurityGroup"] = {"id": net.nsg_id}
        configs = [
            f"{n.id}/ipConfigurations/ipconfig1"
            for n in self.state.nics.values()
            if id_key(self.state.vnet_of_subnet(n.subnet_id)) == id_key(net.id)
        ]
        if configs:
            props["ipConfigurations"] = [{"id": c} for c in configs]
        subnets = [{"id": subnet_id, "name": subnet_id.rsplit("/", 1)[-1], "type": SUBNET_TYPE, "properties": props}]
        for gateway in net.gateways:
            subnets.append(
                {
                    "id": f"{net.id}/subnets/{GATEWAY_SUBNET}",
                    "name": GATEWAY_SUBNET,
                    "type": SUBNET_TYPE,
                    "properties": {"ipConfigurations": [{"id": f"{gateway}/ipConfigurations/default"}], "provisioningState": SUCCEEDED},
                }
            )
        return subnets

    def vnet_json(self, net: NetworkState) -> JsonObject:
        return {
            "id": net.id,
            "name": net.name,
            "type": VNET_TYPE,
            "location": net.region,
            "tags": self.state.tags_of(net.id, net.tags),
            "properties": {
                "addressSpace": {"addressPrefixes": [net.cidr]},
                "subnets": self.subnets_json(net),
                "virtualNetworkPeerings": [self.peering_json(net, n, r) for n, r in sorted(self._peerings(net).items())],
                "enableDdosProtection": False,
                "resourceGuid": self.state.stable_guid(net.id),
                "provisioningState": SUCCEEDED,
            },
        }

    def _vnet(self, p: dict[str, str]) -> NetworkState:
        net = self.state.network(self._id(p, VNET_TYPE))
        if net is None:
            raise not_found(VNET_TYPE, p["name"], p["resource_group"])
        return net

    async def list_vnets(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        items = [self.vnet_json(n) for n in self.world.inventory.networks()]
        return web.json_response(listing(self._in_group(items, p)))

    async def get_vnet(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, VNET_TYPE)
        net = self.state.network(resource_id)
        if net is None and (pending := self.pending_body(resource_id)) is not None:
            return web.json_response(pending)
        if net is None:
            raise not_found(VNET_TYPE, p["name"], p["resource_group"])
        return web.json_response(self.vnet_json(net))

    async def put_vnet(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, VNET_TYPE)
        self.ensure_idle(resource_id, "virtual network write")
        location = body.string("location")
        tags = body.tags()
        existing = self.state.network(resource_id)
        peerings = {}
        for index, peering in enumerate(body.objects("properties.virtualNetworkPeerings")):
            remote = peering.string("properties.remoteVirtualNetwork.id")
            peerings[peering.optional_string("name") or f"to-{remote.rsplit('/', 1)[-1]}"] = remote
            if self.state.network(remote) is None:
                raise invalid_content(
                    f"properties.virtualNetworkPeerings[{index}].properties.remoteVirtualNetwork.id",
                    f"virtual network {remote} was not found.",
                )
        if existing is not None:
            self.state.replace_tags(resource_id, tags)
            self.state.networks.setdefault(id_key(resource_id), NetworkExtras()).peerings.update(peerings)
            return web.json_response(self.vnet_json(existing), status=200)
        self.state.require_drill_group(p["resource_group"], "virtual networks")
        prefixes = body.strings("properties.addressSpace.addressPrefixes")
        if len(prefixes) != 1:
            raise invalid_content(
                "properties.addressSpace.addressPrefixes", "the emulator's world makes a network of exactly one address prefix"
            )
        subnets = body.objects("properties.subnets")
        if len(subnets) > 1:
            raise invalid_content("properties.subnets", "the emulator's world makes a network of one subnet")
        extras = NetworkExtras(peerings={})
        allow_outbound = True
        if subnets:
            subnet = subnets[0]
            extras.subnet_name = subnet.string("name")
            extras.subnet_prefix = subnet.optional_string("properties.addressPrefix")
            default_outbound = subnet.get("properties.defaultOutboundAccess")
            extras.default_outbound_access = default_outbound if isinstance(default_outbound, bool) else None
            nsg_ref = subnet.optional_string("properties.networkSecurityGroup.id")
            if nsg_ref is not None:
                expected = self.state.resource_id(p["resource_group"], NSG_TYPE, f"{p['name']}-nsg")
                if id_key(nsg_ref) != id_key(expected):
                    raise invalid_content(
                        "properties.subnets[0].properties.networkSecurityGroup.id",
                        f"the emulator's world gives network {p['name']} the security group {expected}; create that one and reference it",
                    )
                definition = self.state.security_groups.get(id_key(nsg_ref))
                if definition is None:
                    raise invalid_content(
                        "properties.subnets[0].properties.networkSecurityGroup.id", f"network security group {nsg_ref} was not found."
                    )
                # Isolation needs outbound denied and no default outbound access (azure-sdk-notes.md, Network).
                allow_outbound = not denies_all_outbound(definition.rules) or default_outbound is not False
        peer_with = list(peerings.values())
        name = p["name"]

        async def create() -> Outcome:
            await self.world.create_isolated_network(
                name=name, region=location, cidr=prefixes[0], tags=tags, peer_with=peer_with, allow_outbound=allow_outbound
            )
            self.state.networks[id_key(resource_id)] = extras
            return Outcome()

        pending = {
            "id": resource_id,
            "name": name,
            "type": VNET_TYPE,
            "location": location,
            "tags": tags,
            "properties": dict(body.get("properties") or {}),
        }
        status_path, _ = self._paths(location)
        op = await self.start(
            create(),
            name=f"{VNET_TYPE}/write",
            status_path=status_path,
            result_path=None,
            pending=(resource_id, pending, Provisioning.UPDATING),
        )
        if op.done:
            net = self.state.network(resource_id)
            if net is not None:
                return web.json_response(self.vnet_json(net), status=200)
        return self.operations.answer(request, op, status=201, body=self.pending_body(resource_id) or pending)

    async def _refuse_in_use(self, net: NetworkState, subnet_id: str) -> None:
        """400 InUseSubnetCannotBeDeleted while NICs sit in the subnet, as ARM answers ("Subnet internal is
        in use by <nic>/ipConfigurations/<config> and cannot be deleted. In order to delete the subnet,
        delete all the resources within the subnet. See aka.ms/deletesubnet.", quoted from ARM in
        hashicorp/terraform-provider-azurerm, internal/services/compute/orchestrated_virtual_machine_scale_set_resource.go;
        the code is listed in MicrosoftDocs/azure-docs, azure-resource-manager/troubleshooting/common-deployment-errors.md)."""
        in_use = self.state.nics_in(net.id, await self.world.list_vms())
        if in_use:
            raise ArmError(
                400,
                ErrorCode.IN_USE_SUBNET,
                f"Subnet {subnet_id.rsplit('/', 1)[-1]} is in use by {in_use[0]}/ipConfigurations/ipconfig1 and cannot be deleted. "
                "In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.",
            )

    async def delete_subnet(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """A network's one subnet can go only with its network; one holding NICs never (400 InUseSubnetCannotBeDeleted)."""
        net = self._vnet(p)
        subnet = next((s for s in self.subnets_json(net) if s["name"].lower() == p["subnet"].lower()), None)
        if subnet is None:
            return no_content()
        await self._refuse_in_use(net, subnet["id"])
        raise ArmError(
            409,
            ErrorCode.OPERATION_NOT_ALLOWED,
            f"The emulator's world keeps network {net.name} with its one subnet {subnet['name']}: delete the virtual network instead.",
        )

    async def delete_vnet(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, VNET_TYPE)
        self.ensure_idle(resource_id, "delete")
        net = self.state.network(resource_id)
        if net is None:
            return no_content()
        await self._refuse_in_use(net, self.state.subnet_id(net))

        async def remove() -> Outcome:
            await self.world.delete(net.id)
            self.state.forget(net.id)
            return Outcome()

        status_path, result_path = self._paths(net.region)
        op = await self.start(
            remove(),
            name=f"{VNET_TYPE}/delete",
            status_path=status_path,
            result_path=result_path,
            pending=(resource_id, self.vnet_json(net), Provisioning.DELETING),
        )
        return web.Response(status=200) if op.done else self.operations.answer(request, op, status=202)

    async def list_subnets(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(listing(self.subnets_json(self._vnet(p))))

    async def get_subnet(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        net = self._vnet(p)
        subnet = next((s for s in self.subnets_json(net) if s["name"].lower() == p["subnet"].lower()), None)
        if subnet is None:
            raise not_found(SUBNET_TYPE, f"{p['name']}/{p['subnet']}", p["resource_group"])
        return web.json_response(subnet)

    async def list_peerings(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        net = self._vnet(p)
        return web.json_response(listing([self.peering_json(net, n, r) for n, r in sorted(self._peerings(net).items())]))

    async def get_peering(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        net = self._vnet(p)
        remote = next((r for n, r in self._peerings(net).items() if n.lower() == p["peering"].lower()), None)
        if remote is None:
            raise not_found(PEERING_TYPE, f"{p['name']}/{p['peering']}", p["resource_group"])
        return web.json_response(self.peering_json(net, p["peering"], remote))

    async def put_peering(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """A peering added to an existing network: kept by the emulator, shown in the VNet (made at once: 200)."""
        body = await Body.of(request)
        net = self._vnet(p)
        self.state.require_drill_group(p["resource_group"], "peerings")
        remote = body.string("properties.remoteVirtualNetwork.id")
        if self.state.network(remote) is None:
            raise invalid_content("properties.remoteVirtualNetwork.id", f"virtual network {remote} was not found.")
        self.state.networks.setdefault(id_key(net.id), NetworkExtras()).peerings[p["peering"]] = remote
        return web.json_response(self.peering_json(net, p["peering"], remote), status=200)

    async def delete_peering(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        net = self._vnet(p)
        extras = self.state.networks.get(id_key(net.id))
        name = next((n for n in (extras.peerings if extras else {}) if n.lower() == p["peering"].lower()), None)
        if name is not None and extras is not None:
            del extras.peerings[name]
            return web.Response(status=200)
        if any(n.lower() == p["peering"].lower() for n in self._peerings(net)):
            raise ArmError(409, ErrorCode.CONFLICT, f"Peering {p['peering']} was made with network {net.name} and goes only with it.")
        return no_content()

    # ---------------------------------------------------------------------------------- NSGs

    def nsg_json(self, nsg_id: str, world: NsgState | None, definition: SecurityGroupDefinition | None) -> JsonObject:
        if definition is not None:
            rules = [
                {
                    "id": f"{nsg_id}/securityRules/{rule.get('name')}",
                    "name": rule.get("name"),
                    "properties": {**(rule.get("properties") or {}), "provisioningState": SUCCEEDED},
                }
                for rule in definition.rules
            ]
        elif world is not None and world.deny_outbound:
            rules = [_rule(nsg_id, "securityRules", DENY_ALL_OUTBOUND_RULE, 100, "Outbound", "Deny", "*", "*")]
        else:
            rules = []
        parsed = try_parse_id(nsg_id)
        body: JsonObject = {
            "id": nsg_id,
            "name": parsed.name if parsed else nsg_id,
            "type": NSG_TYPE,
            "location": definition.location if definition is not None else (world.region if world else ""),
            "tags": self.state.tags_of(nsg_id, {**(world.tags if world else {}), **(definition.tags if definition else {})}),
            "properties": {
                "securityRules": rules,
                "defaultSecurityRules": [_rule(nsg_id, "defaultSecurityRules", *r) for r in _DEFAULT_RULES],
                "resourceGuid": self.state.stable_guid(nsg_id),
                "provisioningState": SUCCEEDED,
            },
        }
        if world is not None and world.network_id:
            net = self.state.network(world.network_id)
            if net is not None:
                body["properties"]["subnets"] = [{"id": self.state.subnet_id(net)}]
        return body

    def _nsgs(self) -> dict[str, tuple[str, NsgState | None, SecurityGroupDefinition | None]]:
        found: dict[str, tuple[str, NsgState | None, SecurityGroupDefinition | None]] = {
            id_key(g.id): (g.id, g, self.state.security_groups.get(id_key(g.id))) for g in self.world.inventory.security_groups()
        }
        for key, definition in self.state.security_groups.items():
            found.setdefault(key, (definition.id, None, definition))
        return found

    async def list_nsgs(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        items = [self.nsg_json(*entry) for entry in self._nsgs().values()]
        return web.json_response(listing(self._in_group(items, p)))

    async def get_nsg(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        entry = self._nsgs().get(id_key(self._id(p, NSG_TYPE)))
        if entry is None:
            raise not_found(NSG_TYPE, p["name"], p["resource_group"])
        return web.json_response(self.nsg_json(*entry))

    async def put_nsg(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, NSG_TYPE)
        location = body.string("location")
        self.state.require_drill_group(p["resource_group"], "network security groups")
        rules = []
        for rule in body.objects("properties.securityRules"):
            name = rule.string("name")
            props = rule.child("properties")
            props.integer("priority")
            for required in ("direction", "access", "protocol"):
                props.string(required)
            rules.append({"name": name, "properties": dict(props.data)})
        existing = self._nsgs().get(id_key(resource_id))
        self.state.security_groups[id_key(resource_id)] = SecurityGroupDefinition(resource_id, p["name"], location, rules, body.tags())
        entry = self._nsgs()[id_key(resource_id)]
        return web.json_response(self.nsg_json(*entry), status=200 if existing is not None else 201)

    async def delete_nsg(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, NSG_TYPE)
        entry = self._nsgs().get(id_key(resource_id))
        if entry is None:
            return no_content()
        nsg_id, world_nsg, _ = entry
        if world_nsg is None:
            self.state.forget(nsg_id)
            return web.Response(status=200)

        async def remove() -> Outcome:
            await self.world.delete(nsg_id)
            self.state.forget(nsg_id)
            return Outcome()

        status_path, result_path = self._paths(world_nsg.region)
        op = await self.start(
            remove(),
            name=f"{NSG_TYPE}/delete",
            status_path=status_path,
            result_path=result_path,
            pending=(resource_id, self.nsg_json(*entry), Provisioning.DELETING),
        )
        return web.Response(status=200) if op.done else self.operations.answer(request, op, status=202)

    # ---------------------------------------------------------------------------------- NICs

    def nic_json(self, nic: NetworkInterface) -> JsonObject:
        body: JsonObject = {
            "id": nic.id,
            "name": nic.name,
            "type": NIC_TYPE,
            "location": nic.location,
            "tags": self.state.tags_of(nic.id, nic.tags),
            "properties": {
                "ipConfigurations": [
                    {
                        "id": f"{nic.id}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "properties": {
                            "privateIPAddress": nic.private_ip,
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": nic.subnet_id},
                            "primary": True,
                            "provisioningState": SUCCEEDED,
                        },
                    }
                ],
                "resourceGuid": self.state.stable_guid(nic.id),
                "provisioningState": SUCCEEDED,
            },
        }
        if nic.vm_id:
            body["properties"]["virtualMachine"] = {"id": nic.vm_id}
        return body

    def _implicit_nics(self, vms: Iterable[VirtualMachine]) -> dict[str, NetworkInterface]:
        """NICs of the VMs the world made without one, each in its VM's network."""
        found: dict[str, NetworkInterface] = {}
        per_network: dict[str, int] = {}
        for vm in sorted(vms, key=lambda v: v.id):
            if id_key(vm.id) in self.state.vm_extras or vm.network_id is None:
                continue
            net = self.state.network(vm.network_id)
            index = per_network.get(id_key(vm.network_id), 0)
            per_network[id_key(vm.network_id)] = index + 1
            nic_id = self.state.implicit_nic_id(vm)
            subnet = self.state.subnet_id(net) if net is not None else f"{vm.network_id}/subnets/default"
            found[id_key(nic_id)] = NetworkInterface(
                nic_id, nic_id.rsplit("/", 1)[-1], vm.region, subnet, self.state.private_ip(net, 1000 + index), {}, vm.id
            )
        return found

    async def _all_nics(self) -> dict[str, NetworkInterface]:
        found = self._implicit_nics(await self.world.list_vms())
        found.update(self.state.nics)
        return found

    async def list_nics(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        items = [self.nic_json(n) for n in (await self._all_nics()).values()]
        return web.json_response(listing(self._in_group(items, p)))

    async def get_nic(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        nic = (await self._all_nics()).get(id_key(self._id(p, NIC_TYPE)))
        if nic is None:
            raise not_found(NIC_TYPE, p["name"], p["resource_group"])
        return web.json_response(self.nic_json(nic))

    async def put_nic(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource_id = self._id(p, NIC_TYPE)
        location = body.string("location")
        existing = self.state.nics.get(id_key(resource_id))
        if existing is not None:
            existing.tags = body.tags()
            return web.json_response(self.nic_json(existing), status=200)
        self.state.require_drill_group(p["resource_group"], "network interfaces")
        configs = body.objects("properties.ipConfigurations")
        if not configs:
            raise invalid_content("properties.ipConfigurations", "Required property 'ipConfigurations' not found in JSON.")
        subnet_id = configs[0].string("properties.subnet.id")
        net = self.state.network(self.state.vnet_of_subnet(subnet_id))
        if net is None or id_key(self.state.subnet_id(net)) != id_key(subnet_id):
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"Subnet {subnet_id} referenced by network interface {p['name']} was not found.",
                target="properties.ipConfigurations[0].properties.subnet.id",
            )
        if net.region != location:
            raise invalid_content("location", f"network interface in {location}, its subnet's network in {net.region}")
        taken = sum(1 for n in self.state.nics.values() if id_key(self.state.vnet_of_subnet(n.subnet_id)) == id_key(net.id))
        nic = NetworkInterface(resource_id, p["name"], location, subnet_id, self.state.private_ip(net, taken), body.tags())
        self.state.nics[id_key(resource_id)] = nic
        return web.json_response(self.nic_json(nic), status=201)

    async def delete_nic(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource_id = self._id(p, NIC_TYPE)
        nic = (await self._all_nics()).get(id_key(resource_id))
        if nic is None:
            return no_content()
        if nic.vm_id is not None and any(id_key(vm.id) == id_key(nic.vm_id) for vm in await self.world.list_vms()):
            raise ArmError(
                400, ErrorCode.NIC_IN_USE, f"Network interface {nic.id} is used by virtual machine {nic.vm_id}: delete the VM first."
            )
        self.state.nics.pop(id_key(resource_id), None)
        self.state.forget(resource_id)
        return web.Response(status=200)

    # ---------------------------------------------------------------------------------- tags

    async def patch_tags(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """PATCH `{"tags": ...}` (update_tags): the tags replace the resource's, answered with the resource."""
        body = await Body.of(request)
        path = request.path.lower()
        kind = VNET_TYPE if "/virtualnetworks/" in path else NSG_TYPE if "/networksecuritygroups/" in path else NIC_TYPE
        resource_id = self._id(p, kind)
        if kind == VNET_TYPE:
            net = self._vnet(p)
            self.state.replace_tags(net.id, body.tags())
            return web.json_response(self.vnet_json(net))
        if kind == NSG_TYPE:
            entry = self._nsgs().get(id_key(resource_id))
            if entry is None:
                raise not_found(NSG_TYPE, p["name"], p["resource_group"])
            self.state.replace_tags(entry[0], body.tags())
            return web.json_response(self.nsg_json(*entry))
        nic = self.state.nics.get(id_key(resource_id))
        if nic is None:
            raise not_found(NIC_TYPE, p["name"], p["resource_group"])
        nic.tags = body.tags()
        return web.json_response(self.nic_json(nic))
