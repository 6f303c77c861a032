"""Azure SDK models read into drsim's plain records (drsim.cloud.api), and the protected items behind them.

Pure functions over SDK models: no I/O, so each is tested on recorded response shapes. The known
SDK fault (azure-sdk-notes.md) is handled here: a VM protected item may deserialize as the base
`ProtectedItem` class; `backup_item` re-wraps its properties as `AzureIaaSComputeVMProtectedItem`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from azure.mgmt.compute import models as compute
from azure.mgmt.network import models as network
from azure.mgmt.recoveryservicesbackup import models as backup
from azure.mgmt.recoveryservicesbackup.passivestamp import models as passive
from azure.mgmt.recoveryservicessiterecovery import models as asr

from drsim.cloud.api import (
    BackupPoint,
    Image,
    IsolatedNetwork,
    IsolationReport,
    ManagedDisk,
    PointTier,
    PointType,
    ReplicationPoint,
    Snapshot,
    VirtualMachine,
)
from drsim.cloud.arm import parse_id, same_id
from drsim.errors import ProviderError
from drsim.model.types import OsType, PowerState

GATEWAY_SUBNET = "GatewaySubnet"  # the subnet a VNet gateway lives in (vpn-gateway-about-vpn-gateway-settings)


def text(value: Any) -> str:
    """SDK enums are str subclasses whose str() is `Type.MEMBER`: the wire value instead."""
    if value is None:
        return ""
    return str(value.value) if isinstance(value, Enum) else str(value)


def _tags(value: Mapping[str, str] | None) -> dict[str, str]:
    return dict(value or {})


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def _required(value: Any, what: str) -> Any:
    if value is None:
        raise ProviderError(f"Azure returned no {what}")
    return value


# ----------------------------------------------------------------------------------------- compute


def os_type(value: Any) -> OsType:
    return OsType.WINDOWS if text(value).lower() == "windows" else OsType.LINUX


def power_state(view: compute.VirtualMachineInstanceView | None) -> PowerState:
    """From the instance view's `PowerState/<code>` status (states-billing)."""
    for status in view.statuses if view and view.statuses else []:
        code = (status.code or "").lower()
        if code.startswith("powerstate/"):
            state = code.split("/", 1)[1]
            if state in ("running", "starting"):
                return PowerState.RUNNING
            if state in ("deallocated", "deallocating"):
                return PowerState.DEALLOCATED
            return PowerState.STOPPED
    return PowerState.STOPPED


def is_generalized(view: compute.VirtualMachineInstanceView | None) -> bool:
    """The instance view reports `OSState/generalized` for a VM marked generalized."""
    return any((s.code or "").lower() == "osstate/generalized" for s in (view.statuses if view and view.statuses else []))


def has_booted(view: compute.VirtualMachineInstanceView | None) -> bool:
    """The guest finished booting: running, and its VM agent reports Ready (the guest agent status)."""
    if view is None or power_state(view) is not PowerState.RUNNING:
        return False
    agent = view.vm_agent
    statuses = agent.statuses if agent is not None and agent.statuses else []
    return any((s.display_status or "").lower() == "ready" or (s.code or "").lower() == "provisioningstate/succeeded" for s in statuses)


def disk_ids(vm: compute.VirtualMachine) -> tuple[str, ...]:
    """OS disk first, then data disks by LUN."""
    profile = vm.storage_profile
    if profile is None or profile.os_disk is None:
        return ()
    found = []
    if profile.os_disk.managed_disk is not None and profile.os_disk.managed_disk.id:
        found.append(profile.os_disk.managed_disk.id)
    for data in sorted(profile.data_disks or [], key=lambda d: d.lun):
        if data.managed_disk is not None and data.managed_disk.id:
            found.append(data.managed_disk.id)
    return tuple(found)


def nic_ids(vm: compute.VirtualMachine) -> list[str]:
    profile = vm.network_profile
    refs = profile.network_interfaces if profile is not None and profile.network_interfaces else []
    primary = [r.id for r in refs if r.id and r.primary]
    return primary + [r.id for r in refs if r.id and not r.primary]


