"""Microsoft.Resources: the subscription, its resource groups, resources listed by tag, and the Tags API.

`GET /subscriptions/{s}/resources?$filter=tagName eq 'drsim-run' and tagValue eq '<run>'` is how a
drill finds what it created (cleanup by tag); `PATCH {resource}/providers/Microsoft.Resources/tags/default`
is how it tags what Azure created on its behalf (restored and test-failover VMs). Filters accept
ARM's forms for resources lists: tagName / tagValue, resourceType and name (resources-list API).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from drsim.cloud.api import ResourceKind
from drsim.cloud.arm import id_key, name_of, try_parse_id
from drsim.cloud.emulator.arm import ArmError, Body, ErrorCode, JsonObject, Router, invalid_content, listing
from drsim.cloud.emulator.service import ResourceProviderService

TENANT_ID = "00000000-0000-0000-0000-0000000d7a11"  # the emulator's stand-in tenant (no identity is checked)
VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class GenericResource:
    """A resource as the Resources API lists it: id, name, type, location and tags."""

    id: str
    name: str
    type: str
    location: str
    tags: dict[str, str]

    def json(self) -> JsonObject:
        return {"id": self.id, "name": self.name, "type": self.type, "location": self.location, "tags": self.tags}


def parse_filter(text: str, allowed: tuple[str, ...]) -> dict[str, str]:
    """`a eq 'x' and b eq 'y'` -> {a: x, b: y}; 400 for anything else (OData, as ARM lists accept it)."""
    if not text.strip():
        return {}
    found: dict[str, str] = {}
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ArmError(
                400, ErrorCode.INVALID_PARAMETER, f"$filter clause '{clause.strip()}' is not of the form name eq 'value'.", target="$filter"
            )
        name = next((a for a in allowed if a.lower() == match.group(1).lower()), None)
        if name is None:
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"$filter on '{match.group(1)}' is not supported here; use {', '.join(allowed)}.",
                target="$filter",
            )
        found[name] = match.group(2).replace("''", "'")
    return found


class ResourcesService(ResourceProviderService):
    """Subscriptions, resource groups, the resources list and tags at a scope."""

    def register(self, router: Router) -> None:
        router.add("GET", "/subscriptions", self.list_subscriptions)
        router.add("GET", "/subscriptions/{subscription}", self.get_subscription)
        router.add("GET", "/subscriptions/{subscription}/resourcegroups", self.list_groups)
        group = "/subscriptions/{subscription}/resourcegroups/{group_name}"
        router.add("GET", group, self.get_group)
        router.add("HEAD", group, self.check_group)
        router.add("PUT", group, self.put_group)
        router.add("GET", "/subscriptions/{subscription}/resources", self.list_resources)
        router.add("GET", "/subscriptions/{subscription}/resourcegroups/{resource_group}/resources", self.list_resources)
        tags = "/{scope*}/providers/Microsoft.Resources/tags/default"
        router.add("GET", tags, self.get_tags)
        router.add("PUT", tags, self.put_tags)
        router.add("PATCH", tags, self.patch_tags)

    # -------------------------------------------------------------------------- subscription

    def subscription_json(self) -> JsonObject:
        return {
            "id": f"/subscriptions/{self.subscription}",
            "subscriptionId": self.subscription,
            "tenantId": TENANT_ID,
            "displayName": f"drsim emulator ({self.world.estate.name})",
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "drsim-emulator", "spendingLimit": "Off"},
            "authorizationSource": "RoleBased",
        }

    async def list_subscriptions(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(listing([self.subscription_json()]))

    async def get_subscription(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.subscription_json())

    # ------------------------------------------------------------------------------- groups

    def group_json(self, name: str) -> JsonObject:
        return {
            "id": self.state.group_id(name),
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.state.arm_region,
            "tags": self.state.tags.get(id_key(self.state.group_id(name)), {}),
            "properties": {"provisioningState": "Succeeded"},
        }

    async def _group(self, name: str) -> str:
        found = await self.state.find_resource_group(name)
        if found is None:
            raise ArmError(404, ErrorCode.RESOURCE_GROUP_NOT_FOUND, f"Resource group '{name}' could not be found.")
        return found

    async def list_groups(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        names = sorted(await self.state.resource_groups(), key=str.lower)
        return web.json_response(listing([self.group_json(n) for n in names]))

    async def get_group(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        return web.json_response(self.group_json(await self._group(p["group_name"])))

    async def check_group(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        found = await self.state.find_resource_group(p["group_name"])
        return web.Response(status=204 if found is not None else 404)

    async def put_group(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """The world's groups are fixed: a PUT of one of them updates its tags; a new one is refused."""
        body = await Body.of(request)
        body.string("location")
        found = await self.state.find_resource_group(p["group_name"])
        if found is None:
            names = ", ".join(sorted(await self.state.resource_groups(), key=str.lower))
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"The emulator's world has the resource groups {names}; it cannot create '{p['group_name']}'.",
                target="resourceGroupName",
            )
        self.state.tags[id_key(self.state.group_id(found))] = body.tags()
        return web.json_response(self.group_json(found), status=200)

    # ---------------------------------------------------------------------------- resources

    async def all_resources(self) -> list[GenericResource]:
        """Everything in the subscription: the world's resources with their tags, and the emulator's own."""
        state, world = self.state, self.world
        found: list[GenericResource] = []

        def add(resource_id: str, kind: str, location: str, tags: Mapping[str, str]) -> None:
            found.append(GenericResource(resource_id, name_of(resource_id), kind, location, state.tags_of(resource_id, tags)))

        vms = await world.list_vms()
        for vm in vms:
            add(vm.id, ResourceKind.VM.value, vm.region, vm.tags)
        for disk in await world.list_disks():
            add(disk.id, ResourceKind.DISK.value, disk.region, disk.tags)
        for snap in await world.list_snapshots():
            add(snap.id, ResourceKind.SNAPSHOT.value, snap.region, snap.tags)
        for image in await world.list_images():
            add(image.id, ResourceKind.IMAGE.value, image.region, image.tags)
        for net in world.inventory.networks():
            add(net.id, ResourceKind.NETWORK.value, net.region, net.tags)
        seen_nsgs = set()
        for nsg in world.inventory.security_groups():
            seen_nsgs.add(id_key(nsg.id))
            definition = state.security_groups.get(id_key(nsg.id))
            add(nsg.id, ResourceKind.NSG.value, nsg.region, {**nsg.tags, **(definition.tags if definition else {})})
        for key, definition in state.security_groups.items():
            if key not in seen_nsgs:
                add(definition.id, ResourceKind.NSG.value, definition.location, definition.tags)
        for nic in (await self.emulator.network._all_nics()).values():
            found.append(GenericResource(nic.id, nic.name, ResourceKind.NIC.value, nic.location, state.tags_of(nic.id, nic.tags)))
        for vault in world.inventory.vaults():
            add(vault.id, VAULT_TYPE, vault.region, {})
        for account in state.storage_accounts.values():
            add(account.id, "Microsoft.Storage/storageAccounts", account.region, {})
        return found

    async def list_resources(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        wanted = parse_filter(request.query.get("$filter", ""), ("tagName", "tagValue", "resourceType", "name", "location"))
        if "tagValue" in wanted and "tagName" not in wanted:
            raise invalid_content("$filter", "tagValue needs tagName (tagName eq 'k' and tagValue eq 'v')")
        group = p.get("resource_group")
        items = []
        for resource in await self.all_resources():
            parsed = try_parse_id(resource.id)
            if group is not None and (parsed is None or parsed.resource_group.lower() != group.lower()):
                continue
            tag_name = wanted.get("tagName")
            if tag_name is not None:
                value = next((v for k, v in resource.tags.items() if k.lower() == tag_name.lower()), None)
                if value is None or ("tagValue" in wanted and value != wanted["tagValue"]):
                    continue
            if "resourceType" in wanted and resource.type.lower() != wanted["resourceType"].lower():
                continue
            if "name" in wanted and resource.name.lower() != wanted["name"].lower():
                continue
            if "location" in wanted and resource.location.lower() != wanted["location"].lower():
                continue
            items.append(resource.json())
        return web.json_response(listing(items))

    # --------------------------------------------------------------------------------- tags

    async def _scoped(self, scope: str) -> GenericResource:
        resource_id = "/" + scope.strip("/")
        found = next((r for r in await self.all_resources() if id_key(r.id) == id_key(resource_id)), None)
        if found is None:
            parsed = try_parse_id(resource_id)
            if parsed is None:
                raise ArmError(
                    400, ErrorCode.INVALID_PARAMETER, f"Tags are served on resources only; '{resource_id}' is not a resource id."
                )
            raise ArmError(
                404,
                ErrorCode.RESOURCE_NOT_FOUND,
                f"The Resource '{parsed.type}/{parsed.name}' under resource group '{parsed.resource_group}' was not found.",
            )
        return found

    def tags_json(self, resource: GenericResource, tags: dict[str, str]) -> JsonObject:
        return {
            "id": f"{resource.id}/providers/Microsoft.Resources/tags/default",
            "name": "default",
            "type": "Microsoft.Resources/tags",
            "properties": {"tags": tags},
        }

    async def _tags_after(self, resource: GenericResource) -> JsonObject:
        current = next(r for r in await self.all_resources() if id_key(r.id) == id_key(resource.id))
        return self.tags_json(current, current.tags)

    async def get_tags(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        resource = await self._scoped(p["scope"])
        return web.json_response(self.tags_json(resource, resource.tags))

    async def put_tags(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        body = await Body.of(request)
        resource = await self._scoped(p["scope"])
        self.state.replace_tags(resource.id, body.tags("properties.tags"))
        return web.json_response(await self._tags_after(resource))

    async def patch_tags(self, request: web.Request, p: dict[str, str]) -> web.StreamResponse:
        """Merge, Replace or Delete (TagsPatchResource.operation); answered 200 with the resulting tags."""
        body = await Body.of(request)
        resource = await self._scoped(p["scope"])
        operation = (body.optional_string("operation") or "Merge").lower()
        tags = body.tags("properties.tags")
        if operation == "merge":
            merged = {**resource.tags, **tags}
        elif operation == "replace":
            merged = tags
        elif operation == "delete":
            merged = {k: v for k, v in resource.tags.items() if not (k in tags and tags[k] in ("", v))}
        else:
            raise invalid_content("operation", f"'{operation}' is not Merge, Replace or Delete")
        self.state.replace_tags(resource.id, merged)
        return web.json_response(await self._tags_after(resource))
