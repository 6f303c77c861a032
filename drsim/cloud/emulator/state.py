"""What the emulator keeps beside the world: the ARM-only detail of resources, and its bookkeeping.

The world models what matters for recovery; ARM also has detail the world does not model and that
clients read back: network interfaces, the rules of a security group, a subnet's name, peerings
added after a network was made, tags merged through the Tags API, a VM's delete options, and the
jobs and in-flight operations the emulator answered. That detail lives here, keyed by ARM id.
"""

from __future__ import annotations

import copy
import ipaddress
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from drsim.cloud.api import Job, JobKind, ResourceKind, VirtualMachine
from drsim.cloud.arm import ArmThrottle, id_key, resource_group_id, try_parse_id
from drsim.cloud.emulator.arm import ArmError, ErrorCode, JsonObject
from drsim.cloud.emulator.world import ArmSettings, EmulatedWorld, subscription_of
from drsim.cloud.sim import resources as sim_resources
from drsim.cloud.sim.resources import DRILL_GROUP, SUBSCRIPTION, NetworkState
from drsim.model.documents import Estate
from drsim.model.types import OsType


class Provisioning(StrEnum):
    """properties.provisioningState while an operation runs on a resource (ARM RPC contract)."""

    CREATING = "Creating"
    UPDATING = "Updating"
    DELETING = "Deleting"
    SUCCEEDED = "Succeeded"


@dataclass
class NetworkInterface:
    """A NIC: the world attaches VMs to networks directly, ARM through NICs."""

    id: str
    name: str
    location: str
    subnet_id: str
    private_ip: str
    tags: dict[str, str] = field(default_factory=dict)
    vm_id: str | None = None


DEFAULT_STAGING_ACCOUNT = "drsimstaging"
"""The Backup staging account the emulator keeps unless told of others."""


def crr_staging_name(region: str) -> str:
    """The staging account the emulator keeps in a secondary region for cross-region restores
    (`drsimcrr<region>`, cut to a storage account name's 24 characters)."""
    return f"drsimcrr{region}"[:24]


@dataclass(frozen=True)
class StorageAccount:
    """A storage account the emulator serves (the world has none): a Backup staging account."""

    id: str
    name: str
    group: str
    region: str
    sku: str


@dataclass
class SecurityGroupDefinition:
    """The security rules and tags a client PUT for a network security group."""

    id: str
    name: str
    location: str
    rules: list[JsonObject]
    tags: dict[str, str]


class DiskCreateOption(StrEnum):
    """How a VM got its OS disk: attached, or made from a managed image."""

    ATTACH = "Attach"
    FROM_IMAGE = "FromImage"


@dataclass
class VmExtras:
    """The parts of a VM's PUT body the world keeps no record of."""

    nic_ids: list[str]
    nic_delete: list[str]  # NICs whose deleteOption is Delete: they go with the VM
    os_disk_delete: bool  # the OS disk's deleteOption is Delete
    data_disks_delete: bool
    create_option: DiskCreateOption
    image_id: str | None = None
    computer_name: str | None = None
    admin_username: str | None = None
    admin_password_sha256: str | None = None  # of osProfile.adminPassword as PUT: never kept, never answered (only compared)
    security_profile: JsonObject | None = None  # securityProfile as PUT (Trusted Launch: securityType and uefiSettings)


@dataclass
class NetworkExtras:
    """What a client PUT for a virtual network beyond the world's record: its subnet, and peerings."""

    subnet_name: str | None = None
    subnet_prefix: str | None = None
    default_outbound_access: bool | None = None
    peerings: dict[str, str] = field(default_factory=dict)  # peering name -> remote VNet id


@dataclass
class PendingResource:
    """A resource whose create, update or delete operation is still running: GET shows it in that state."""

    body: JsonObject
    state: Provisioning


class JobFamily(StrEnum):
    BACKUP = "backupJobs"
    CROSS_REGION = "backupCrrJobs"  # a cross-region restore's job: in the secondary region, not in the vault's listing
    SITE_RECOVERY = "replicationJobs"


@dataclass
class JobRecord:
    """A world job the emulator started, named as its vault names it."""

    name: str
    family: JobFamily
    world_id: str
    vault_id: str
    item_id: str  # the protected or replicated item it acts on
    vm_name: str
    kind: JobKind
    details: dict[str, str] = field(default_factory=dict)  # Backup's property bag; Site Recovery's network and point
    last: Job | None = None
    region: str = ""  # of a cross-region restore job: the secondary region it runs in


