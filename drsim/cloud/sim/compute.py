"""Compute in the simulated world: VMs, managed disks, snapshots and images, deletion, and the canary check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from drsim.cloud.api import (
    RUN_TAG,
    CanaryReading,
    Image,
    ManagedDisk,
    ResourceKind,
    Snapshot,
    TaggedResource,
    VirtualMachine,
)
from drsim.cloud.arm import RequestClass, kind_of
from drsim.cloud.prices import cost_per_day
from drsim.cloud.sim import schedules
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    DiskState,
    ImageDisk,
    ImageState,
    NetworkState,
    NsgState,
    SnapshotState,
    VmState,
    frozen_tags,
    resource_id,
)
from drsim.cloud.sim.schedules import ScheduledSnapshot
from drsim.cloud.sim.state import MIB_PER_GIB, NEEDS_FULL_HYDRATION, WorldState
from drsim.cloud.sim.workload import read_canary
from drsim.errors import ConflictError, NotFoundError, QuotaError, TransientError
from drsim.model.documents import SnapshotRule
from drsim.model.types import OsType, PowerState

_DRILL_DISK = resource_id(DRILL_GROUP, ResourceKind.DISK, "")
_DRILL_SNAPSHOT = resource_id(DRILL_GROUP, ResourceKind.SNAPSHOT, "")
_DRILL_VM = resource_id(DRILL_GROUP, ResourceKind.VM, "")
"""The ids of what a drill creates are these plus its name (resource_id, without a call per creation)."""


class ComputeService(WorldState):
    """Microsoft.Compute operations of the provider Protocol (and reads of the estate's resources)."""

    async def list_vms(self) -> list[VirtualMachine]:
        await self._request("list_vms", self.estate.regions.primary, RequestClass.READ, "vms")
        # The subscription-wide listing is ARM's inventory (as Resource Graph keeps it): VMs of a failed
        # region stay listed as last known (not booted), while reading one of them fails.
        now, active = self.now(), self._active()
        return [self._public_vm(vm, now) for vm in self._vms.values() if not (vm.production and active and vm.name in self._deleted_vms)]

    async def get_vm(self, vm_id: str) -> VirtualMachine:
        vm = self._vms.get(vm_id)
        await self._request("get_vm", vm.region if vm else self.estate.regions.primary, RequestClass.READ, vm_id)
        return self._public_vm(self._get_vm(vm_id), self.now())

    async def list_disks(self, vm_id: str | None = None) -> list[ManagedDisk]:
        await self._request("list_disks", self.estate.regions.primary, RequestClass.READ, vm_id or "disks")
        if vm_id is not None:
            vm = self._get_vm(vm_id)
            return [self._get_disk(d).public() for d in vm.disk_ids if d in self._disks]
        found = []
        for disk_id in self._disks:
            try:
                found.append(self._get_disk(disk_id).public())
            except NotFoundError:
                continue
        return found

    async def list_snapshots(self, disk_id: str | None = None) -> list[Snapshot]:
        await self._request("list_snapshots", self.estate.regions.primary, RequestClass.READ, disk_id or "snapshots")
        disk_ids = [disk_id] if disk_id is not None else [d for d, s in self._disks.items() if s.production]
        for each in disk_ids:
            self._materialize_scheduled(each)
        candidates = list(self._snapshots_of_disk.get(disk_id, {})) if disk_id is not None else list(self._snapshots)
        found = []
        for snapshot_id in candidates:
            try:
                found.append(self._get_snapshot(snapshot_id).public())
            except NotFoundError:
                continue
        found.sort(key=lambda s: (s.taken_at, s.region, s.id))
        return found

    async def list_images(self) -> list[Image]:
        await self._request("list_images", self.estate.regions.primary, RequestClass.READ, "images")
        return [i.public() for i in self._images.values() if not self._region_down(i.region)]

    async def list_tagged(self, run_id: str) -> list[TaggedResource]:
        await self._request("list_tagged", self.estate.regions.primary, RequestClass.READ, run_id)
        found = []
        for rid, kind in self._tags.by_run.get(run_id, {}).items():
            found.append(self._tagged_record(rid, kind))
        return found

    def price_per_day(self, resource_id: str) -> float | None:
        """The price list_tagged gives the resource, read without a request (no virtual time passes)."""
        kind, found = self._lookup(resource_id)
        if found is None or kind is None:
            return None  # not in the world (deleted, never made) or not a kind it prices
        return self._price(found, kind if kind.__class__ is ResourceKind else ResourceKind(kind))

    def _lookup(
        self, resource_id: str
    ) -> tuple[str | None, VmState | DiskState | SnapshotState | ImageState | NetworkState | NsgState | None]:
        """The kind of a resource (known since it was made, when a drill made it; else from its id) and its record, if any."""
        kinds, tables = self._drill_kinds, self._tables
        kind = kinds[resource_id] if resource_id in kinds else kind_of(resource_id)  # subscripts, not .get: one call each less
        if kind is None or kind not in tables:
            return kind, None
        table = tables[kind]
        return kind, table[resource_id] if resource_id in table else None  # noqa: SIM401 - a subscript, not .get: one call less per operation

    def _table(self, kind: str | None) -> Mapping[str, VmState | DiskState | SnapshotState | ImageState | NetworkState | NsgState] | None:
        """The world's resources of one ARM type (kind_of), or None for a type it does not hold."""
        return self._tables.get(kind) if kind is not None else None

    def _price(self, found: VmState | DiskState | SnapshotState | ImageState | NetworkState | NsgState, kind: ResourceKind) -> float:
        """cost_per_day of one of the world's resources, worked out once per kind and what it is priced on."""
        if kind is ResourceKind.VM:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, VmState)
            key: tuple[object, ...] = (kind, found.size)
        elif kind is ResourceKind.DISK:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, DiskState)
            key = (kind, found.sku, found.size_gib)
        elif kind is ResourceKind.SNAPSHOT or kind is ResourceKind.IMAGE:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, SnapshotState | ImageState)
            key = (kind, found.used_gib)
        else:
            return 0.0
        price = self._prices.get(key)
        if price is None:
            price = self._prices[key] = cost_per_day(
                self.catalog.prices,
                kind,
                size=found.size if isinstance(found, VmState) else "",
                sku=found.sku if isinstance(found, DiskState) else "",
                size_gib=found.size_gib if isinstance(found, DiskState) else 0.0,
                used_gib=found.used_gib if isinstance(found, SnapshotState | ImageState) else 0.0,
            )
        return price

    def _tagged_record(self, rid: str, kind: ResourceKind) -> TaggedResource:
        found = self._tables[kind][rid]
        return TaggedResource(rid, kind, found.name, found.region, self._price(found, kind))

    def _materialize_scheduled(self, disk_id: str) -> None:
        """Make the plan's scheduled snapshots of a production disk (and their copies) exist as of now."""
        disk = self._disks.get(disk_id)
        if disk is None:
            return
        rule = self._snapshot_rule(disk)
        if rule is None:
            return
        now = self.now()
        kept = schedules.snapshot_schedule(rule, disk.id, self.catalog, self.draws, at=now, stop=self._stops[disk.origin_vm])
        previous: ScheduledSnapshot | None = None
        for scheduled in kept:
            self._add_scheduled(disk, rule, scheduled, previous, now)
            previous = scheduled

    def _add_scheduled(
        self, disk: DiskState, rule: SnapshotRule, scheduled: ScheduledSnapshot, previous: ScheduledSnapshot | None, now: datetime
    ) -> None:
        """Register one scheduled snapshot (and its cross-region copy once the copy is done); idempotent."""
        content = self._workloads[disk.origin_vm].capture(disk.origin_disk, scheduled.taken_at, flushed=False)
        stamp = scheduled.taken_at.strftime("%Y%m%dT%H%M")
        if rule.incremental and previous is not None:
            # Incremental snapshots: the first is full, then deltas, billed on used size (disks-incremental-snapshots).
            elapsed_days = (scheduled.taken_at - previous.taken_at).total_seconds() / 86400
            billed = min(disk.used_gib, disk.churn_gib_per_day * elapsed_days)
        else:
            billed = disk.used_gib
        tags = frozen_tags({"source-vm": disk.origin_vm, "source-disk": disk.origin_disk, "schedule": "plan"})
        name = f"{disk.name}-{stamp}"
        snap = SnapshotState(
            id=resource_id(self._prod_group, ResourceKind.SNAPSHOT, name),
            name=name,
            region=disk.region,
            disk_id=disk.id,
            taken_at=scheduled.taken_at,
            incremental=rule.incremental,
            used_gib=round(billed, 3),
            copy_of=None,
            tags=tags,
            production=True,
            content=content,
            size_gib=disk.size_gib,
            disk_used_gib=disk.used_gib,
            sku=disk.sku,
            schedule_index=scheduled.index,
        )
        if snap.id not in self._snapshots:
            self._register_snapshot(snap)
        if rule.copy_to_region is not None and f"{snap.id}-{rule.copy_to_region}" not in self._snapshots:
            # Cross-region copies are incremental, one at a time per disk, in creation order
            # (disks-copy-incremental-snapshot-across-regions): copy k starts after copy k-1 ends.
            seconds = self._draw(self.catalog.snapshots.copy_base, "scheduled-copy", disk.id, scheduled.index)
            seconds += (
                billed
                * MIB_PER_GIB
                / self._draw(self.catalog.snapshots.copy_throughput_mbps, "scheduled-copy-rate", disk.id, scheduled.index)
            )
            if scheduled.taken_at + timedelta(seconds=seconds) <= now:
                copy_name = f"{name}-{rule.copy_to_region}"
                copy = SnapshotState(
                    id=resource_id(self._prod_group, ResourceKind.SNAPSHOT, copy_name),
                    name=copy_name,
                    region=rule.copy_to_region,
                    disk_id=disk.id,
                    taken_at=scheduled.taken_at,
                    incremental=True,
                    used_gib=snap.used_gib,
                    copy_of=snap.id,
                    tags=tags,
                    production=True,
                    content=content,
                    size_gib=disk.size_gib,
                    disk_used_gib=disk.used_gib,
                    sku=disk.sku,
                    schedule_index=scheduled.index,
                )
                self._register_snapshot(copy)
                key = (disk.id, rule.copy_to_region)
                self._last_copied[key] = max(self._last_copied.get(key, scheduled.taken_at), scheduled.taken_at)

    async def create_snapshot(self, disk_id: str, *, name: str, incremental: bool, tags: Mapping[str, str]) -> Snapshot:
        disk = self._get_disk(disk_id)
        owed = self._admit("create_snapshot", disk.region, RequestClass.WRITE, disk_id)
        snapshot_id = _DRILL_SNAPSHOT + name
        existing = self._snapshots[snapshot_id] if snapshot_id in self._snapshots else None  # noqa: SIM401 - a subscript, not .get: one call less per operation
        if existing is not None:
            await self._wait(owed)  # the answer's round trip
            if existing.disk_id == disk_id and existing.copy_of is None:
                return existing.public()  # a repeated PUT of the same snapshot
            raise ConflictError(f"snapshot {name} already exists for another source")
        counters = self._counters
        count = counters[disk_id] if disk_id in counters else 0  # noqa: SIM401 - a subscript, not .get: one call less per operation
        counters[disk_id] = count + 1
        snapshots, unit = self.catalog.snapshots, self.draws.unit_of
        # A snapshot copies ONE disk at its own instant: parallel snapshots of a VM's disks land at
        # different instants (azure-facts.md, Managed disk snapshots, H).
        capture = snapshots.capture_latency.sample(unit(f"snapshot-capture/{disk_id}/{count}"))
        await self.clock.sleep(((owed if owed > 0 else 0.0) + (capture if capture > 0 else 0.0)) * self._latency)  # _after, inline
        if self._due:
            self._settle()
        disk = self._get_disk(disk_id)
        taken = self.clock.now()
        content = disk.content or self._workloads[disk.origin_vm].capture(disk.origin_disk, taken, flushed=False)  # _content
        used = disk.used_gib
        billed = used
        chain = (disk_id, disk.region)
        if incremental:
            last = self._last_incremental
            previous = self._snapshots[last[chain]] if chain in last and last[chain] in self._snapshots else None
            if previous is not None:
                # Incremental: the first is full, then deltas (disks-incremental-snapshots); billed on used size.
                days = (taken - previous.taken_at).total_seconds() / 86400
                billed = min(used, disk.churn_gib_per_day * days)
        seconds = snapshots.create.sample(unit(f"snapshot-create/{disk_id}/{count}"))
        if disk.sku in NEEDS_FULL_HYDRATION:
            # Ultra and Premium v2 snapshots need CompletionPercent=100 before use (disks-instant-access-snapshots, H).
            seconds += (
                used * MIB_PER_GIB / self._draw(self.catalog.snapshots.hydration_throughput_mbps, "snapshot-hydration", disk_id, count)
            )
        await self.clock.sleep((seconds if seconds > 0 else 0.0) * self._latency)  # _wait, inline
        snap = SnapshotState(
            id=snapshot_id,
            name=name,
            region=disk.region,
            disk_id=disk_id,
            taken_at=taken,
            incremental=incremental,
            used_gib=round(billed, 3),
            copy_of=None,
            tags=self._freeze(tags),
            production=False,
            content=content,
            size_gib=disk.size_gib,
            disk_used_gib=used,
            sku=disk.sku,
        )
        self._register_snapshot(snap)
        if incremental:
            self._last_incremental[chain] = snapshot_id
        return snap.public()

    async def copy_snapshot(self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Snapshot:
        source = self._get_snapshot(snapshot_id)
        await self._request("copy_snapshot", region, RequestClass.WRITE, snapshot_id)
        if self._region_down(region):
            raise self._unreachable(region, "the copy's target region")
        copy_id = resource_id(DRILL_GROUP, ResourceKind.SNAPSHOT, name)
        existing = self._snapshots.get(copy_id)
        if existing is not None:
            if existing.copy_of == snapshot_id and existing.region == region:
                return existing.public()
            raise ConflictError(f"snapshot {name} already exists for another source")
        # Cross-region copy: incremental snapshots only, one at a time per disk, in creation order,
        # 100 parallel copies per subscription and region (disks-copy-incremental-snapshot-across-regions, H).
        if not source.incremental:
            raise ConflictError(f"snapshot {source.name} is a full snapshot: only incremental snapshots can be copied to another region")
        if region == source.region:
            raise ConflictError(f"snapshot {source.name} is already in {region}")
        if source.disk_id in self._copying:
            raise ConflictError(f"a copy of another snapshot of disk {source.disk_id} is in progress: copies run one at a time per disk")
        key = (source.disk_id, region)
        last = self._last_copied.get(key)
        if last is not None and source.taken_at < last:
            raise ConflictError(f"a newer snapshot of this disk was already copied to {region}: copies go in creation order")
        limit = self.catalog.snapshots.parallel_copies_per_region.value
        if self._copies_in_region.get(region, 0) >= limit:
            raise QuotaError(f"{limit} cross-region snapshot copies are already running into {region}")
        billed = source.used_gib if last is not None else source.disk_used_gib
        count = self._counters.get(f"copy:{snapshot_id}", 0)
        self._counters[f"copy:{snapshot_id}"] = count + 1
        seconds = self._draw(self.catalog.snapshots.copy_base, "copy", snapshot_id, region, count)
        seconds += billed * MIB_PER_GIB / self._draw(self.catalog.snapshots.copy_throughput_mbps, "copy-rate", snapshot_id, region, count)
        self._copying.add(source.disk_id)
        self._copies_in_region[region] = self._copies_in_region.get(region, 0) + 1
        try:
            await self._wait(seconds)
        finally:
            self._copying.discard(source.disk_id)
            self._copies_in_region[region] -= 1
        copy = SnapshotState(
            id=copy_id,
            name=name,
            region=region,
            disk_id=source.disk_id,
            taken_at=source.taken_at,
            incremental=True,
            used_gib=round(billed, 3),
            copy_of=snapshot_id,
            tags=frozen_tags(tags),
            production=False,
            content=source.content,
            size_gib=source.size_gib,
            disk_used_gib=source.disk_used_gib,
            sku=source.sku,
        )
        self._register_snapshot(copy)
        self._last_copied[key] = max(self._last_copied.get(key, source.taken_at), source.taken_at)
        return copy.public()

    async def create_disk(
        self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str], sku: str | None = None
    ) -> ManagedDisk:
        """A disk from a snapshot, of `sku` (the production disk's, which the snapshot also records)."""
        source = self._get_snapshot(snapshot_id)
        owed = self._admit("create_disk", region, RequestClass.WRITE, snapshot_id)
        if region != source.region:
            await self._wait(owed)
            raise ConflictError(f"snapshot {source.name} is in {source.region}: a disk is created in its snapshot's region (copy it first)")
        disk_id = _DRILL_DISK + name
        existing = self._disks.get(disk_id)
        if existing is not None:
            await self._wait(owed)
            if existing.source_id == snapshot_id:
                return existing.public()
            raise ConflictError(f"disk {name} already exists for another source")
        # A disk made from a snapshot is usable at once (disks-instant-access-snapshots).
        seconds = self.catalog.compute.disk_create.sample(self.draws.unit_of(f"disk-create/{disk_id}"))
        await self.clock.sleep(((owed if owed > 0 else 0.0) + (seconds if seconds > 0 else 0.0)) * self._latency)  # _after, inline
        if self._due:
            self._settle()
        if disk_id in self._disks:
            return self._disks[disk_id].public()
        disk = self._add_drill_disk(
            disk_id,
            name=name,
            region=region,
            size_gib=source.size_gib,
            used_gib=source.disk_used_gib,
            sku=sku or source.sku,
            source_id=snapshot_id,
            tags=self._freeze(tags),
            content=source.content,
        )
        return disk.public()

    async def create_vm(
        self, *, name: str, region: str, size: str, os: OsType, disk_ids: Sequence[str], network_id: str, tags: Mapping[str, str]
    ) -> VirtualMachine:
        owed = self._admit("create_vm", region, RequestClass.WRITE, name)
        try:
            if self._region_down(region):
                raise self._unreachable(region, "the target region")
            vm_id = _DRILL_VM + name
            existing = self._vms.get(vm_id)
            if existing is not None:
                if existing.disk_ids == list(disk_ids):
                    answer = existing.public(self.now())
                    await self._wait(owed)
                    return answer
                raise ConflictError(f"virtual machine {name} already exists with other disks")
            if not disk_ids:
                raise ConflictError("a VM needs at least its OS disk")
            disks = [self._get_disk(d) for d in disk_ids]
            self._check_attachable(disks, region)
            net = self._get_network(network_id)
            if net.region != region:
                raise ConflictError(f"network {net.name} is in {net.region}, the VM in {region}")
        except Exception:
            await self._wait(owed)  # refused: after the answer's round trip
            raise
        seconds = self._create_time(os, vm_id)
        await self.clock.sleep(((owed if owed > 0 else 0.0) + (seconds if seconds > 0 else 0.0)) * self._latency)  # _after, inline
        if self._due:
            self._settle()
        disks = [self._get_disk(d) for d in disk_ids]
        self._check_attachable(disks, region)
        now = self.clock.now()
        vm = VmState(
            id=vm_id,
            name=name,
            region=region,
            os=os,
            size=size,
            power=PowerState.RUNNING,
            generalized=False,
            disk_ids=list(disk_ids),
            network_id=network_id,
            tags=self._freeze(tags),
            production=False,
            origin=disks[0].origin_vm,
            booted_at=now + timedelta(0, self._boot_time(os, vm_id, generalized=False) * self._latency),
        )
        self._attach(vm)
        return vm.public(now)

    def _check_attachable(self, disks: list[DiskState], region: str) -> None:
        for disk in disks:
            if disk.region != region:
                raise ConflictError(f"disk {disk.name} is in {disk.region}, the VM in {region}")
            if disk.vm_id is not None:
                raise ConflictError(f"disk {disk.name} is already attached to {disk.vm_id}")

    async def find_vm(self, name: str, *, tags: Mapping[str, str]) -> VirtualMachine | None:
        """A VM of the drill by its name (the world makes a VM, and tags its disks, in one step: nothing to wait for)."""
        vm = self._vms.get(_DRILL_VM + name)
        await self._request("find_vm", vm.region if vm else self.estate.regions.primary, RequestClass.READ, name)
        return self._public_vm(vm, self.now()) if vm is not None and not vm.production else None

    async def create_vm_from_image(
        self, image_id: str, *, name: str, region: str, size: str, network_id: str, tags: Mapping[str, str]
    ) -> VirtualMachine:
        image = self._get_image(image_id)
        await self._request("create_vm_from_image", region, RequestClass.WRITE, name)
        if region != image.region:
            raise ConflictError(f"image {image.name} is in {image.region}: images are regional (keep one in the recovery region)")
        vm_id = resource_id(DRILL_GROUP, ResourceKind.VM, name)
        existing = self._vms.get(vm_id)
        if existing is not None:
            if existing.origin == image.origin and existing.region == region:
                return existing.public(self.now())
            raise ConflictError(f"virtual machine {name} already exists")
        net = self._get_network(network_id)
        if net.region != region:
            raise ConflictError(f"network {net.name} is in {net.region}, the VM in {region}")
        limit = self.catalog.compute.image_concurrent_deployments.value
        if image.deployments >= limit:
            # At most 20 simultaneous deployments from one managed image (capture-image-resource, H).
            raise QuotaError(f"image {image.name} already has {limit} deployments in progress (the limit per managed image)")
        image.deployments += 1
        try:
            await self._wait(self._create_time(image.os, vm_id))
        finally:
            image.deployments -= 1
        now = self.now()
        disk_ids = []
        for image_disk in image.disks:
            disk_id = resource_id(DRILL_GROUP, ResourceKind.DISK, f"{name}-{image_disk.name}")
            disk_ids.append(disk_id)
            self._add_drill_disk(
                disk_id,
                name=f"{name}-{image_disk.name}",
                region=region,
                size_gib=image_disk.size_gib,
                used_gib=image_disk.used_gib,
                sku=image_disk.sku,
                source_id=image_id,
                tags=frozen_tags(tags),
                content=image_disk.content,
            )
        vm = VmState(
            id=vm_id,
            name=name,
            region=region,
            os=image.os,
            size=size,
            power=PowerState.RUNNING,
            generalized=False,
            disk_ids=disk_ids,
            network_id=network_id,
            tags=frozen_tags(tags),
            production=False,
            origin=image.origin,
            booted_at=now + timedelta(seconds=self._boot_time(image.os, vm_id, generalized=True) * self._latency),
        )
        self._attach(vm)
        return vm.public(now)

    async def deallocate_vm(self, vm_id: str) -> None:
        vm = self._get_vm(vm_id)
        async with self._write("deallocate_vm", vm.region, RequestClass.WRITE, vm_id) as write:
            await write.wait(self._draw(self.catalog.compute.deallocate, "deallocate", vm_id, self._bump(f"deallocate:{vm_id}")))
        vm = self._get_vm(vm_id)
        vm.power = PowerState.DEALLOCATED
        vm.booted_at = None
        if vm.production:
            workload = self._workloads[vm.name]
            until = self.now() if workload.writes_until is None else min(workload.writes_until, self.now())
            self._workloads[vm.name] = replace(workload, writes_until=until)

    async def generalize_vm(self, vm_id: str) -> None:
        vm = self._get_vm(vm_id)
        async with self._write("generalize_vm", vm.region, RequestClass.WRITE, vm_id) as write:
            if vm.power is PowerState.RUNNING:
                raise ConflictError(f"virtual machine {vm.name} is running: deallocate it before marking it generalized")
            await write.wait(self._draw(self.catalog.compute.generalize, "generalize", vm_id))
        vm.generalized = True

    async def start_vm(self, vm_id: str) -> VirtualMachine:
        """Start a deallocated or stopped VM (not part of the Protocol; the ARM emulator serves it)."""
        vm = self._get_vm(vm_id)
        await self._request("start_vm", vm.region, RequestClass.WRITE, vm_id)
        if vm.generalized or vm.captured:
            # A generalized VM (and one an image was captured from) cannot be started again
            # (azure-facts.md, Images; capture-image-resource, H).
            raise ConflictError(f"virtual machine {vm.name} is generalized: it cannot be started again")
        if vm.production:
            raise ConflictError(f"virtual machine {vm.name} is production: the simulated world keeps production as the estate says")
        if vm.power is not PowerState.RUNNING:
            await self._wait(self._create_time(vm.os, f"{vm_id}:start:{self._bump(f'start:{vm_id}')}") / 2)
            vm.power = PowerState.RUNNING
            vm.booted_at = self.now() + timedelta(seconds=self._boot_time(vm.os, vm_id, generalized=False) * self._latency)
        return vm.public(self.now())

    async def create_image(self, vm_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Image:
        vm = self._get_vm(vm_id)
        async with self._write("create_image", region, RequestClass.WRITE, vm_id) as write:
            # A managed image needs a generalized, deallocated VM; it holds ALL its disks and is regional
            # (azure-facts.md, Images; capture-image-resource, H).
            if not vm.generalized:
                raise ConflictError(
                    f"virtual machine {vm.name} is not generalized: sysprep / waagent -deprovision it and mark it generalized"
                )
            if vm.power is not PowerState.DEALLOCATED:
                raise ConflictError(f"virtual machine {vm.name} is {vm.power.value}: an image needs a deallocated VM")
            if region != vm.region:
                raise ConflictError(f"virtual machine {vm.name} is in {vm.region}: a managed image is created in its VM's region")
            image_id = resource_id(DRILL_GROUP, ResourceKind.IMAGE, name)
            existing = self._images.get(image_id)
            if existing is not None:
                if existing.source_vm_id == vm_id:
                    return existing.public()
                raise ConflictError(f"image {name} already exists for another VM")
            await write.wait(self._draw(self.catalog.compute.image_create, "image-create", image_id))
        now = self.now()
        disks = []
        for disk_id in vm.disk_ids:
            disk = self._disks[disk_id]
            disks.append(
                ImageDisk(
                    disk.origin_disk if disk.production else disk.name,
                    disk.size_gib,
                    disk.used_gib,
                    disk.sku,
                    self._content(disk, now, flushed=True),
                )
            )
        image = ImageState(
            id=image_id,
            name=name,
            region=region,
            source_vm_id=vm_id,
            os=vm.os,
            disks=tuple(disks),
            tags=frozen_tags(tags),
            production=False,
            origin=vm.origin or vm.name,
        )
        self._images[image_id] = image
        vm.captured = True
        self._tag(image_id, ResourceKind.IMAGE, image.tags)
        return image.public()

    async def delete(self, resource_id: str) -> None:
        # What a drill created is known by kind since it was made; anything else by its id.
        kind, found = self._lookup(resource_id)
        region = str(found.region) if found is not None else self.estate.regions.primary
        owed = self._admit("delete", region, RequestClass.DELETE, resource_id)
        compute, unit = self.catalog.compute, self.draws.unit_of
        seconds: float | None = None
        try:
            if region == self._outage_region and self._active():  # _region_down, inline
                raise TransientError(f"{resource_id} cannot be deleted now: region {region} is down")
            if found is None:
                pass
            elif kind == ResourceKind.VM:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, VmState)
                self._refuse_production(found.production, found.name)
                seconds = compute.delete_vm.sample(unit(f"delete/{resource_id}"))
            elif kind == ResourceKind.DISK:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, DiskState)
                self._refuse_production(found.production, found.name)
                if found.vm_id is not None:
                    raise ConflictError(f"disk {found.name} is attached to {found.vm_id}: delete the VM first")
                seconds = compute.delete_other.sample(unit(f"delete/{resource_id}"))
            elif kind == ResourceKind.SNAPSHOT:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, SnapshotState)
                self._refuse_production(found.production, found.name)
                seconds = compute.delete_other.sample(unit(f"delete/{resource_id}"))
            elif kind == ResourceKind.IMAGE:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, ImageState)
                self._refuse_production(found.production, found.name)
                if found.deployments:
                    raise ConflictError(f"image {found.name} has {found.deployments} deployments in progress")
                seconds = compute.delete_other.sample(unit(f"delete/{resource_id}"))
            elif kind == ResourceKind.NETWORK:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, NetworkState)
                self._refuse_production(found.production, found.name)
                if found.vm_count:
                    raise ConflictError(f"virtual network {found.name} still has {found.vm_count} VM(s): delete them first")
                seconds = compute.delete_other.sample(unit(f"delete/{resource_id}"))
            else:
                if TYPE_CHECKING:  # for the type checker only: no call per deletion
                    assert isinstance(found, NsgState)
                if found.network_id is not None and found.network_id in self._networks:
                    raise ConflictError(f"network security group {found.name} is in use by a subnet: delete the network first")
                seconds = compute.delete_other.sample(unit(f"delete/{resource_id}"))
        except Exception:
            await self._wait(owed)  # refused: after the answer's round trip
            raise
        if seconds is None:  # nothing there to delete: the answer's round trip only
            await self._wait(owed)
            return
        assert found is not None
        await self.clock.sleep(((owed if owed > 0 else 0.0) + (seconds if seconds > 0 else 0.0)) * self._latency)  # _after, inline
        if self._due:
            self._settle()
        if kind == ResourceKind.VM:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, VmState)
            vm = found
            if self._vms.pop(resource_id, None) is None:
                return
            for disk_id in vm.disk_ids:
                if disk_id in self._disks:
                    self._disks[disk_id].vm_id = None  # deleting a VM keeps its disks (detached)
            if vm.network_id in self._networks:
                self._networks[vm.network_id].vm_count -= 1
            self._tags.remove(vm.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.DISK:
            if self._disks.pop(resource_id, None) is not None:
                self._tags.remove(found.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.SNAPSHOT:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, SnapshotState)
            self._forget_snapshot(found)
        elif kind == ResourceKind.IMAGE:
            if self._images.pop(resource_id, None) is not None:
                self._tags.remove(found.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.NETWORK:
            if TYPE_CHECKING:  # for the type checker only: no call per deletion
                assert isinstance(found, NetworkState)
            net = found
            if self._networks.pop(resource_id, None) is not None:
                self._network_by_name.pop(net.name, None)
                if net.nsg_id in self._nsgs:
                    self._nsgs[net.nsg_id].network_id = None
                self._tags.remove(net.tags.get(RUN_TAG), resource_id)
        else:
            if self._nsgs.pop(resource_id, None) is not None:
                self._tags.remove(found.tags.get(RUN_TAG), resource_id)

    def _region_of(self, rid: str) -> str:
        table = self._table(kind_of(rid))
        found = table.get(rid) if table is not None else None
        return str(found.region) if found is not None else self.estate.regions.primary

    @staticmethod
    def _refuse_production(production: bool, name: str) -> None:
        if production:
            raise ConflictError(f"{name} is a production resource: a drill never deletes production")

    async def read_canary(
        self, vm_id: str, *, origin_id: str | None = None, origin_uuid: str | None = None, not_after: datetime | None = None
    ) -> CanaryReading:
        # The world's recovered VMs run no writer of their own: every marker on them is production's,
        # and a marker after the incident is clamped by the measure (engine/actions.py).
        vm = self._get_vm(vm_id)
        # Run Command is a POST: it draws on the write bucket.
        async with self._write("read_canary", vm.region, RequestClass.WRITE, vm_id) as write:
            await write.wait(self._draw(self.catalog.compute.run_command, "run-command", vm_id, self._bump(f"canary:{vm_id}")))
        vm = self._get_vm(vm_id)
        now = self.now()
        if not self._public_vm(vm, now).booted:
            return CanaryReading(vm_id=vm_id, reachable=False, last_marker_at=None, last_sequence=None, corrupted=False)
        contents = [self._content(self._disks[d], now) for d in vm.disk_ids if d in self._disks]
        origin = self._specs.get(vm.origin or "")
        reading = read_canary(vm_id, contents, origin, self._interval)
        return replace(reading, written_by=self._vm_id_of.get(vm.origin or ""))
