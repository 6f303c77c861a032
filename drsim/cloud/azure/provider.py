"""`AzureProvider`: drsim's CloudProvider on the Azure SDK's `.aio` management clients.

Compute and Network models take their properties as flattened keyword arguments at run time
(azure-sdk-notes.md) but their type overloads do not list them: those calls carry a type-ignore.

Every SDK call runs inside `translated(...)`, so what leaves this module is a drsim error. Long-running
operations are awaited; Backup restores and Site Recovery test failovers return a Job at once, whose
id is the ARM id of the vault job (`.../vaults/<v>/backupJobs/<id>` or `.../replicationJobs/<id>`),
followed with `get_job`. Resources the drill creates carry the run tag (RUN_TAG); resources that
Azure creates on the drill's behalf (restored VMs and disks, test-failover VMs) are tagged when
their job succeeds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute import models as compute
from azure.mgmt.network import models as network
from azure.mgmt.recoveryservicesbackup import models as backup
from azure.mgmt.recoveryservicesbackup.passivestamp import models as passive
from azure.mgmt.recoveryservicessiterecovery import models as asr

from drsim.clock import Clock, WallClock
from drsim.cloud import canary
from drsim.cloud.api import (
    RUN_TAG,
    BackupPoint,
    CanaryReading,
    Image,
    IsolatedNetwork,
    IsolationReport,
    Job,
    JobErrorKind,
    JobKind,
    JobStatus,
    ManagedDisk,
    PointTier,
    PointType,
    ReplicationPoint,
    ResourceKind,
    RestoreMode,
    Snapshot,
    TaggedResource,
    VirtualMachine,
)
from drsim.cloud.arm import kind_named, operation_name, parse_id, resource_id, same_id, try_parse_id
from drsim.cloud.azure import records
from drsim.cloud.azure.clients import DEFAULT_POLLING_INTERVAL, AzureClients
from drsim.cloud.azure.clock import WORLD_TIME_HEADER, EmulatorClock, EmulatorTimePolicy
from drsim.cloud.azure.errors import translated
from drsim.cloud.azure.names import azure_name, computer_name, nic_name
from drsim.cloud.azure.throttle import Throttle
from drsim.cloud.prices import cost_per_day, list_prices
from drsim.errors import ConflictError, NotFoundError, ProviderError, TransientError
from drsim.model.documents import AzureOptions
from drsim.model.endpoints import check_endpoint
from drsim.model.regions import AZURE_REGION_PAIRS
from drsim.model.types import OsType, ReplicationPointChoice
from drsim.times import parse_utc, utc_text

VAULT_TYPE = "Microsoft.RecoveryServices/vaults"
BACKUP_FABRIC = "Azure"  # the one fabric of Azure VM backup (azure-sdk-notes.md)
BACKUP_ITEM_FILTER = "backupManagementType eq 'AzureIaasVM' and itemType eq 'VM'"
DRILL_SUBNET = "drill"
DENY_OUTBOUND_RULE = "drsim-deny-all-outbound"
JOB_LOOKUPS = 6  # reads of an accepted Site Recovery operation's job (item, then jobs listing) before giving up
BUSY_CODE = "AnotherOperationInProgress"
BUSY_ATTEMPTS = 40  # polls (15 s each by default): ten minutes for the first operation to end
JOB_CLOCK_SKEW = timedelta(minutes=5)  # a job found by its start time may have started this much before our clock said
ADMIN_USER = "drsimadmin"
STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
STORAGE_API_VERSION = "2023-05-01"
VAULT_API_VERSION = "2024-04-01"
STORAGE_SCOPE = "https://storage.azure.com/.default"
BLOB_API_VERSION = "2021-08-06"  # x-ms-version of a Blob service GET with an Azure AD token
CRR_JOBS = "backupCrrJobs"
"""The last segment of drsim's id for a cross-region restore job: `<vault id>/locations/<secondary>/backupCrrJobs/<name>`.
Azure names such a job `/subscriptions/<s>/providers/Microsoft.RecoveryServices/locations/<secondary>/backupJobs/<name>`
(GetCrrJob_Post.json) and reads it by vault id and name; drsim's id carries both, so a resumed run can follow it."""

_JOB_STATES = {
    "succeeded": JobStatus.SUCCEEDED,
    "completed": JobStatus.SUCCEEDED,
    "completedwithwarnings": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    "canceled": JobStatus.CANCELLED,
    "cancelling": JobStatus.CANCELLING,
    "canceling": JobStatus.CANCELLING,
}

_DELETERS = {
    ResourceKind.VM: ("compute", "virtual_machines"),
    ResourceKind.DISK: ("compute", "disks"),
    ResourceKind.SNAPSHOT: ("compute", "snapshots"),
    ResourceKind.IMAGE: ("compute", "images"),
    ResourceKind.NETWORK: ("network", "virtual_networks"),
    ResourceKind.NSG: ("network", "network_security_groups"),
    ResourceKind.NIC: ("network", "network_interfaces"),
}


def _status(state: str | None) -> JobStatus:
    return _JOB_STATES.get((state or "").replace(" ", "").lower(), JobStatus.IN_PROGRESS)


# Error codes of a failed job that a later attempt may cure: allocation failures (target capacity is
# best effort: reliability-site-recovery) and passing service failures.
_CAPACITY_CODES = frozenset({"allocationfailed", "zonalallocationfailed", "overconstrainedallocationrequest", "skunotavailable"})
_TRANSIENT_CODES = frozenset({"internalerror", "internalservererror", "serviceunavailable", "operationtimedout", "requesttimeout"})


def job_error_kind(codes: Iterable[str | None]) -> JobErrorKind | None:
    """Whether a failed job's error codes say a retry may succeed (capacity first, then transient)."""
    found = {(code or "").lower() for code in codes}
    if found & _CAPACITY_CODES:
        return JobErrorKind.CAPACITY
    if found & _TRANSIENT_CODES:
        return JobErrorKind.TRANSIENT
    return None


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class _FirstPollUrl:
    """A raw_response_hook that keeps the first long-running-operation URL the service answered with."""

    def __init__(self) -> None:
        self.url: str | None = None

    def __call__(self, response: Any) -> None:
        headers = response.http_response.headers
        if self.url is None:
            self.url = headers.get("Azure-AsyncOperation") or headers.get("Location")


@dataclass(frozen=True)
class _Restore:
    """A restore this provider triggered: how, what VM it asked for, and the tier the point gives."""

    mode: RestoreMode
    target_vm: str | None
    tier: PointTier