def vnet_of_subnet(subnet_id: str) -> str:
    """`.../virtualNetworks/<vnet>/subnets/<subnet>` -> the VNet's id."""
    parsed = parse_id(subnet_id)
    return str(type(parsed)(parsed.subscription, parsed.resource_group, parsed.namespace, parsed.path[:1]))


def nic_network(nic: network.NetworkInterface) -> str | None:
    """The VNet of a NIC's first IP configuration."""
    for config in nic.ip_configurations or []:
        if config.subnet is not None and config.subnet.id:
            return vnet_of_subnet(config.subnet.id)
    return None


def virtual_machine(vm: compute.VirtualMachine, network_id: str | None) -> VirtualMachine:
    view = vm.instance_view
    profile = vm.storage_profile
    return VirtualMachine(
        id=_required(vm.id, "VM id"),
        name=_required(vm.name, "VM name"),
        region=_required(vm.location, "VM location"),
        os=os_type(profile.os_disk.os_type if profile is not None and profile.os_disk is not None else None),
        size=text(vm.hardware_profile.vm_size) if vm.hardware_profile is not None else "",
        power=power_state(view),
        generalized=is_generalized(view),
        disk_ids=disk_ids(vm),
        network_id=network_id,
        tags=_tags(vm.tags),
        booted=has_booted(view),
    )


def managed_disk(disk: compute.Disk) -> ManagedDisk:
    size = disk.disk_size_gb or 0
    source = disk.creation_data.source_resource_id if disk.creation_data is not None else None
    return ManagedDisk(
        id=_required(disk.id, "disk id"),
        name=_required(disk.name, "disk name"),
        region=_required(disk.location, "disk location"),
        size_gib=size,
        # ARM reports no used size for a managed disk: the provisioned size is the upper bound.
        used_gib=float(size),
        vm_id=disk.managed_by,
        source_id=source,
        tags=_tags(disk.tags),
    )


def snapshot(snap: compute.Snapshot, source_of: Mapping[str, str]) -> Snapshot:
    """`source_of` maps snapshot ids (lower case) to their disk, to follow a cross-region copy back."""
    source = snap.creation_data.source_resource_id if snap.creation_data is not None else None
    copy_of = None
    disk_id = source or ""
    if source is not None and parse_id(source).type.lower() == "microsoft.compute/snapshots":
        copy_of = source
        disk_id = source_of.get(source.lower(), source)
    return Snapshot(
        id=_required(snap.id, "snapshot id"),
        name=_required(snap.name, "snapshot name"),
        region=_required(snap.location, "snapshot location"),
        disk_id=disk_id,
        taken_at=_required(_utc(snap.time_created), "snapshot timeCreated"),
        incremental=bool(snap.incremental),
        used_gib=float(snap.disk_size_gb or 0),
        copy_of=copy_of,
        tags=_tags(snap.tags),
    )


def image(img: compute.Image) -> Image:
    profile = img.storage_profile
    data = len(profile.data_disks or []) if profile is not None else 0
    source = img.source_virtual_machine.id if img.source_virtual_machine is not None else None
    return Image(
        id=_required(img.id, "image id"),
        name=_required(img.name, "image name"),
        region=_required(img.location, "image location"),
        source_vm_id=source or "",
        disk_count=1 + data,
        tags=_tags(img.tags),
    )


# ----------------------------------------------------------------------------------------- network


def _denies_all_outbound(rules: Iterable[network.SecurityRule]) -> bool:
    """The lowest-priority-number outbound rule matching all traffic to anywhere denies it."""
    outbound = sorted(
        (r for r in rules if (r.direction or "").lower() == "outbound" and r.priority is not None), key=lambda r: r.priority or 0
    )
    for rule in outbound:
        everywhere = (rule.destination_address_prefix or "") in ("*", "Internet", "0.0.0.0/0") and (rule.protocol or "*") == "*"
        if everywhere:
            return (rule.access or "").lower() == "deny"
    return False