class EmulatorState:
    """The world and what the emulator adds to it, for the resource provider services to share."""

    _extra_groups: set[str]

    def __init__(self, world: EmulatedWorld, settings: ArmSettings | None = None) -> None:
        self.world = world
        settings = settings or ArmSettings()
        self._extra_groups = set()
        inventory = world.inventory
        ids = [v.id for v in inventory.vaults()] + [n.id for n in inventory.networks()]
        # The subscription the world's ids live in (the simulated world has one).
        self.subscription_id = subscription_of(ids) or SUBSCRIPTION
        self.arm_region = world.estate.regions.primary
        regions = [world.estate.regions.primary, world.estate.regions.recovery, *(vm.region for vm in world.estate.vms)]
        self.regions = tuple(dict.fromkeys(r for r in regions if r))
        self.drill_group = DRILL_GROUP
        # Where the drill identity may write (Contributor): the drill's group unless told otherwise.
        self.writable_groups = settings.writable_groups or (DRILL_GROUP,)
        self.vcpu_quota = settings.vcpu_quota
        self.storage_accounts: dict[str, StorageAccount] = {}
        # A staging account for Backup restores (drsimstaging, in the drill group and the primary region,
        # Standard_LRS), unless told of others; tests add more (another region, ZRS) to see restores refused.
        staging = self.resource_id(DRILL_GROUP, "Microsoft.Storage/storageAccounts", DEFAULT_STAGING_ACCOUNT)
        if not settings.storage_accounts:
            self.storage_accounts[id_key(staging)] = StorageAccount(
                staging, DEFAULT_STAGING_ACCOUNT, DRILL_GROUP, self.arm_region, "Standard_LRS"
            )
            # A cross-region restore stages in the secondary region (backup-azure-arm-restore-vms): one
            # account in the paired region of each vault with cross-region restore.
            for paired in sorted({v.paired_region for v in inventory.vaults() if v.cross_region_restore and v.paired_region}):
                name = crr_staging_name(paired)
                account_id = self.resource_id(DRILL_GROUP, "Microsoft.Storage/storageAccounts", name)
                self.storage_accounts[id_key(account_id)] = StorageAccount(account_id, name, DRILL_GROUP, paired, "Standard_LRS")
        for spec in settings.storage_accounts:
            account_id = self.resource_id(spec.group, "Microsoft.Storage/storageAccounts", spec.name)
            self.storage_accounts[id_key(account_id)] = StorageAccount(account_id, spec.name, spec.group, spec.region, spec.sku)
            self._extra_groups.add(spec.group)
        # One token per ARM request, taken at the front door with the world's limits (and only if the
        # world throttles at all); the world's own calls behind a request take none.
        self.throttle = ArmThrottle(world.catalog.arm.limits(), enabled=world.throttle.enabled)
        self._world_throttle = world.throttle
        quiet = copy.copy(world.throttle)
        quiet.enabled = False
        world.throttle = quiet
        self.tags: dict[str, dict[str, str]] = {}
        self.nics: dict[str, NetworkInterface] = {}
        self.security_groups: dict[str, SecurityGroupDefinition] = {}
        self.networks: dict[str, NetworkExtras] = {}
        self.image_os: dict[str, OsType] = {}  # images the emulator made: their source VM's OS
        self.disk_skus: dict[str, str] = {}  # disks made through ARM: the SKU their PUT gave
        self.vm_extras: dict[str, VmExtras] = {}
        self.pending: dict[str, PendingResource] = {}
        self.jobs: dict[str, JobRecord] = {}
        self.test_failovers: dict[str, str] = {}  # replicated item id key -> job name of its test failover
        self._groups: set[str] = set(self._extra_groups)

    def release(self) -> None:
        """Give the world its own throttle back (the emulator stops serving it)."""
        self.world.throttle = self._world_throttle

    # ----------------------------------------------------------------------------------- ARM

    async def resource_groups(self) -> set[str]:
        """Every resource group something of the world lives in, plus the drill group."""
        groups = {self.drill_group, *self._groups}
        inventory = self.world.inventory
        ids = [v.id for v in inventory.vaults()] + [n.id for n in inventory.networks()] + [g.id for g in inventory.security_groups()]
        if not ids:  # an estate without networks or vaults: its VMs name its groups
            ids = [vm.id for vm in await self.world.list_vms()]
        for resource_id in ids:
            parsed = try_parse_id(resource_id)
            if parsed is not None:
                groups.add(parsed.resource_group)
        self._groups |= groups  # a group outlives an outage of its region, as in ARM
        return set(self._groups)

    async def find_resource_group(self, name: str) -> str | None:
        """The group's name as ARM spells it, or None (group names compare case-insensitively)."""
        return next((g for g in await self.resource_groups() if g.lower() == name.lower()), None)

    def group_id(self, group: str) -> str:
        return resource_group_id(self.subscription_id, group)

    def require_drill_group(self, group: str, what: str) -> None:
        """The world makes everything a drill creates in its drill group; refuse creating elsewhere."""
        if group.lower() != self.drill_group.lower():
            raise ArmError(
                400,
                ErrorCode.INVALID_PARAMETER,
                f"The emulator's world creates {what} in resource group '{self.drill_group}' only "
                f"(production groups are read-only to a drill): PUT it under /resourceGroups/{self.drill_group}.",
                target="resourceGroupName",
            )

    def resource_id(self, group: str, type_path: str, name: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{group}/providers/{type_path}/{name}"

    # ---------------------------------------------------------------------------------- tags

    def tags_of(self, resource_id: str, world_tags: Mapping[str, str]) -> dict[str, str]:
        """The world's tags with those merged through the Tags API on top."""
        merged = dict(world_tags)
        merged.update(self.tags.get(id_key(resource_id), {}))
        return merged

    def merge_tags(self, resource_id: str, tags: Mapping[str, str]) -> None:
        self.tags.setdefault(id_key(resource_id), {}).update(tags)

    def forget(self, resource_id: str) -> None:
        """Drop what the emulator kept about a deleted resource."""
        key = id_key(resource_id)
        self.tags.pop(key, None)
        self.security_groups.pop(key, None)
        self.networks.pop(key, None)
        self.vm_extras.pop(key, None)
        self.pending.pop(key, None)
        self.image_os.pop(key, None)
        self.disk_skus.pop(key, None)

    def replace_tags(self, resource_id: str, tags: Mapping[str, str]) -> None:
        """A PUT or PATCH of `tags`: they replace the merged ones (the world's own tags stay underneath)."""
        key = id_key(resource_id)
        nic = self.nics.get(key)
        if nic is not None:
            nic.tags = dict(tags)
        else:
            self.tags[key] = dict(tags)

    # -------------------------------------------------------------------------------- naming

    @staticmethod
    def stable_guid(resource_id: str) -> str:
        """A GUID fixed by the resource id (vmId, activityId): the same across runs."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, id_key(resource_id)))

    def implicit_nic_id(self, vm: VirtualMachine) -> str:
        """The NIC of a VM the world made without one (estate VMs, restored and test-failover VMs)."""
        parsed = try_parse_id(vm.id)
        group = parsed.resource_group if parsed is not None else self.drill_group
        return self.resource_id(group, "Microsoft.Network/networkInterfaces", f"{vm.name}-nic")

    def detach_nic(self, vm: VirtualMachine) -> None:
        """A VM the world made (restored by Azure Backup) was deleted through ARM: its NIC stays, as
        ARM keeps a NIC whose deleteOption is Detach, no longer attached but still in its subnet."""
        if vm.network_id is None:
            return
        nic_id = self.implicit_nic_id(vm)
        net = self.network(vm.network_id)
        subnet = self.subnet_id(net) if net is not None else f"{vm.network_id}/subnets/default"
        taken = sum(1 for n in self.nics.values() if id_key(self.vnet_of_subnet(n.subnet_id)) == id_key(vm.network_id))
        tags = self.tags.pop(id_key(nic_id), {})
        self.nics[id_key(nic_id)] = NetworkInterface(
            nic_id, nic_id.rsplit("/", 1)[-1], vm.region, subnet, self.private_ip(net, 2000 + taken), dict(tags), None
        )

    def nics_in(self, network_id: str, vms: list[VirtualMachine]) -> list[str]:
        """Ids of the NICs in a network's subnets: the emulator's own, and those of the VMs the world
        attached to it (a VNet or subnet holding any cannot be deleted)."""
        key = id_key(network_id)
        found = [n.id for n in self.nics.values() if id_key(self.vnet_of_subnet(n.subnet_id)) == key]
        for vm in vms:
            if vm.network_id is not None and id_key(vm.network_id) == key and id_key(vm.id) not in self.vm_extras:
                found.append(self.implicit_nic_id(vm))
        return sorted(set(found), key=str.lower)

    @staticmethod
    def vnet_of_subnet(subnet_id: str) -> str:
        """`.../virtualNetworks/<vnet>/subnets/<subnet>` -> the VNet's id."""
        head, sep, _ = subnet_id.rstrip("/").rpartition("/subnets/")
        return head if sep else subnet_id

    def network(self, network_id: str) -> NetworkState | None:
        key = id_key(network_id)
        return next((n for n in self.world.inventory.networks() if id_key(n.id) == key), None)

    def subnet_id(self, network: NetworkState) -> str:
        """The network's one subnet, under the name the client gave it (the world names it `default`)."""
        extras = self.networks.get(id_key(network.id))
        if extras is not None and extras.subnet_name:
            return f"{network.id}/subnets/{extras.subnet_name}"
        return network.subnet_id

    def private_ip(self, network: NetworkState | None, index: int) -> str:
        """The index-th address of a subnet after the 4 Azure reserves (virtual-networks-faq)."""
        if network is None:
            return ""
        try:
            space = ipaddress.ip_network(network.cidr, strict=False)
            return str(space[4 + index]) if space.num_addresses > 5 + index else ""
        except (ValueError, IndexError):
            return ""


def estate_vm_uuids(estate: Estate) -> Estate:
    """The estate with each VM's vmId as the emulator serves it (`drsim discover` against the emulator
    writes the same): the canary check needs it when the VM's region is down and ARM cannot show it."""
    group = sim_resources.production_group(estate.name)

    def uuid_of(name: str) -> str:
        return EmulatorState.stable_guid(sim_resources.resource_id(group, ResourceKind.VM, name))

    vms = tuple(vm.model_copy(update={"vm_uuid": uuid_of(vm.name)}) for vm in estate.vms)
    return estate.model_copy(update={"vms": vms})