class AzureProvider:
    """The drill's cloud on real Azure (or the drsim ARM emulator), through the unmodified SDK."""

    name = "azure"

    def __init__(
        self,
        options: AzureOptions,
        *,
        credential: Any = None,
        clock: Clock | None = None,
        throttle: Throttle | None = None,
        polling_interval: float = DEFAULT_POLLING_INTERVAL,
        **client_options: Any,
    ) -> None:
        self.options = options
        self.subscription_id = options.subscription_id
        self.resource_group = options.resource_group
        self.vault_resource_group = options.vault_resource_group or options.resource_group
        self.clock: Clock = clock if clock is not None else WallClock()
        emulator_clock = self.clock if isinstance(self.clock, EmulatorClock) else None
        self.clients = AzureClients(
            options.subscription_id,
            credential=credential,
            endpoint=options.endpoint,
            throttle=throttle if throttle is not None else Throttle(clock=emulator_clock),
            polling_interval=polling_interval,
            call_policies=[lambda: EmulatorTimePolicy(emulator_clock)] if emulator_clock is not None else (),
            **client_options,
        )
        self.polling_interval = polling_interval
        self._backup_items: list[records.BackupItem] | None = None
        self._replicated_items: list[records.ReplicatedItem] | None = None
        self._all_vaults: list[tuple[str, str]] | None = None
        self._job_tags: dict[str, dict[str, str]] = {}
        self._prices: dict[str, float] = {}  # list price per day of what this provider created, by lower-case id
        self._vm_uuids: dict[str, str] = {}  # vmId of production VMs, by lower-case resource id
        self._restores: dict[str, _Restore] = {}  # by lower-case job id

    @property
    def throttle(self) -> Throttle:
        return self.clients.throttle

    async def close(self) -> None:
        await self.clients.close()

    async def __aenter__(self) -> AzureProvider:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------ helpers

    def _id(self, namespace: str, kind: str, name: str, resource_group: str | None = None) -> str:
        return resource_id(self.subscription_id, resource_group or self.resource_group, namespace, (kind, name))

    async def _vaults(self, named: str | None) -> list[tuple[str, str]]:
        """(resource group, name) of the vault the Drill names, else of every Recovery Services vault."""
        if named:
            return [(self.vault_resource_group, named)]
        if self._all_vaults is None:
            async with translated("listing Recovery Services vaults"):
                found = [r async for r in self.clients.resources.resources.list(filter=f"resourceType eq '{VAULT_TYPE}'")]
            self._all_vaults = sorted((parse_id(r.id).resource_group, parse_id(r.id).name) for r in found if r.id)
        return self._all_vaults

    def _vault_hint(self, named: str | None, key: str) -> str:
        return f"vault {named}" if named else f"any Recovery Services vault of the subscription (set azure.{key} to name one)"

    async def _put(self, what: str, begin: Callable[[], Awaitable[Any]]) -> Any:
        """A create-or-update PUT and its long-running operation, to its result. Deterministic names make it
        idempotent: a PUT of what the run already made answers it as it is. One refused 409
        AnotherOperationInProgress (a resumed drill repeating a PUT whose first operation still runs) is
        made again once that operation had time to end, up to BUSY_ATTEMPTS times."""
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                async with translated(what):
                    poller = await begin()
                    return await poller.result()
            except ConflictError as exc:
                if BUSY_CODE not in str(exc) or attempt == BUSY_ATTEMPTS:
                    raise
            await self._wait(self.polling_interval)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, seconds: float) -> None:
        """Wait between polls of a job: in the provider clock's time (scaled against the emulator)."""
        await self.clock.sleep(seconds)

    # ------------------------------------------------------------------------------------ reads

    async def _network_of(self, vm: compute.VirtualMachine) -> str | None:
        for nic_id in records.nic_ids(vm)[:1]:
            nic_ref = parse_id(nic_id)
            async with translated(f"reading network interface {nic_ref.name}"):
                try:
                    nic = await self.clients.network.network_interfaces.get(nic_ref.resource_group, nic_ref.name)
                except ResourceNotFoundError:
                    return None
            return records.nic_network(nic)
        return None

    async def _vm_record(self, vm: compute.VirtualMachine) -> VirtualMachine:
        return records.virtual_machine(vm, await self._network_of(vm))

    async def _get_vm_model(self, vm_id: str) -> compute.VirtualMachine:
        ref = parse_id(vm_id)
        async with translated(f"reading VM {ref.name}"):
            return await self.clients.compute.virtual_machines.get(ref.resource_group, ref.name, expand="instanceView")

    async def list_vms(self) -> list[VirtualMachine]:
        async with translated("listing VMs"):
            listed = [vm async for vm in self.clients.compute.virtual_machines.list_all()]
        # list_all carries no instance view: read each VM with it (power state, generalized, boot).
        return list(await asyncio.gather(*(self.get_vm(vm.id) for vm in listed if vm.id)))

    async def get_vm(self, vm_id: str) -> VirtualMachine:
        return await self._vm_record(await self._get_vm_model(vm_id))

    async def list_snapshots(self, disk_id: str | None = None) -> list[Snapshot]:
        async with translated("listing snapshots"):
            models = [s async for s in self.clients.compute.snapshots.list()]
        source_of = {
            s.id.lower(): s.creation_data.source_resource_id
            for s in models
            if s.id and s.creation_data is not None and s.creation_data.source_resource_id
        }
        found = [records.snapshot(s, source_of) for s in models]
        return [s for s in found if disk_id is None or same_id(s.disk_id, disk_id)]

    async def list_images(self) -> list[Image]:
        async with translated("listing images"):
            return [records.image(i) async for i in self.clients.compute.images.list()]

    def price_per_day(self, resource_id: str) -> float | None:
        """The list price per day of a resource this provider created (from what ARM answered: size, SKU,
        disk size), with the list prices the simulated world uses (drsim.cloud.prices); None for what a Backup or Site
        Recovery job created (list_tagged reads and prices those when they are left over)."""
        return self._prices.get(resource_id.lower())

    def _priced(self, rid: str | None, kind: ResourceKind, *, size: str = "", sku: str = "", size_gib: float = 0.0) -> None:
        if rid:
            # Snapshots and images are billed on used size, which ARM does not report: the disk size bounds it.
            self._prices[rid.lower()] = cost_per_day(list_prices(), kind, size=size, sku=sku, size_gib=size_gib, used_gib=size_gib)

    async def list_tagged(self, run_id: str) -> list[TaggedResource]:
        """Every resource carrying this run's tag, through the Resources API's tag filter."""
        escaped = run_id.replace("'", "''")
        query = f"tagName eq '{RUN_TAG}' and tagValue eq '{escaped}'"
        async with translated(f"listing resources tagged {RUN_TAG}={run_id}"):
            found = [r async for r in self.clients.resources.resources.list(filter=query)]
        tagged = []
        for resource in found:
            kind = kind_named(resource.type or "")
            if kind is None or not resource.id:
                raise ProviderError(
                    f"resource {resource.id} of type {resource.type} carries tag {RUN_TAG}={run_id} but drsim cannot delete that type"
                )
            tagged.append(
                TaggedResource(
                    id=resource.id,
                    kind=kind,
                    name=resource.name or parse_id(resource.id).name,
                    region=resource.location or "",
                    cost_per_day=await self._cost_per_day(kind, resource.id),
                )
            )
        return tagged

    async def _cost_per_day(self, kind: ResourceKind, rid: str) -> float:
        """List price per day of a resource as ARM describes it now, priced as the simulated world prices
        it (drsim.cloud.prices; order of magnitude, USD; see catalog.yaml sources)."""
        ref = parse_id(rid)
        try:
            if kind is ResourceKind.VM:
                vm = await self._get_vm_model(rid)
                if records.power_state(vm.instance_view).value != "running":
                    return 0.0  # a stopped (deallocated) VM pays for its disks only
                size = records.text(vm.hardware_profile.vm_size) if vm.hardware_profile is not None else ""
                return cost_per_day(list_prices(), kind, size=size)
            if kind is ResourceKind.DISK:
                async with translated(f"reading disk {ref.name}"):
                    disk = await self.clients.compute.disks.get(ref.resource_group, ref.name)
                sku = records.text(disk.sku.name) if disk.sku is not None else ""
                return cost_per_day(list_prices(), kind, sku=sku, size_gib=disk.disk_size_gb or 0)
            if kind is ResourceKind.SNAPSHOT:
                async with translated(f"reading snapshot {ref.name}"):
                    snap = await self.clients.compute.snapshots.get(ref.resource_group, ref.name)
                return cost_per_day(list_prices(), kind, used_gib=snap.disk_size_gb or 0)
        except NotFoundError:
            return 0.0
        return 0.0

    # ------------------------------------------------------------------------------------ compute

    async def create_snapshot(self, disk_id: str, *, name: str, incremental: bool, tags: Mapping[str, str]) -> Snapshot:
        ref = parse_id(disk_id)
        async with translated(f"reading disk {ref.name}"):
            disk = await self.clients.compute.disks.get(ref.resource_group, ref.name)
        body = compute.Snapshot(  # type: ignore[call-overload]
            location=disk.location,
            incremental=incremental,
            creation_data=compute.CreationData(create_option="Copy", source_resource_id=disk_id),
            tags=dict(tags),
        )
        name = azure_name(name, ResourceKind.SNAPSHOT)
        created = await self._put(
            f"snapshotting disk {ref.name}", lambda: self.clients.compute.snapshots.begin_create_or_update(self.resource_group, name, body)
        )
        self._priced(created.id, ResourceKind.SNAPSHOT, size_gib=created.disk_size_gb or 0)
        return records.snapshot(created, {})

    async def copy_snapshot(self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Snapshot:
        """Cross-region copy (CopyStart: incremental snapshots only, disks-copy-incremental-snapshot-across-regions)."""
        source = parse_id(snapshot_id)
        async with translated(f"reading snapshot {source.name}"):
            original = await self.clients.compute.snapshots.get(source.resource_group, source.name)
        body = compute.Snapshot(  # type: ignore[call-overload]
            location=region,
            incremental=True,
            creation_data=compute.CreationData(create_option="CopyStart", source_resource_id=snapshot_id),
            tags=dict(tags),
        )
        name = azure_name(name, ResourceKind.SNAPSHOT)
        created = await self._put(
            f"copying snapshot {source.name} to {region}",
            lambda: self.clients.compute.snapshots.begin_create_or_update(self.resource_group, name, body),
        )
        async with translated(f"copying snapshot {source.name} to {region}"):
            # The copy goes on in the background until completionPercent reaches 100.
            while created.completion_percent is not None and created.completion_percent < 100:
                await self._wait(self.polling_interval)
                created = await self.clients.compute.snapshots.get(self.resource_group, name)
        origin = original.creation_data.source_resource_id if original.creation_data is not None else None
        self._priced(created.id, ResourceKind.SNAPSHOT, size_gib=created.disk_size_gb or 0)
        return records.snapshot(created, {snapshot_id.lower(): origin} if origin else {})

    async def _production_sku(self, snapshot_id: str) -> str | None:
        """The SKU of the production disk a snapshot (or a copy of one) was taken of; None when that disk
        is gone. A disk made from a snapshot without a SKU would be Standard_LRS (ARM's default), whatever
        its source was: slower than production, so the drill would measure the wrong recovery."""
        current = snapshot_id
        for _ in range(8):  # a copy of a copy ...: a chain of CopyStart snapshots ends at a disk
            ref = parse_id(current)
            if ref.type.lower() == ResourceKind.DISK.value.lower():
                try:
                    async with translated(f"reading disk {ref.name}"):
                        disk = await self.clients.compute.disks.get(ref.resource_group, ref.name)
                except NotFoundError:
                    return None
                return records.text(disk.sku.name) if disk.sku is not None and disk.sku.name else None
            try:
                async with translated(f"reading snapshot {ref.name}"):
                    snap = await self.clients.compute.snapshots.get(ref.resource_group, ref.name)
            except NotFoundError:
                return None
            source = snap.creation_data.source_resource_id if snap.creation_data is not None else None
            if not source:
                return None
            current = source
        return None

    async def create_disk(
        self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str], sku: str | None = None
    ) -> ManagedDisk:
        """A managed disk from a snapshot, of `sku` (the estate's disk SKU), else of the production disk's."""
        name = azure_name(name, ResourceKind.DISK)
        sku = sku or await self._production_sku(snapshot_id)
        body = compute.Disk(  # type: ignore[call-overload]
            location=region,
            creation_data=compute.CreationData(create_option="Copy", source_resource_id=snapshot_id),
            tags=dict(tags),
            **({"sku": compute.DiskSku(name=sku)} if sku else {}),
        )
        created = await self._put(
            f"creating disk {name}", lambda: self.clients.compute.disks.begin_create_or_update(self.resource_group, name, body)
        )
        sku = records.text(created.sku.name) if created.sku is not None else ""
        self._priced(created.id, ResourceKind.DISK, sku=sku, size_gib=created.disk_size_gb or 0)
        return records.managed_disk(created)

    async def _security_for(self, os_disk_id: str) -> compute.SecurityProfile | None:
        """The securityProfile a VM attaching this OS disk needs: None for a Standard disk; for a Trusted Launch
        disk, securityType TrustedLaunch with the uefiSettings (Secure Boot, vTPM) of the production VM the
        disk was copied from (VirtualMachine_Create_WithUefiSettings.json), found through the disk's source
        snapshots to the production disk and the VM that holds it; when that VM is gone, Secure Boot and vTPM
        on, as `az vm create --security-type TrustedLaunch` sets them by default."""
        ref = parse_id(os_disk_id)
        async with translated(f"reading disk {ref.name}"):
            disk = await self.clients.compute.disks.get(ref.resource_group, ref.name)
        kind = records.text(disk.security_profile.security_type) if disk.security_profile is not None else ""
        if kind.lower() != "trustedlaunch":
            return None
        uefi = await self._production_uefi(disk)
        return compute.SecurityProfile(
            security_type="TrustedLaunch",
            uefi_settings=uefi or compute.UefiSettings(secure_boot_enabled=True, v_tpm_enabled=True),
        )

    async def _production_uefi(self, disk: compute.Disk) -> compute.UefiSettings | None:
        """The uefiSettings of the production VM a disk's data came from (a chain of Copy and CopyStart
        snapshots ends at a production disk, whose managedBy names its VM); None when the chain breaks."""
        current = disk.creation_data.source_resource_id if disk.creation_data is not None else None
        for _ in range(8):
            if not current:
                return None
            ref = parse_id(current)
            try:
                if ref.type.lower() == ResourceKind.DISK.value.lower():
                    async with translated(f"reading disk {ref.name}"):
                        source = await self.clients.compute.disks.get(ref.resource_group, ref.name)
                    if not source.managed_by:
                        return None
                    vm = await self._get_vm_model(source.managed_by)
                    return vm.security_profile.uefi_settings if vm.security_profile is not None else None
                async with translated(f"reading snapshot {ref.name}"):
                    snap = await self.clients.compute.snapshots.get(ref.resource_group, ref.name)
            except NotFoundError:
                return None
            current = snap.creation_data.source_resource_id if snap.creation_data is not None else None
        return None

    async def _subnet_of(self, network_id: str) -> str:
        ref = parse_id(network_id)
        async with translated(f"reading virtual network {ref.name}"):
            vnet = await self.clients.network.virtual_networks.get(ref.resource_group, ref.name)
        return records.isolated_network(vnet).subnet_id

    async def _create_nic(self, vm_name: str, region: str, network_id: str, tags: Mapping[str, str]) -> str:
        subnet_id = await self._subnet_of(network_id)
        body = network.NetworkInterface(  # type: ignore[call-overload]
            location=region,
            ip_configurations=[
                network.NetworkInterfaceIPConfiguration(  # type: ignore[call-overload]
                    name="ipconfig1", subnet=network.Subnet(id=subnet_id), private_ip_allocation_method="Dynamic"
                )
            ],
            tags=dict(tags),
        )
        name = nic_name(vm_name)
        async with translated(f"creating network interface for {vm_name}"):
            poller = await self.clients.network.network_interfaces.begin_create_or_update(self.resource_group, name, body)
            nic = await poller.result()
        return nic.id or self._id("Microsoft.Network", "networkInterfaces", name)

    async def _create_vm(self, name: str, body: compute.VirtualMachine) -> VirtualMachine:
        created = await self._put(
            f"creating VM {name}", lambda: self.clients.compute.virtual_machines.begin_create_or_update(self.resource_group, name, body)
        )
        vm_id = created.id or self._id("Microsoft.Compute", "virtualMachines", name)
        size = body.hardware_profile.vm_size if body.hardware_profile is not None else ""
        self._priced(vm_id, ResourceKind.VM, size=records.text(size))
        return await self.get_vm(vm_id)

    async def create_vm(
        self,
        *,
        name: str,
        region: str,
        size: str,
        os: OsType,
        disk_ids: Sequence[str],
        network_id: str,
        tags: Mapping[str, str],
    ) -> VirtualMachine:
        if not disk_ids:
            raise ConflictError(f"VM {name} needs at least its OS disk")
        name = azure_name(name, ResourceKind.VM)
        security = await self._security_for(disk_ids[0])
        nic_id = await self._create_nic(name, region, network_id, tags)
        body = compute.VirtualMachine(  # type: ignore[call-overload]
            location=region,
            tags=dict(tags),
            hardware_profile=compute.HardwareProfile(vm_size=size),
            # A Trusted Launch OS disk attaches only to a Trusted Launch VM (and a Standard one to a Standard VM).
            **({"security_profile": security} if security is not None else {}),
            # Attaching existing disks: no os_profile (azure-sdk-notes.md).
            storage_profile=compute.StorageProfile(
                os_disk=compute.OSDisk(
                    create_option="Attach",
                    os_type="Windows" if os is OsType.WINDOWS else "Linux",
                    managed_disk=compute.ManagedDiskParameters(id=disk_ids[0]),
                ),
                data_disks=[
                    compute.DataDisk(lun=lun, create_option="Attach", managed_disk=compute.ManagedDiskParameters(id=disk))
                    for lun, disk in enumerate(disk_ids[1:])
                ],
            ),
            network_profile=compute.NetworkProfile(
                network_interfaces=[compute.NetworkInterfaceReference(id=nic_id, primary=True, delete_option="Delete")]  # type: ignore[call-overload]
            ),
        )
        return await self._create_vm(name, body)

    async def create_vm_from_image(
        self, image_id: str, *, name: str, region: str, size: str, network_id: str, tags: Mapping[str, str]
    ) -> VirtualMachine:
        ref = parse_id(image_id)
        async with translated(f"reading image {ref.name}"):
            img = await self.clients.compute.images.get(ref.resource_group, ref.name)
        profile = img.storage_profile
        os_name = profile.os_disk.os_type if profile is not None and profile.os_disk is not None else "Linux"
        data_luns = [d.lun for d in (profile.data_disks or [])] if profile is not None else []
        name = azure_name(name, ResourceKind.VM)
        nic_id = await self._create_nic(name, region, network_id, tags)
        windows = records.os_type(os_name) is OsType.WINDOWS
        # A generalized image needs an OS profile; the password is random and never stored: drill VMs
        # sit in an isolated network and are reached only through Run Command.
        body = compute.VirtualMachine(  # type: ignore[call-overload]
            location=region,
            tags=dict(tags),
            hardware_profile=compute.HardwareProfile(vm_size=size),
            storage_profile=compute.StorageProfile(
                image_reference=compute.ImageReference(id=image_id),
                os_disk=compute.OSDisk(create_option="FromImage", delete_option="Delete"),
                data_disks=[compute.DataDisk(lun=lun, create_option="FromImage", delete_option="Delete") for lun in data_luns],
            ),
            os_profile=compute.OSProfile(
                computer_name=computer_name(name, windows=windows),
                admin_username=ADMIN_USER,
                admin_password=secrets.token_urlsafe(24) + "aA1!",
            ),
            network_profile=compute.NetworkProfile(
                network_interfaces=[compute.NetworkInterfaceReference(id=nic_id, primary=True, delete_option="Delete")]  # type: ignore[call-overload]
            ),
        )
        return await self._image_disks_tagged(await self._create_vm(name, body), tags)

    async def _image_disks_tagged(self, vm: VirtualMachine, tags: Mapping[str, str]) -> VirtualMachine:
        """A VM made from an image, read again once the disks Azure made from the image (Azure's doing)
        carry the run tag too and their prices are read."""
        await self._tag_all(vm.disk_ids, tags)
        for disk_id in vm.disk_ids:
            self._prices[disk_id.lower()] = await self._cost_per_day(ResourceKind.DISK, disk_id)
        return await self.get_vm(vm.id)

    async def find_vm(self, name: str, *, tags: Mapping[str, str]) -> VirtualMachine | None:
        """The VM the drill named `name`, read once its creation has ended, or None when there is none: a
        resumed drill adopts a VM from an image whose PUT Azure accepted before the stopped process journaled
        it (a PUT again would carry a new adminPassword, which Azure refuses: 409 PropertyChangeNotAllowed).
        Its disks get `tags` and its price is read, as create_vm_from_image does once the VM is made."""
        vm_id = self._id("Microsoft.Compute", "virtualMachines", azure_name(name, ResourceKind.VM))
        for _ in range(BUSY_ATTEMPTS):
            try:
                model = await self._get_vm_model(vm_id)
            except NotFoundError:
                return None
            state = (model.provisioning_state or "").lower()
            if state not in ("creating", "updating"):
                break
            await self._wait(self.polling_interval)  # its first PUT still runs: read it again once it may have ended
        else:
            raise ProviderError(f"VM {name} was still being created after {BUSY_ATTEMPTS} reads")
        if state == "failed":
            raise ProviderError(f"VM {name}, whose creation an earlier process of the drill started, failed to be created")
        size = model.hardware_profile.vm_size if model.hardware_profile is not None else ""
        self._priced(vm_id, ResourceKind.VM, size=records.text(size))
        return await self._image_disks_tagged(await self._vm_record(model), tags)

    async def delete(self, resource_id: str) -> None:
        ref = parse_id(resource_id)
        kind = kind_named(ref.type)
        if kind is None:
            raise ProviderError(f"drsim does not delete resources of type {ref.type} ({resource_id})")
        if kind is ResourceKind.VM:
            await self._delete_vm(resource_id)
            return
        await self._delete(resource_id, kind)

    async def _delete_vm(self, vm_id: str) -> None:
        """Delete a VM, then the NICs it leaves behind that carry the run tag: a VM Azure Backup restored
        has a NIC of Azure's making whose deleteOption is Detach, and a NIC in a subnet keeps the network
        from being deleted (InUseSubnetCannotBeDeleted). NICs drsim made go with their VM (deleteOption Delete)."""
        try:
            model = await self._get_vm_model(vm_id)
        except NotFoundError:
            return
        nics = records.nic_ids(model)
        await self._delete(vm_id, ResourceKind.VM)
        for nic_id in nics:
            ref = parse_id(nic_id)
            try:
                async with translated(f"reading network interface {ref.name}"):
                    nic = await self.clients.network.network_interfaces.get(ref.resource_group, ref.name)
            except NotFoundError:
                continue  # it went with the VM
            if RUN_TAG in (nic.tags or {}) and nic.virtual_machine is None:
                await self._delete(nic_id, ResourceKind.NIC)

    async def _delete(self, resource_id: str, kind: ResourceKind) -> None:
        ref = parse_id(resource_id)
        client_name, operations_name = _DELETERS[kind]
        operations = getattr(getattr(self.clients, client_name), operations_name)
        try:
            async with translated(f"deleting {ref.type.split('/')[-1]} {ref.name}"):
                poller = await operations.begin_delete(ref.resource_group, ref.name)
                await poller.result()
        except NotFoundError:
            return  # already gone: deleting is idempotent

    async def _tag(self, rid: str, tags: Mapping[str, str]) -> None:
        """Merge tags into a resource (Tags API, PATCH at scope with operation Merge)."""
        from azure.mgmt.resource.resources import models as resources

        ref = parse_id(rid)
        async with translated(f"tagging {ref.name}"):
            poller = await self.clients.resources.tags.begin_update_at_scope(
                rid, resources.TagsPatchResource(operation="Merge", properties=resources.Tags(tags=dict(tags)))
            )
            await poller.result()

    async def _tag_all(self, ids: Sequence[str], tags: Mapping[str, str]) -> None:
        if tags:
            await asyncio.gather(*(self._tag(rid, tags) for rid in ids))

    async def _tag_recovered(self, created: Sequence[str], tags: Mapping[str, str]) -> None:
        """Tag what a restore or test failover created, and the NICs of its VMs (Azure made them; a NIC
        left after its VM is found by the run tag and deleted before the network)."""
        nics: list[str] = []
        for rid in created:
            if kind_named(parse_id(rid).type) is ResourceKind.VM:
                try:
                    nics += records.nic_ids(await self._get_vm_model(rid))
                except NotFoundError:
                    continue
        await self._tag_all([*created, *nics], tags)

    # ------------------------------------------------------------------------------------ network

    async def create_isolated_network(
        self,
        *,
        name: str,
        region: str,
        cidr: str,
        tags: Mapping[str, str],
        peer_with: Sequence[str] = (),
        allow_outbound: bool = False,
    ) -> IsolatedNetwork:
        name = azure_name(name, ResourceKind.NETWORK)
        rules = []
        if not allow_outbound:
            # Priority 100 outbound deny-all: what an isolated network is (azure-sdk-notes.md).
            rules.append(
                network.SecurityRule(  # type: ignore[call-overload]
                    name=DENY_OUTBOUND_RULE,
                    priority=100,
                    direction="Outbound",
                    access="Deny",
                    protocol="*",
                    source_address_prefix="*",
                    source_port_range="*",
                    destination_address_prefix="*",
                    destination_port_range="*",
                )
            )
        nsg_body = network.NetworkSecurityGroup(location=region, security_rules=rules, tags=dict(tags))  # type: ignore[call-overload]
        nsg = await self._put(
            f"creating network security group {name}-nsg",
            lambda: self.clients.network.network_security_groups.begin_create_or_update(self.resource_group, f"{name}-nsg", nsg_body),
        )
        vnet_body = network.VirtualNetwork(  # type: ignore[call-overload]
            location=region,
            tags=dict(tags),
            address_space=network.AddressSpace(address_prefixes=[cidr]),
            subnets=[
                network.Subnet(  # type: ignore[call-overload]
                    name=DRILL_SUBNET,
                    address_prefix=cidr,
                    default_outbound_access=False,
                    network_security_group=network.NetworkSecurityGroup(id=nsg.id),
                )
            ],
        )
        vnet = await self._put(
            f"creating virtual network {name}",
            lambda: self.clients.network.virtual_networks.begin_create_or_update(self.resource_group, name, vnet_body),
        )
        for remote in peer_with:
            peering = network.VirtualNetworkPeering(  # type: ignore[call-overload]
                remote_virtual_network=network.SubResource(id=remote), allow_virtual_network_access=True
            )
            async with translated(f"peering {name} with {parse_id(remote).name}"):
                peering_poller = await self.clients.network.virtual_network_peerings.begin_create_or_update(
                    self.resource_group, name, f"to-{parse_id(remote).name}", peering
                )
                await peering_poller.result()
        if peer_with:
            async with translated(f"reading virtual network {name}"):
                vnet = await self.clients.network.virtual_networks.get(self.resource_group, name)
        self._priced(nsg.id, ResourceKind.NSG)  # networks and their security groups cost nothing by themselves
        self._priced(vnet.id, ResourceKind.NETWORK)
        return records.isolated_network(vnet)

    async def check_isolation(self, network_id: str) -> IsolationReport:
        ref = parse_id(network_id)
        async with translated(f"reading virtual network {ref.name}"):
            vnet = await self.clients.network.virtual_networks.get(ref.resource_group, ref.name)
        nsgs: dict[str, network.NetworkSecurityGroup] = {}
        for subnet in vnet.subnets or []:
            nsg_ref = subnet.network_security_group
            if nsg_ref is not None and nsg_ref.id and nsg_ref.id.lower() not in nsgs:
                parsed = parse_id(nsg_ref.id)
                async with translated(f"reading network security group {parsed.name}"):
                    nsgs[nsg_ref.id.lower()] = await self.clients.network.network_security_groups.get(parsed.resource_group, parsed.name)
        return records.isolation(vnet, nsgs)

    # ------------------------------------------------------------------------------------ backup

    async def backup_items(self) -> list[records.BackupItem]:
        """The VMs protected by Azure Backup in the Drill's vault (or in every vault), read once."""
        if self._backup_items is None:
            found: list[records.BackupItem] = []
            for group, vault in await self._vaults(self.options.backup_vault):
                async with translated(f"listing protected items of vault {vault}"):
                    listed = [
                        i
                        async for i in self.clients.backup.backup_protected_items.list(
                            vault_name=vault, resource_group_name=group, filter=BACKUP_ITEM_FILTER
                        )
                    ]
                found += [item for item in map(records.backup_item, listed) if item is not None]
            self._backup_items = found
        return self._backup_items

    async def _backup_item(self, vm_id: str) -> records.BackupItem:
        item = records.matching(await self.backup_items(), vm_id)
        if item is None:
            where = self._vault_hint(self.options.backup_vault, "backup_vault")
            raise NotFoundError(f"VM {parse_id(vm_id).name} is not protected by Azure Backup in {where}")
        return item

    async def inventory(self) -> dict[str, str]:
        """VM name -> VM id of every VM Azure Backup or Site Recovery protects, even one since deleted
        (its protected or replicated item keeps the VM's id): the drill's inventory of production."""
        found: dict[str, str] = {}
        for item in await self.backup_items():
            found.setdefault(item.vm_name, item.vm_id)
        for replicated in await self.replicated_items():
            found.setdefault(replicated.vm_name, replicated.vm_id)
        return found

    async def list_backup_points(self, vm_id: str, *, region: str | None = None) -> list[BackupPoint]:
        item = await self._backup_item(vm_id)
        # The vault's region (a VM's vault lives in its region); the VM itself may be gone.
        home = item.region or (await self.get_vm(vm_id)).region
        if region is not None and region != home:
            return await self._crr_points(item, vm_id, home, region)
        return await self._listed_points(
            self.clients.backup.recovery_points, item, vm_id, home, f"listing recovery points of {item.vm_name}"
        )

    @staticmethod
    async def _listed_points(operations: Any, item: records.BackupItem, vm_id: str, region: str, what: str) -> list[BackupPoint]:
        """An item's points as a recovery-points operation group lists them (the vault's, or the secondary
        region's RecoveryPointsCrr), oldest first."""
        async with translated(what):
            listed = [
                p
                async for p in operations.list(
                    vault_name=item.vault,
                    resource_group_name=item.vault_group,
                    fabric_name=BACKUP_FABRIC,
                    container_name=item.container,
                    protected_item_name=item.item,
                )
            ]
        points = [p for p in (records.backup_point(r, vm_id, region) for r in listed) if p is not None]
        return sorted(points, key=lambda p: p.time)

    async def restore_backup(
        self,
        vm_id: str,
        point_id: str,
        *,
        mode: RestoreMode,
        tier: PointTier | None,
        region: str,
        network_id: str,
        name: str,
        tags: Mapping[str, str],
    ) -> Job:
        """Trigger a restore (Restores_Trigger) and return its job.

        IaasVMRestoreRequest has no tier field: Azure restores from the snapshot when the point still has
        one (instant restore), else from the vault. The point is read as the restore is triggered, and the
        Job says the tier that gives; a `tier` the point cannot give is refused before anything starts.
        The staging storage account is always sent (Restore disks needs it; a vault-tier restore as a VM
        stages there too: backup-azure-arm-restore-vms)."""
        item = await self._backup_item(vm_id)
        # Cross-region when the restore's region is not the vault's (the item's location; an item without
        # one is restored where asked, in its vault's region).
        if item.region and region.replace(" ", "").lower() != item.region.replace(" ", "").lower():
            return await self._restore_crr(
                item, vm_id, point_id, mode=mode, tier=tier, region=region, network_id=network_id, name=name, tags=tags
            )
        staging = self.options.staging_storage_account
        if not staging:
            raise ProviderError(
                f"the restore of {item.vm_name} needs a staging storage account: set azure.staging_storage_account "
                "(or DRSIM_AZURE_STAGING_STORAGE_ACCOUNT)"
            )
        point = parse_id(point_id).child("recoveryPoints")
        async with translated(f"reading recovery point {point} of {item.vm_name}"):
            resource = await self.clients.backup.recovery_points.get(
                vault_name=item.vault,
                resource_group_name=item.vault_group,
                fabric_name=BACKUP_FABRIC,
                container_name=item.container,
                protected_item_name=item.item,
                recovery_point_id=point,
            )
        read = records.backup_point(resource, vm_id, item.region or region)
        if read is None:
            raise NotFoundError(f"recovery point {point} of {item.vm_name} is not an Azure VM recovery point")
        used = restore_tier(read.tiers)
        if tier is not None and tier is not used:
            raise ConflictError(
                f"the restore of {item.vm_name} would use the {used.value} tier of point {read.time.isoformat()}, not {tier.value}: "
                "Azure Backup restores from the snapshot when the point has one and cannot be told otherwise"
            )
        target_vm = self._id("Microsoft.Compute", "virtualMachines", azure_name(name, ResourceKind.VM))
        request = backup.IaasVMRestoreRequest(
            recovery_point_id=point,
            recovery_type="AlternateLocation" if mode is RestoreMode.VM else "RestoreDisks",
            source_resource_id=vm_id,
            target_virtual_machine_id=target_vm if mode is RestoreMode.VM else None,
            target_resource_group_id=f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}",
            storage_account_id=staging,
            virtual_network_id=network_id if mode is RestoreMode.VM else None,
            subnet_id=(await self._subnet_of(network_id)) if mode is RestoreMode.VM else None,
            region=region,
            original_storage_account_option=False,
            create_new_cloud_service=False,
            restore_with_managed_disks=True,
        )
        hook = _FirstPollUrl()
        async with translated(f"restoring {parse_id(vm_id).name} from backup"):
            # Its poller ends when the restore JOB is created, not when it finishes (azure-sdk-notes.md).
            poller = await self.clients.backup.restores.begin_trigger(
                vault_name=item.vault,
                resource_group_name=item.vault_group,
                fabric_name=BACKUP_FABRIC,
                container_name=item.container,
                protected_item_name=item.item,
                recovery_point_id=point,
                parameters=backup.RestoreRequestResource(properties=request),
                raw_response_hook=hook,
            )
            await poller.result()
        operation = operation_name(hook.url or "", "operationsStatus") or operation_name(hook.url or "", "operationResults")
        if operation is None:
            raise ProviderError(f"the restore of {parse_id(vm_id).name} answered no operation URL to follow (got {hook.url!r})")
        async with translated(f"reading the restore operation of {parse_id(vm_id).name}"):
            status = await self.clients.backup.protected_item_operation_statuses.get(
                vault_name=item.vault,
                resource_group_name=item.vault_group,
                fabric_name=BACKUP_FABRIC,
                container_name=item.container,
                protected_item_name=item.item,
                operation_id=operation,
            )
        job_name = status.properties.job_id if isinstance(status.properties, backup.OperationStatusJobExtendedInfo) else None
        if not job_name:
            message = status.error.message if status.error is not None else f"operation status {status.status}"
            raise ProviderError(f"the restore of {parse_id(vm_id).name} created no job: {message}")
        job_id = resource_id(
            self.subscription_id, item.vault_group, "Microsoft.RecoveryServices", ("vaults", item.vault), ("backupJobs", job_name)
        )
        self._job_tags[job_id] = dict(tags)
        self._restores[job_id.lower()] = _Restore(mode, target_vm if mode is RestoreMode.VM else None, used)
        return await self.get_job(job_id)

    # ----------------------------------------------------------------------- cross-region restore

    def _secondary_of(self, item: records.BackupItem, home: str, region: str) -> str:
        """`region` when it is where the vault's cross-region restore points are: Azure's pair of the vault's
        region (drsim.model.regions; a region drsim does not know is taken as given)."""
        pair = AZURE_REGION_PAIRS.get(home.replace(" ", "").lower())
        if pair is not None and pair != region.replace(" ", "").lower():
            raise ConflictError(f"{item.vm_name} is backed up in {home}, whose cross-region restore points are in {pair}, not {region}")
        return region.replace(" ", "").lower()

    async def _crr_points(self, item: records.BackupItem, vm_id: str, home: str, region: str) -> list[BackupPoint]:
        """The points of the vault's secondary region (RecoveryPointsCrr_List): vault tier only, each there
        once replication to the paired region caught up with it (azure-facts.md, Azure Backup)."""
        secondary = self._secondary_of(item, home, region)
        return await self._listed_points(
            self.clients.backup_passive.recovery_points_crr,
            item,
            vm_id,
            secondary,
            f"listing cross-region restore points of {item.vm_name} in {secondary}",
        )

    async def _restore_crr(
        self,
        item: records.BackupItem,
        vm_id: str,
        point_id: str,
        *,
        mode: RestoreMode,
        tier: PointTier | None,
        region: str,
        network_id: str,
        name: str,
        tags: Mapping[str, str],
    ) -> Job:
        """A cross-region restore, as the Azure CLI makes one (backup custom.py restore_disks with
        --use-secondary-region): the secondary region's AAD properties, an access token for the point
        (RecoveryPoints_GetAccessToken), then CrossRegionRestore_Trigger at the secondary region's location,
        whose operation status names the job (CrrOperationStatus_Get); the job is followed there."""
        home = item.region or (await self.get_vm(vm_id)).region
        secondary = self._secondary_of(item, home, region)
        staging = self.options.crr_staging_storage_account
        if not staging:
            raise ProviderError(
                f"the cross-region restore of {item.vm_name} needs a staging storage account in {secondary}: "
                "set azure.crr_staging_storage_account (or DRSIM_AZURE_CRR_STAGING_STORAGE_ACCOUNT)"
            )
        point = parse_id(point_id).child("recoveryPoints")
        names = {
            "vault_name": item.vault,
            "resource_group_name": item.vault_group,
            "fabric_name": BACKUP_FABRIC,
            "container_name": item.container,
            "protected_item_name": item.item,
            "recovery_point_id": point,
        }
        passive_client = self.clients.backup_passive
        async with translated(f"reading cross-region restore point {point} of {item.vm_name}"):
            resource = await passive_client.recovery_points_crr.get(**names)
        read = records.backup_point(resource, vm_id, secondary)
        if read is None:
            raise NotFoundError(f"cross-region restore point {point} of {item.vm_name} is not an Azure VM recovery point")
        used = restore_tier(read.tiers)  # the vault tier: the secondary region has no snapshots
        if tier is not None and tier is not used:
            raise ConflictError(f"the cross-region restore of {item.vm_name} restores from the {used.value} tier, not {tier.value}")
        async with translated(f"reading the Backup AAD properties of {secondary}"):
            aad = await passive_client.aad_properties.get(azure_region=secondary)
        async with translated(f"asking an access token for point {point} of {item.vm_name}"):
            token = await passive_client.recovery_points.get_access_token(**names, parameters=aad)
        if token.properties is None:
            raise ProviderError(f"Azure Backup gave no access token for point {point} of {item.vm_name}")
        target_vm = self._id("Microsoft.Compute", "virtualMachines", azure_name(name, ResourceKind.VM))
        request = passive.IaasVMRestoreRequest(
            recovery_point_id=point,
            recovery_type="AlternateLocation" if mode is RestoreMode.VM else "RestoreDisks",
            source_resource_id=vm_id,
            target_virtual_machine_id=target_vm if mode is RestoreMode.VM else None,
            target_resource_group_id=f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}",
            storage_account_id=staging,
            virtual_network_id=network_id if mode is RestoreMode.VM else None,
            subnet_id=(await self._subnet_of(network_id)) if mode is RestoreMode.VM else None,
            region=secondary,
            original_storage_account_option=False,
            create_new_cloud_service=False,
        )
        hook = _FirstPollUrl()
        async with translated(f"restoring {item.vm_name} in {secondary} (cross-region restore)"):
            # Its poller ends when the restore JOB exists in the secondary region, not when it finishes.
            poller = await passive_client.cross_region_restore.begin_trigger(
                azure_region=secondary,
                parameters=passive.CrossRegionRestoreRequest(cross_region_restore_access_details=token.properties, restore_request=request),
                raw_response_hook=hook,
            )
            await poller.result()
        operation = operation_name(hook.url or "", "backupCrrOperationsStatus") or operation_name(
            hook.url or "", "backupCrrOperationResults"
        )
        if operation is None:
            raise ProviderError(f"the cross-region restore of {item.vm_name} answered no operation URL to follow (got {hook.url!r})")
        async with translated(f"reading the cross-region restore operation of {item.vm_name}"):
            status = await passive_client.crr_operation_status.get(azure_region=secondary, operation_id=operation)
        job_name = status.properties.job_id if isinstance(status.properties, passive.OperationStatusJobExtendedInfo) else None
        if not job_name:
            message = status.error.message if status.error is not None else f"operation status {status.status}"
            raise ProviderError(f"the cross-region restore of {item.vm_name} created no job: {message}")
        job_id = resource_id(
            self.subscription_id,
            item.vault_group,
            "Microsoft.RecoveryServices",
            ("vaults", item.vault),
            ("locations", secondary),
            (CRR_JOBS, job_name),
        )
        self._job_tags[job_id] = dict(tags)
        self._restores[job_id.lower()] = _Restore(mode, target_vm if mode is RestoreMode.VM else None, used)
        return await self.get_job(job_id)

    async def _backup_job(self, job_id: str, group: str, vault: str, job_name: str) -> Job:
        async with translated(f"reading backup job {job_name}"):
            resource = await self.clients.backup.job_details.get(vault_name=vault, resource_group_name=group, job_name=job_name)
        return await self._restore_job(job_id, job_name, resource.properties)

    async def _crr_job(self, job_id: str, group: str, vault: str, region: str, job_name: str) -> Job:
        """A cross-region restore job: in the secondary region, asked by the vault's id and its name
        (BackupCrrJobDetails_Get, as the Azure CLI asks: CrrJobRequest(resource_id=vault.id, job_name=...))."""
        vault_id = resource_id(self.subscription_id, group, "Microsoft.RecoveryServices", ("vaults", vault))
        async with translated(f"reading cross-region restore job {job_name} in {region}"):
            resource = await self.clients.backup_passive.backup_crr_job_details.get(
                azure_region=region, parameters=passive.CrrJobRequest(resource_id=vault_id, job_name=job_name)
            )
        return await self._restore_job(job_id, job_name, resource.properties)

    async def _restore_job(self, job_id: str, job_name: str, props: backup.Job | passive.Job | None) -> Job:
        """A restore's Job from its Backup job (of the vault, or of the secondary region for a CRR)."""
        if props is None:
            raise ProviderError(f"backup job {job_name} has no properties")
        status = _status(props.status)
        iaas = isinstance(props, backup.AzureIaaSVMJob | passive.AzureIaaSVMJob)
        bag = props.extended_info.property_bag if iaas and props.extended_info else None  # type: ignore[union-attr]
        bag = bag or {}
        await self.backup_items()  # a resumed run knows the job only: its item names the VM
        vm_id = self._vm_of_backup_job(props)
        error, error_kind = None, None
        if status is JobStatus.FAILED:
            details = props.error_details if iaas else None  # type: ignore[union-attr]
            error = "; ".join(f"{d.error_code}: {d.error_string}" for d in details or []) or f"job {props.status}"
            error_kind = job_error_kind(str(d.error_code) for d in details or [])
        elif status is JobStatus.CANCELLED:
            error = f"job {props.status}"
        created: tuple[str, ...] = ()
        restore = self._restores.get(job_id.lower())
        if status is JobStatus.SUCCEEDED:
            created, extra = await self._restored_resources(job_id, bag)
            # What Azure made on the drill's behalf carries the run tag, so that cleanup's listing finds it.
            await self._tag_all((*created, *extra), self._job_tags.get(job_id, {}))
        return Job(
            id=job_id,
            kind=JobKind.RESTORE,
            status=status,
            vm_id=vm_id,
            started_at=_utc(props.start_time) or self.clock.now(),
            ended_at=_utc(props.end_time) if status.ended else None,
            error=error,
            error_kind=error_kind,
            created=created,
            recovery_point_time=_parse_time(_bag_value(bag, "Recovery point time")),
            tier=restore.tier if restore is not None else None,
        )

    def _vm_of_backup_job(self, props: backup.Job | passive.Job) -> str:
        for item in self._backup_items or []:  # read by _backup_job before
            if props.entity_friendly_name and item.vm_name.lower() == props.entity_friendly_name.lower():
                return item.vm_id
        return props.entity_friendly_name or ""

    async def _restored_resources(self, job_id: str, bag: Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What a finished restore created, as (VM first, then disks) and its NICs apart.

        Restore as a VM: the VM drsim asked for (targetVirtualMachineId), its disks and NICs as the VM
        names them. Restore disks: the managed disks the job's config blob names
        (`properties.storageProfile` osDisk and dataDisks, in the target resource group), read from the
        staging account the job's property bag points to ('Target Storage Account Name', 'Config Blob
        Container Name', 'Config Blob Name', 'Config Blob Uri': backup-azure-vms-automation,
        tutorial-restore-disk)."""
        restore = self._restores.get(job_id.lower())
        if restore is not None and restore.target_vm is not None:
            try:
                model = await self._get_vm_model(restore.target_vm)
            except NotFoundError:
                return (), ()
            vm = await self._vm_record(model)
            return (vm.id, *vm.disk_ids), tuple(records.nic_ids(model))
        if _bag_value(bag, "Config Blob Name") is None:
            return (), ()
        config = await self._config_blob(bag)
        group = _bag_value(bag, "Target resource group") or self.resource_group
        found = []
        for disk_name in config_disk_names(config):
            disk_id = self._id("Microsoft.Compute", "disks", disk_name, group)
            try:
                async with translated(f"reading restored disk {disk_name}"):
                    await self.clients.compute.disks.get(group, disk_name)
            except NotFoundError:
                continue
            found.append(disk_id)
        return tuple(found), ()

    async def _config_blob(self, bag: Mapping[str, str]) -> Any:
        """The restore's VM config (JSON, UTF-16 as Azure Backup writes it) from the staging account, read with
        the drill's Azure AD identity (Storage Blob Data Reader on the staging account)."""
        account = _bag_value(bag, "Target Storage Account Name") or ""
        url = _bag_value(bag, "Config Blob Uri") or (
            f"https://{account}.blob.core.windows.net/{_bag_value(bag, 'Config Blob Container Name')}/{_bag_value(bag, 'Config Blob Name')}"
        )
        token = await self.clients.credential.get_token(STORAGE_SCOPE)
        headers = {"Authorization": f"Bearer {token.token}", "x-ms-version": BLOB_API_VERSION}
        try:
            async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"reading the restore's config blob {url}: {exc}") from exc
        if status in (401, 403):
            raise ProviderError(
                f"reading the restore's config blob {url} was refused ({status}): the drill's identity needs "
                f"Storage Blob Data Reader on the staging storage account {account}"
            )
        if status == 404:
            raise NotFoundError(f"the restore's config blob {url} does not exist")
        if status >= 400:
            raise (TransientError if status >= 500 else ProviderError)(f"reading the restore's config blob {url}: HTTP {status}")
        try:
            return json.loads(decode_config(body))
        except ValueError as exc:
            raise ProviderError(f"the restore's config blob {url} is not JSON: {exc}") from exc

    async def _vault_region(self, item: records.BackupItem) -> str:
        """The region of the vault protecting an item: the item's location, else the vault's own."""
        if item.region:
            return item.region
        vault = resource_id(self.subscription_id, item.vault_group, "Microsoft.RecoveryServices", ("vaults", item.vault))
        async with translated(f"reading vault {item.vault}"):
            found = await self.clients.resources.resources.get_by_id(vault, api_version=VAULT_API_VERSION)
        return found.location or ""

    async def check_staging_account(self, vm_names: Iterable[str]) -> list[str]:
        """What is wrong with the staging storage account for restoring these VMs (read from Azure, nothing
        is created): it must exist, be in the region of the vault that restores each VM, and not be
        zone-redundant (backup-azure-arm-restore-vms)."""
        staging = self.options.staging_storage_account
        if not staging:
            return ["azure.staging_storage_account is not set: Azure Backup restores stage through a storage account"]
        ref = try_parse_id(staging)
        if ref is None or ref.type.lower() != STORAGE_ACCOUNT_TYPE.lower():
            return [f"azure.staging_storage_account {staging!r} is not a storage account id (.../providers/{STORAGE_ACCOUNT_TYPE}/<name>)"]
        try:
            async with translated(f"reading storage account {ref.name}"):
                account = await self.clients.resources.resources.get_by_id(staging, api_version=STORAGE_API_VERSION)
        except NotFoundError:
            return [f"azure.staging_storage_account {ref.name} does not exist"]
        problems = []
        sku = (account.sku.name if account.sku is not None else None) or ""
        if "zrs" in sku.lower():
            problems.append(
                f"azure.staging_storage_account {ref.name} is {sku}: Azure Backup cannot stage a restore in a zone-redundant account"
            )
        wanted = set(vm_names)
        regions = sorted({await self._vault_region(item) for item in await self.backup_items() if item.vm_name in wanted} - {""})
        location = (account.location or "").replace(" ", "").lower()
        for region in regions:
            if region.replace(" ", "").lower() != location:
                problems.append(
                    f"azure.staging_storage_account {ref.name} is in {account.location}, the vault of the restored VMs in {region}: "
                    "it must be in the vault's region"
                )
        return problems

    async def check_crr_staging_account(self, regions: Iterable[str]) -> list[str]:
        """What is wrong with the cross-region restore staging account (reads only): it must exist, be in the
        secondary region the restores run in, and not be zone-redundant (backup-azure-arm-restore-vms)."""
        staging = self.options.crr_staging_storage_account
        if not staging:
            return ["azure.crr_staging_storage_account is not set: a cross-region restore stages in the secondary region"]
        ref = try_parse_id(staging)
        if ref is None or ref.type.lower() != STORAGE_ACCOUNT_TYPE.lower():
            return [
                f"azure.crr_staging_storage_account {staging!r} is not a storage account id (.../providers/{STORAGE_ACCOUNT_TYPE}/<name>)"
            ]
        try:
            async with translated(f"reading storage account {ref.name}"):
                account = await self.clients.resources.resources.get_by_id(staging, api_version=STORAGE_API_VERSION)
        except NotFoundError:
            return [f"azure.crr_staging_storage_account {ref.name} does not exist"]
        problems = []
        sku = (account.sku.name if account.sku is not None else None) or ""
        if "zrs" in sku.lower():
            problems.append(
                f"azure.crr_staging_storage_account {ref.name} is {sku}: Azure Backup cannot stage a restore in a zone-redundant account"
            )
        location = (account.location or "").replace(" ", "").lower()
        for region in sorted(set(regions)):
            if region.replace(" ", "").lower() != location:
                problems.append(
                    f"azure.crr_staging_storage_account {ref.name} is in {account.location}, the cross-region restore in {region}: "
                    "it must be in the secondary region"
                )
        return problems

    # ------------------------------------------------------------------------------ site recovery

    async def replicated_items(self) -> list[records.ReplicatedItem]:
        """The VMs Site Recovery replicates in the Drill's vault (or in every vault); read afresh."""
        found: list[records.ReplicatedItem] = []
        for group, vault in await self._vaults(self.options.site_recovery_vault):
            async with translated(f"listing replicated items of vault {vault}"):
                listed = [
                    i
                    async for i in self.clients.site_recovery.replication_protected_items.list(
                        resource_group_name=group, resource_name=vault
                    )
                ]
            found += [item for item in map(records.replicated_item, listed) if item is not None]
        self._replicated_items = found
        return found

    async def _replicated_item(self, vm_id: str, *, fresh: bool = False) -> records.ReplicatedItem:
        items = self._replicated_items if self._replicated_items is not None and not fresh else await self.replicated_items()
        item = records.matching(items, vm_id)
        if item is None:
            where = self._vault_hint(self.options.site_recovery_vault, "site_recovery_vault")
            raise NotFoundError(f"VM {parse_id(vm_id).name} is not replicated by Site Recovery in {where}")
        return item

    async def list_replication_points(self, vm_id: str) -> list[ReplicationPoint]:
        item = await self._replicated_item(vm_id)
        async with translated(f"listing replication points of {item.vm_name}"):
            listed = [
                p
                async for p in self.clients.site_recovery.recovery_points.list_by_replication_protected_items(
                    resource_group_name=item.vault_group,
                    resource_name=item.vault,
                    fabric_name=item.fabric,
                    protection_container_name=item.container,
                    replicated_protected_item_name=item.item,
                )
            ]
        points = [p for p in (records.replication_point(r, item) for r in listed) if p is not None]
        return sorted(points, key=lambda p: p.time)

    async def _choose_point(self, vm_id: str, choice: ReplicationPointChoice) -> str | None:
        """`latest` sends no point (Site Recovery processes pending data first); the others pick one."""
        if choice is ReplicationPointChoice.LATEST:
            return None
        points = await self.list_replication_points(vm_id)
        if choice is ReplicationPointChoice.LATEST_APP_CONSISTENT:
            points = [p for p in points if p.type is PointType.APP_CONSISTENT]
        elif choice is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED:
            # The per-item points a multi-VM consistency group shares (recoveryPointSyncType MultiVmSyncRecoveryPoint).
            points = [p for p in points if p.group is not None]
        if not points:
            raise NotFoundError(f"VM {parse_id(vm_id).name} has no {choice.value} replication point")
        return points[-1].id

    async def _accepted_job(self, item: records.ReplicatedItem, scenario: str, since: datetime, what: str) -> str:
        """The job of an operation Site Recovery accepted, found as Azure exposes it: the item's
        `currentScenario.jobId`, else the vault's newest job of that scenario on the item started since
        the request (its poll URLs name an operation, never the job). Read again a few times: a job
        shows within seconds of the 202."""
        since = since - JOB_CLOCK_SKEW
        for lookup in range(JOB_LOOKUPS):
            if lookup:
                await self._wait(self.polling_interval)
            job_id = await self._scenario_job(item, scenario, since) or await self._listed_job(item, scenario, since)
            if job_id is not None:
                return job_id
        raise ProviderError(
            f"{what} was accepted but Site Recovery shows no {scenario} job for it: neither the item's currentScenario "
            f"nor the jobs of vault {item.vault} since {utc_text(since)} (look for it in the vault's Site Recovery jobs)"
        )

    async def _scenario_job(self, item: records.ReplicatedItem, scenario: str, since: datetime) -> str | None:
        async with translated(f"reading replicated item {item.vm_name}"):
            resource = await self.clients.site_recovery.replication_protected_items.get(
                resource_group_name=item.vault_group,
                resource_name=item.vault,
                fabric_name=item.fabric,
                protection_container_name=item.container,
                replicated_protected_item_name=item.item,
            )
        current = resource.properties.current_scenario if resource.properties is not None else None
        if current is None or not current.job_id or (current.scenario_name or "").lower() != scenario.lower():
            return None
        started = _utc(current.start_time)
        if started is not None and started < since:
            return None  # an earlier operation's job
        return self._job_id(item, current.job_id)

    async def _listed_job(self, item: records.ReplicatedItem, scenario: str, since: datetime) -> str | None:
        jobs = self.clients.site_recovery.replication_jobs
        try:
            async with translated(f"listing Site Recovery jobs of vault {item.vault}"):
                listed = [
                    j
                    async for j in jobs.list(
                        resource_group_name=item.vault_group, resource_name=item.vault, filter=f"startTime eq '{utc_text(since)}'"
                    )
                ]
        except (NotFoundError, ConflictError, TransientError):
            raise
        except ProviderError:  # a filter this vault does not take: list everything and filter here
            async with translated(f"listing Site Recovery jobs of vault {item.vault}"):
                listed = [j async for j in jobs.list(resource_group_name=item.vault_group, resource_name=item.vault)]
        found = [
            (started, job.id)
            for job in listed
            if job.id
            and (props := job.properties) is not None
            and (props.scenario_name or "").lower() == scenario.lower()
            and _targets(props, item)
            and (started := _utc(props.start_time)) is not None
            and started >= since
        ]
        return self._job_id(item, max(found)[1]) if found else None

    def _job_id(self, item: records.ReplicatedItem, job_id: str) -> str:
        """The job's ARM id in drsim's spelling (Site Recovery writes `/Subscriptions/`)."""
        return resource_id(
            self.subscription_id,
            item.vault_group,
            "Microsoft.RecoveryServices",
            ("vaults", item.vault),
            ("replicationJobs", job_id.rstrip("/").rsplit("/", 1)[-1]),
        )

    async def test_failover(
        self,
        vm_id: str,
        *,
        choice: ReplicationPointChoice,
        network_id: str,
        tags: Mapping[str, str],
        point_id: str | None = None,
    ) -> Job:
        item = await self._replicated_item(vm_id)
        chosen = point_id if point_id is not None else await self._choose_point(vm_id, choice)
        body = asr.TestFailoverInput(
            properties=asr.TestFailoverInputProperties(
                failover_direction="PrimaryToRecovery",
                network_type="VmNetworkAsInput",
                network_id=network_id,
                provider_specific_details=asr.A2ATestFailoverInput(recovery_point_id=chosen),
            )
        )
        asked = self.clock.now()
        async with translated(f"test failover of {item.vm_name}"):
            # Not awaited to the end: the operation lasts as long as its job, which get_job follows.
            await self.clients.site_recovery.replication_protected_items.begin_test_failover(
                resource_group_name=item.vault_group,
                resource_name=item.vault,
                fabric_name=item.fabric,
                protection_container_name=item.container,
                replicated_protected_item_name=item.item,
                testfailover_input=body,
                polling=False,
            )
        job_id = await self._accepted_job(item, "TestFailover", asked, f"the test failover of {item.vm_name}")
        self._job_tags[job_id] = dict(tags)
        return await self.get_job(job_id)

    async def test_failover_cleanup(self, vm_id: str) -> Job:
        item = await self._replicated_item(vm_id)
        body = asr.TestFailoverCleanupInput(properties=asr.TestFailoverCleanupInputProperties(comments="drsim drill cleanup"))
        asked = self.clock.now()
        async with translated(f"test failover cleanup of {item.vm_name}"):
            await self.clients.site_recovery.replication_protected_items.begin_test_failover_cleanup(
                resource_group_name=item.vault_group,
                resource_name=item.vault,
                fabric_name=item.fabric,
                protection_container_name=item.container,
                replicated_protected_item_name=item.item,
                cleanup_input=body,
                polling=False,
            )
        return await self.get_job(
            await self._accepted_job(item, "TestFailoverCleanup", asked, f"the test failover cleanup of {item.vm_name}")
        )

    async def _replication_job(self, job_id: str, group: str, vault: str, job_name: str) -> Job:
        async with translated(f"reading Site Recovery job {job_name}"):
            resource = await self.clients.site_recovery.replication_jobs.get(
                resource_group_name=group, resource_name=vault, job_name=job_name
            )
        props = resource.properties
        if props is None:
            raise ProviderError(f"Site Recovery job {job_name} has no properties")
        status = _status(props.state)
        scenario = (props.scenario_name or "").lower()
        kind = JobKind.TEST_FAILOVER_CLEANUP if "cleanup" in scenario else JobKind.TEST_FAILOVER
        items = self._replicated_items or await self.replicated_items()
        item = next((i for i in items if _targets(props, i, by_name=False)), None)
        if item is None:
            item = next((i for i in items if _targets(props, i)), None)
        vm_id = item.vm_id if item is not None else props.target_object_id or ""
        details = props.custom_details
        point_time = None
        if isinstance(details, asr.TestFailoverJobDetails):
            for protected in details.protected_item_details or []:
                point_time = _utc(protected.recovery_point_time) or point_time
        error, error_kind = None, None
        if status is JobStatus.FAILED:
            messages = [
                e.service_error_details.message
                for e in props.errors or []
                if e.service_error_details is not None and e.service_error_details.message
            ]
            error = "; ".join(messages) or f"job {props.state}"
            error_kind = job_error_kind(e.service_error_details.code for e in props.errors or [] if e.service_error_details is not None)
        elif status is JobStatus.CANCELLED:
            error = f"job {props.state}"
        created: tuple[str, ...] = ()
        if status is JobStatus.SUCCEEDED and kind is JobKind.TEST_FAILOVER and item is not None:
            created = await self._test_failover_resources(item)
            await self._tag_recovered(created, self._job_tags.get(job_id, {}))
        return Job(
            id=job_id,
            kind=kind,
            status=status,
            vm_id=vm_id,
            started_at=_utc(props.start_time) or self.clock.now(),
            ended_at=_utc(props.end_time) if status.ended else None,
            error=error,
            error_kind=error_kind,
            created=created,
            recovery_point_time=point_time,
        )

    async def _test_failover_resources(self, item: records.ReplicatedItem) -> tuple[str, ...]:
        """The test VM (named by Site Recovery, in the recovery resource group) and its disks."""
        fresh = await self._replicated_item(item.vm_id, fresh=True)
        if not fresh.test_vm_name or not fresh.recovery_resource_group_id:
            return ()
        group = fresh.recovery_resource_group_id.rstrip("/").split("/")[-1]
        try:
            vm = await self.get_vm(self._id("Microsoft.Compute", "virtualMachines", fresh.test_vm_name, group))
        except NotFoundError:
            return ()
        return (vm.id, *vm.disk_ids)

    def adopt_job(
        self,
        job_id: str,
        *,
        tags: Mapping[str, str],
        mode: RestoreMode | None = None,
        target: str | None = None,
        tier: PointTier | None = None,
    ) -> None:
        """Follow a job an earlier process of the run started (a resumed drill), as if this one had: what the
        job creates is tagged with the run, and a restore as a VM is found by the VM name drsim asked for."""
        self._job_tags[job_id] = dict(tags)
        if mode is not None:
            target_vm = self._id("Microsoft.Compute", "virtualMachines", azure_name(target, ResourceKind.VM)) if target else None
            known = self._restores.get(job_id.lower())
            self._restores[job_id.lower()] = _Restore(
                mode, target_vm if mode is RestoreMode.VM else None, tier or (known.tier if known else PointTier.VAULT)
            )

    async def find_job(self, kind: JobKind, vm_id: str, *, since: datetime) -> Job | None:
        """A restore or test failover Azure accepted for `vm_id` since `since` (a resumed drill whose previous
        process stopped between Azure's 202 and learning the job id): Site Recovery shows it as the item's
        `currentScenario` or in the vault's replicationJobs; Backup in the vault's backupJobs (operation
        Restore, the item's VM by its friendly name, started since `since`)."""
        if kind is JobKind.RESTORE:
            item = await self._backup_item(vm_id)
            async with translated(f"listing backup jobs of vault {item.vault}"):
                listed = [
                    j
                    async for j in self.clients.backup.backup_jobs.list(
                        vault_name=item.vault, resource_group_name=item.vault_group, filter="operation eq 'Restore'"
                    )
                ]
            found = [
                (started, job.name)
                for job in listed
                if job.name
                and (props := job.properties) is not None
                and (props.entity_friendly_name or "").lower() == item.vm_name.lower()
                and (started := _utc(props.start_time)) is not None
                and started >= since - JOB_CLOCK_SKEW
            ]
            if not found:
                return None
            job_id = resource_id(
                self.subscription_id, item.vault_group, "Microsoft.RecoveryServices", ("vaults", item.vault), ("backupJobs", max(found)[1])
            )
            return await self.get_job(job_id)
        scenario = "TestFailoverCleanup" if kind is JobKind.TEST_FAILOVER_CLEANUP else "TestFailover"
        replicated = await self._replicated_item(vm_id, fresh=True)
        since = since - JOB_CLOCK_SKEW
        found_id = await self._scenario_job(replicated, scenario, since) or await self._listed_job(replicated, scenario, since)
        return await self.get_job(found_id) if found_id is not None else None

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a Backup job of a vault (JobCancellations_Trigger: POST `.../backupJobs/<job>/cancel`,
        answered 202; the SDK does not poll it): the job then reads Cancelling, then Cancelled. Cross-region
        restore jobs (the passive stamp has no cancel) and Site Recovery jobs are not cancelled here."""
        ref = parse_id(job_id)
        if ref.path[-1][0].lower() != "backupjobs" or ref.path[0][0].lower() != "vaults":
            raise ConflictError(f"{ref.name}: only a Backup job of a vault can be cancelled (not {ref.path[-1][0]})")
        async with translated(f"cancelling backup job {ref.name}"):
            await self.clients.backup.job_cancellations.trigger(
                vault_name=ref.child("vaults"), resource_group_name=ref.resource_group, job_name=ref.name
            )

    async def get_job(self, job_id: str) -> Job:
        ref = parse_id(job_id)
        vault = ref.child("vaults")
        last = ref.path[-1][0].lower()
        if last == "backupjobs":
            return await self._backup_job(job_id, ref.resource_group, vault, ref.name)
        if last == CRR_JOBS.lower():
            return await self._crr_job(job_id, ref.resource_group, vault, ref.child("locations"), ref.name)
        if last == "replicationjobs":
            return await self._replication_job(job_id, ref.resource_group, vault, ref.name)
        raise NotFoundError(f"{job_id} is not a Backup or Site Recovery job id")

    # ------------------------------------------------------------------------------------ checks

    async def read_canary(
        self, vm_id: str, *, origin_id: str | None = None, origin_uuid: str | None = None, not_after: datetime | None = None
    ) -> CanaryReading:
        """Run the canary check through Run Command; a VM that cannot run it is unreachable. Only markers
        of the production VM `origin_id` (its vmId: `origin_uuid`, the estate's, else read from ARM)
        written by `not_after` count."""
        if origin_uuid is not None:
            production = origin_uuid.lower()
        elif origin_id is not None:
            production = await self._vm_uuid(origin_id)
        else:
            raise ProviderError(f"canary check on {parse_id(vm_id).name}: no production VM to tell its markers from the recovered VM's")
        ref = parse_id(vm_id)
        vm = await self.get_vm(vm_id)
        os = vm.os
        command = compute.RunCommandInput(
            command_id=canary.WINDOWS_COMMAND_ID if os is OsType.WINDOWS else canary.LINUX_COMMAND_ID,
            script=canary.check_script(os, production, not_after),
        )
        try:
            async with translated(f"running the canary check on {ref.name}"):
                poller = await self.clients.compute.virtual_machines.begin_run_command(ref.resource_group, ref.name, command)
                result = await poller.result()
        except ConflictError:
            # Run Command needs a running VM with a ready guest agent (run-command troubleshooting).
            return CanaryReading(vm_id=vm_id, reachable=False, last_marker_at=None, last_sequence=None, corrupted=False)
        output = "\n".join(s.message or "" for s in result.value or [])
        return canary.parse_report(vm_id, output, production, not_after)

    async def _vm_uuid(self, vm_id: str) -> str:
        """A VM's vmId (properties.vmId, VirtualMachines_Get), the id its canary writer reads from the
        instance metadata service and writes in every marker; read once per VM."""
        key = vm_id.lower()
        if key not in self._vm_uuids:
            try:
                model = await self._get_vm_model(vm_id)
            except NotFoundError as exc:
                raise ProviderError(
                    f"the vmId of production VM {parse_id(vm_id).name} cannot be read ({exc}), and without it the canary "
                    "check cannot tell production's markers from the recovered VM's: give the VM's vm_uuid in the estate "
                    "(drsim discover writes it)"
                ) from exc
            if not model.vm_id:
                raise ProviderError(f"VM {parse_id(vm_id).name} has no vmId: its canary markers cannot be told from a copy's")
            self._vm_uuids[key] = model.vm_id.lower()
        return self._vm_uuids[key]


def _targets(props: asr.JobProperties, item: records.ReplicatedItem, *, by_name: bool = True) -> bool:
    """Whether a Site Recovery job acts on this replicated item: its targetObjectId is the item's name
    (ReplicationJobs_Get.json) or, in some answers, its ARM id; else (by_name) its targetObjectName is the VM's."""
    target = props.target_object_id or ""
    if target and (target.lower() == item.item.lower() or same_id(target, item.item_id)):
        return True
    return by_name and bool(props.target_object_name) and (props.target_object_name or "").lower() == item.vm_name.lower()


def _parse_time(text: str | None) -> datetime | None:
    """A time as ARM writes it, or as a Backup job's property bag does ('1/7/2021 10:11:19 AM', UTC)."""
    if not text:
        return None
    try:
        return parse_utc(text, naive_is_utc=True)
    except ValueError:
        pass
    try:
        return datetime.strptime(text.strip(), "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=UTC)
    except ValueError:
        return None


def _bag_value(bag: Mapping[str, str], key: str) -> str | None:
    """A property-bag entry by its name, ignoring case and surrounding spaces (Azure writes 'Recovery point time ')."""
    wanted = key.strip().lower()
    return next((v for k, v in bag.items() if k.strip().lower() == wanted and v), None)


def restore_tier(tiers: frozenset[PointTier]) -> PointTier:
    """The tier an Azure VM restore uses: the snapshot when the point has one, else the vault (there is no
    tier field in IaasVMRestoreRequest: backup-instant-restore-capability)."""
    return PointTier.SNAPSHOT if PointTier.SNAPSHOT in tiers else PointTier.VAULT


def decode_config(body: bytes) -> str:
    """A restore's config blob as text: Azure Backup writes it in UTF-16 ('Unicode'), padded with NULs
    (backup-azure-vms-automation reads it with -Encoding Unicode and trims the NULs); UTF-8 is taken too."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(body) > 1 and body[1:2] == b"\x00"):
        text = body.decode("utf-16")
    else:
        text = body.decode("utf-8-sig")
    return text.strip("\x00 \r\n\t")


def _key(mapping: Any, name: str) -> Any:
    """A JSON object's member by name, ignoring case (PowerShell reads the config case-insensitively)."""
    if not isinstance(mapping, dict):
        return None
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == name.lower()), None)