def isolation(vnet: network.VirtualNetwork, nsgs: Mapping[str, network.NetworkSecurityGroup]) -> IsolationReport:
    """What makes a VNet isolated (azure-sdk-notes.md): no peering, no gateway, outbound denied."""
    peerings = tuple(
        p.remote_virtual_network.id if p.remote_virtual_network is not None and p.remote_virtual_network.id else (p.name or "")
        for p in vnet.virtual_network_peerings or []
    )
    gateways: list[str] = []
    denied = bool(vnet.subnets)
    default_outbound = False
    for subnet in vnet.subnets or []:
        if subnet.name == GATEWAY_SUBNET:
            gateways += [c.id for c in subnet.ip_configurations or [] if c.id] or [subnet.id or GATEWAY_SUBNET]
            continue
        # Subnets default to outbound access unless it is turned off (default-outbound-access).
        if subnet.default_outbound_access is not False:
            default_outbound = True
        nsg_ref = subnet.network_security_group
        nsg = nsgs.get(nsg_ref.id.lower()) if nsg_ref is not None and nsg_ref.id else None
        if nsg is None or not _denies_all_outbound(nsg.security_rules or []):
            denied = False
    return IsolationReport(
        network_id=_required(vnet.id, "VNet id"),
        peerings=peerings,
        gateways=tuple(gateways),
        outbound_denied=denied,
        default_outbound_access=default_outbound,
    )


def isolated_network(vnet: network.VirtualNetwork) -> IsolatedNetwork:
    subnet = next((s for s in vnet.subnets or [] if s.name != GATEWAY_SUBNET), None)
    if subnet is None or not subnet.id:
        raise ProviderError(f"virtual network {vnet.id} has no subnet")
    prefixes = vnet.address_space.address_prefixes if vnet.address_space is not None else None
    nsg = subnet.network_security_group.id if subnet.network_security_group is not None else None
    return IsolatedNetwork(
        id=_required(vnet.id, "VNet id"),
        name=_required(vnet.name, "VNet name"),
        region=_required(vnet.location, "VNet location"),
        cidr=(prefixes or [""])[0],
        subnet_id=subnet.id,
        nsg_id=nsg or "",
        tags=_tags(vnet.tags),
    )


# ------------------------------------------------------------------------------------------ backup


@dataclass(frozen=True)
class BackupItem:
    """A VM protected by Azure Backup: where it lives in the vault, and its policy."""

    vm_id: str
    vm_name: str
    vault: str
    vault_group: str
    container: str
    item: str
    policy_id: str | None
    region: str | None  # the vault's region, where the item's points restore


def backup_item(resource: backup.ProtectedItemResource) -> BackupItem | None:
    """The VM behind a protected item, or None for other workloads."""
    props = resource.properties
    if props is None:
        return None
    if not isinstance(props, backup.AzureIaaSVMProtectedItem):
        kind = str(props.get("protectedItemType", ""))
        if kind.lower() not in ("microsoft.compute/virtualmachines", "microsoft.classiccompute/virtualmachines"):
            return None
        # Known SDK fault (azure-sdk-notes.md): the base class comes back; re-wrap its properties.
        props = backup.AzureIaaSComputeVMProtectedItem(dict(props))
    vm_id = props.virtual_machine_id or props.source_resource_id
    if not vm_id or not resource.id:
        return None
    parsed = parse_id(resource.id)
    return BackupItem(
        vm_id=vm_id,
        vm_name=props.friendly_name or parse_id(vm_id).name,
        vault=parsed.child("vaults"),
        vault_group=parsed.resource_group,
        container=parsed.child("protectionContainers"),
        item=parsed.child("protectedItems"),
        policy_id=props.policy_id,
        region=resource.get("location"),
    )


_TIERS = {"instantrp": PointTier.SNAPSHOT, "hardenedrp": PointTier.VAULT}


