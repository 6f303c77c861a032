"""Before a drill creates anything in Azure: its resource group holds none of the estate's resources.

Validation refuses a drill whose `azure.resource_group` the estate names as production's; this is the
same rule checked against Azure's own listing of the group, which knows where production really is
(an estate written by hand may name no resource group at all). Resources are recognised as
`drsim discover` names them: VMs and virtual networks by name, managed disks by `<vm>-<disk>` (or
`_`, `.`); anything carrying a drill's run tag is a drill's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drsim.cloud.api import RUN_TAG
from drsim.cloud.azure.discovery import _disk_name, _name
from drsim.cloud.azure.errors import translated
from drsim.cloud.azure.provider import AzureProvider
from drsim.errors import NotFoundError, UsageError
from drsim.model.documents import Estate

VM_TYPE = "microsoft.compute/virtualmachines"
DISK_TYPE = "microsoft.compute/disks"
NETWORK_TYPE = "microsoft.network/virtualnetworks"


@dataclass(frozen=True)
class ListedResource:
    """What the Resources API lists of one resource (the parts this check reads)."""

    type: str
    name: str
    tags: dict[str, str]


def production_in(listed: Iterable[ListedResource], estate: Estate) -> list[str]:
    """The estate's VMs, disks and networks among `listed`, described ("VM sql-01"), in listing order."""
    vms = {vm.name.lower(): vm for vm in estate.vms}
    networks = {net.name.lower() for net in estate.networks}
    found: list[str] = []
    for resource in listed:
        if RUN_TAG in resource.tags:
            continue  # created by a drill (perhaps left over): not production
        kind, name = resource.type.lower(), _name(resource.name).lower()
        if kind == VM_TYPE and name in vms:
            found.append(f"VM {vms[name].name}")
        elif kind == NETWORK_TYPE and name in networks:
            found.append(f"virtual network {resource.name}")
        elif kind == DISK_TYPE:
            found += [
                f"disk {resource.name} of VM {vm.name}"
                for vm in estate.vms
                if resource.name.lower().startswith(vm.name.lower())
                and _disk_name(vm.name, resource.name).lower() in {d.name.lower() for d in vm.disks}
            ]
    return found


async def check_drill_group(provider: AzureProvider, estate: Estate) -> None:
    """UsageError (exit 2) when the drill's resource group holds a VM, disk or network of the estate.
    Called before the drill creates anything; a group that does not exist yet holds nothing."""
    group = provider.resource_group
    try:
        async with translated(f"listing the resources of resource group {group}"):
            listed = [
                ListedResource(r.type or "", r.name or "", dict(r.tags or {}))
                async for r in provider.clients.resources.resources.list_by_resource_group(group)
            ]
    except NotFoundError:
        return
    found = production_in(listed, estate)
    if found:
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise UsageError(
            f"resource group {group} holds production ({found[0]} of estate {estate.name}{more}): "
            "a drill creates its resources in a resource group of its own; set azure.resource_group to another"
        )