def config_disk_names(config: Any) -> list[str]:
    """The managed disks a restore's config blob names: `properties.storageProfile` (a member named so, with
    the dot) or `properties` -> `storageProfile`; the OS disk first, then data disks by LUN."""
    profile = _key(config, "properties.storageProfile") or _key(_key(config, "properties"), "storageProfile")
    if not isinstance(profile, dict):
        return []
    names = []
    os_disk = _key(profile, "osDisk")
    if isinstance(_key(os_disk, "name"), str):
        names.append(_key(os_disk, "name"))
    data = _key(profile, "dataDisks")
    disks = [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []
    for disk in sorted(disks, key=lambda d: _key(d, "lun") if isinstance(_key(d, "lun"), int) else 0):
        if isinstance(_key(disk, "name"), str):
            names.append(_key(disk, "name"))
    return names


async def connect(options: AzureOptions, *, credential: Any = None, **provider_options: Any) -> AzureProvider:
    """An AzureProvider for a Drill's `azure:` block, on the right clock.

    Against Azure: the wall clock. Against a loopback endpoint (the ARM emulator): an EmulatorClock,
    anchored by a first read whose response carries the emulator's world time; ProviderError when
    the endpoint sends none (it is not the drsim ARM emulator).
    """
    if options.endpoint is None or not check_endpoint(options.endpoint).emulator:
        return AzureProvider(options, credential=credential, **provider_options)
    clock = EmulatorClock(datetime.now(UTC), 1.0)
    provider = AzureProvider(options, credential=credential, clock=clock, **provider_options)
    try:
        async with translated(f"reading the resource groups of {options.endpoint}"):
            async for _ in provider.clients.resources.resource_groups.list():
                break
        if clock.readings == 0:
            raise ProviderError(f"{options.endpoint} sent no {WORLD_TIME_HEADER} header: is it the drsim ARM emulator?")
    except BaseException:
        await provider.close()
        raise
    return provider