def point_type(value: str | None) -> PointType:
    """Backup says AppConsistent / FileSystemConsistent / CrashConsistent; Site Recovery may say ApplicationConsistent."""
    text = (value or "").lower()
    if text.startswith("app"):
        return PointType.APP_CONSISTENT
    if text.startswith("filesystem"):
        return PointType.FILE_SYSTEM_CONSISTENT
    return PointType.CRASH_CONSISTENT


def backup_point(resource: backup.RecoveryPointResource | passive.RecoveryPointResource, vm_id: str, region: str) -> BackupPoint | None:
    """An Azure VM recovery point, from the Backup API or from its cross-region restore (passive stamp) API,
    whose models are their own classes of the same shape; `region`: where the point restores."""
    props = resource.properties
    if (
        not isinstance(props, backup.IaasVMRecoveryPoint | passive.IaasVMRecoveryPoint)
        or props.recovery_point_time is None
        or not resource.id
    ):
        return None
    tiers = frozenset(
        _TIERS[(t.type or "").lower()]
        for t in props.recovery_point_tier_details or []
        if (t.type or "").lower() in _TIERS and (t.status or "Valid").lower() == "valid"
    )
    return BackupPoint(
        id=resource.id,
        vm_id=vm_id,
        time=props.recovery_point_time.astimezone(UTC),
        type=point_type(props.recovery_point_type),
        tiers=tiers,
        region=region,
    )


# ----------------------------------------------------------------------------------- site recovery


@dataclass(frozen=True)
class ReplicatedItem:
    """A VM replicated by Site Recovery (A2A): the item's names in the vault and its replica settings."""

    vm_id: str
    vm_name: str
    item_id: str
    vault: str
    vault_group: str
    fabric: str
    container: str
    item: str
    group: str | None
    target_region: str | None
    policy_id: str | None
    recovery_resource_group_id: str | None
    test_vm_name: str | None
    test_failover_state: str | None


def replicated_item(resource: asr.ReplicationProtectedItem) -> ReplicatedItem | None:
    props = resource.properties
    details = props.provider_specific_details if props is not None else None
    if props is None or not isinstance(details, asr.A2AReplicationDetails) or not details.fabric_object_id or not resource.id:
        return None
    parsed = parse_id(resource.id)
    return ReplicatedItem(
        vm_id=details.fabric_object_id,
        vm_name=props.friendly_name or parse_id(details.fabric_object_id).name,
        item_id=resource.id,
        vault=parsed.child("vaults"),
        vault_group=parsed.resource_group,
        fabric=parsed.child("replicationFabrics"),
        container=parsed.child("replicationProtectionContainers"),
        item=parsed.child("replicationProtectedItems"),
        group=details.multi_vm_group_name or None,
        target_region=details.recovery_fabric_location,
        policy_id=props.policy_id,
        recovery_resource_group_id=details.recovery_azure_resource_group_id,
        test_vm_name=details.tfo_azure_vm_name,
        test_failover_state=props.test_failover_state,
    )


def replication_point(resource: asr.RecoveryPoint, item: ReplicatedItem) -> ReplicationPoint | None:
    props = resource.properties
    if props is None or props.recovery_point_time is None or not resource.id:
        return None
    details = props.provider_specific_details
    multi_vm = isinstance(details, asr.A2ARecoveryPointDetails) and (details.recovery_point_sync_type or "").lower() == (
        asr.RecoveryPointSyncType.MULTI_VM_SYNC_RECOVERY_POINT.value.lower()
    )
    return ReplicationPoint(
        id=resource.id,
        vm_id=item.vm_id,
        time=props.recovery_point_time.astimezone(UTC),
        type=point_type(props.recovery_point_type),
        # A multi-VM point of an item whose group name is not shown still belongs to a group: its VM's own.
        group=(item.group or item.vm_name) if multi_vm else None,
        processed=True,  # ARM lists processed points only; 'latest' is asked for with no point id
    )


def matching(items: Iterable[Any], vm_id: str) -> Any | None:
    """The protected or replicated item of a VM (ids compared case-insensitively)."""
    return next((i for i in items if same_id(i.vm_id, vm_id)), None)
