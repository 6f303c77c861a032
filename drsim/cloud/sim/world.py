"""The simulated Azure world: a CloudProvider over an estate, its protection plan and one incident.

Everything the world waits for goes through the Clock it is given (virtual time under the engine,
scaled real time under the ARM emulator); every random figure is a keyed draw from the world seed;
every duration, limit and price comes from the catalog. Recovery points are computed from the plan's
schedules on demand (schedules.py), never by replaying the history. Long-running jobs (restores,
test failovers) end at a precomputed instant and take effect the first time the world is asked
anything at or after it, so no background task runs inside the world.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from drsim.cloud.api import (
    RUN_TAG,
    BackupPoint,
    CanaryReading,
    Image,
    IsolatedNetwork,
    IsolationReport,
    Job,
    JobKind,
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
from drsim.cloud.sim import schedules
from drsim.cloud.sim.catalog import Catalog, Distribution, default_catalog
from drsim.cloud.sim.costs import cost_per_day
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.faults import FailureInjector, RequestClass, Throttle
from drsim.cloud.sim.incidents import CORRUPTING, DESTRUCTIVE, IncidentSpec
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    SUBSCRIPTION,
    DiskState,
    ImageDisk,
    ImageState,
    JobState,
    NetworkState,
    NsgState,
    ProtectedItem,
    ReplicatedItem,
    SnapshotState,
    TagIndex,
    Vault,
    VaultKind,
    VmState,
    frozen_tags,
    kind_of,
    production_group,
    resource_id,
)
from drsim.cloud.sim.schedules import ReplicationTiming, ScheduledBackup, ScheduledReplicationPoint, ScheduledSnapshot
from drsim.cloud.sim.workload import DiskContent, Workload, marker_at, read_canary
from drsim.engine.clock import Clock
from drsim.errors import CapacityError, ConflictError, NotFoundError, QuotaError, TransientError
from drsim.model.checks import Protection, protection_of
from drsim.model.documents import Estate, ProtectionPlan, SimOptions, SnapshotRule, VmSpec
from drsim.model.types import IncidentKind, OsType, PowerState, ReplicationPointChoice

_NEEDS_FULL_HYDRATION = frozenset({"UltraSSD_LRS", "PremiumV2_LRS"})
_STANDARD_SKUS = frozenset({"Standard_LRS", "StandardSSD_LRS"})
MIB_PER_GIB = 1024


def build_world(
    estate: Estate,
    plan: ProtectionPlan,
    *,
    incident: IncidentSpec,
    seed: int,
    clock: Clock,
    options: SimOptions | None = None,
    catalog: Catalog | None = None,
) -> SimProvider:
    """A simulated Azure world holding the estate, protected as the plan says, that suffers `incident`."""
    return SimProvider(
        estate, plan, incident=incident, seed=seed, clock=clock, options=options or SimOptions(), catalog=catalog or default_catalog()
    )


class SimProvider:
    """The simulated Azure world, implementing drsim.cloud.api.CloudProvider.

    Beyond the Protocol: `truth` (what the world believes, for tests and measurement), `inventory`
    (vaults, protected and replicated items, for the ARM emulator) and `start_vm`.
    """

    name = "sim"

    def __init__(
        self,
        estate: Estate,
        plan: ProtectionPlan,
        *,
        incident: IncidentSpec,
        seed: int,
        clock: Clock,
        options: SimOptions,
        catalog: Catalog,
    ) -> None:
        self.estate = estate
        self.plan = plan
        self.incident = incident
        self.seed = seed
        self.clock = clock
        self.options = options
        self.catalog = catalog
        self.draws = Draws(seed)
        self.throttle = Throttle(catalog.arm, enabled=options.throttling)
        self.faults = FailureInjector(options.failure_rate, self.draws)
        self._latency = options.latency
        self._prod_group = production_group(estate.name)
        self._interval = catalog.workload.canary_interval.sample(0.5)

        self._specs: dict[str, VmSpec] = {}
        self._vm_id_of: dict[str, str] = {}
        self._protection: dict[str, Protection] = {}
        self._workloads: dict[str, Workload] = {}
        self._stops: dict[str, datetime | None] = {}
        self._vms: dict[str, VmState] = {}
        self._disks: dict[str, DiskState] = {}
        self._snapshots: dict[str, SnapshotState] = {}
        self._snapshots_of_disk: dict[str, dict[str, None]] = {}
        self._images: dict[str, ImageState] = {}
        self._networks: dict[str, NetworkState] = {}
        self._network_by_name: dict[str, str] = {}
        self._nsgs: dict[str, NsgState] = {}
        self._jobs: dict[str, JobState] = {}
        self._due: list[tuple[datetime, int, str]] = []
        self._job_seq = itertools.count(1)
        self._tags = TagIndex()
        self._protected: dict[str, ProtectedItem] = {}
        self._replicated: dict[str, ReplicatedItem] = {}
        self._vaults: dict[str, Vault] = {}
        self._timings: dict[str, ReplicationTiming] = {}
        self._restores: dict[str, list[datetime]] = {}
        self._restore_count: dict[str, int] = {}
        self._test_failovers: dict[str, str] = {}
        self._failover_count: dict[str, int] = {}
        self._captures: dict[str, int] = {}
        self._last_incremental: dict[tuple[str, str], str] = {}
        self._copying: set[str] = set()
        self._copies_in_region: dict[str, int] = {}
        self._last_copied: dict[tuple[str, str], datetime] = {}
        self._failed_disks: set[str] = set()
        self._deleted_vms: set[str] = set()
        self._crashed_vms: set[str] = set()
        self._populate()
        self.truth = WorldTruth(self)
        self.inventory = Inventory(self)

    # ---------------------------------------------------------------------------------- building

    def _populate(self) -> None:
        est, incident, catalog = self.estate, self.incident, self.catalog
        for net in est.networks:
            vnet = resource_id(self._prod_group, ResourceKind.NETWORK, net.name)
            self._networks[vnet] = NetworkState(
                id=vnet,
                name=net.name,
                region=net.region,
                cidr=str(net.cidr),
                subnet_id=f"{vnet}/subnets/default",
                nsg_id=None,
                peerings=[resource_id(self._prod_group, ResourceKind.NETWORK, peer) for peer in net.peerings],
                gateways=[resource_id(self._prod_group, "Microsoft.Network/virtualNetworkGateways", f"{net.name}-gateway")]
                if net.gateway
                else [],
                outbound_denied=False,
                default_outbound_access=True,
                tags=frozen_tags({}),
                production=True,
            )
            self._network_by_name[net.name] = vnet
        stopped_for = timedelta(seconds=catalog.workload.stopped_for.sample(0.5))
        for spec in est.vms:
            self._specs[spec.name] = spec
            vm_id = resource_id(self._prod_group, ResourceKind.VM, spec.name)
            self._vm_id_of[spec.name] = vm_id
            protection = protection_of(self.plan, spec.name, spec.tags)
            self._protection[spec.name] = protection
            struck = incident.strikes(spec)
            writes_until, clean = None, True
            if spec.power is not PowerState.RUNNING:
                writes_until = incident.at - stopped_for
            elif struck and incident.kind in DESTRUCTIVE:
                writes_until, clean = incident.at, False  # a crash: the application's buffers are lost
            self._workloads[spec.name] = Workload(
                vm=spec.name,
                interval=self._interval,
                flush_lag=self.draws.sample(catalog.workload.flush_lag, "flush-lag", spec.name),
                writes_until=writes_until,
                clean_stop=clean,
                corrupt_from=incident.at if struck and incident.kind in CORRUPTING else None,
            )
            # No capture of a VM is taken once a destructive incident struck it.
            self._stops[spec.name] = incident.at if struck and incident.kind in DESTRUCTIVE else None
            # accidental-delete: the VM and its disks are gone; vm-loss: the VM still exists but is
            # stopped for good and its disks are lost; disk-failure: one disk is lost.
            if struck and incident.kind is IncidentKind.ACCIDENTAL_DELETE:
                self._deleted_vms.add(spec.name)
            if struck and incident.kind is IncidentKind.VM_LOSS:
                self._crashed_vms.add(spec.name)
            disk_ids = []
            failed = incident.failed_disk(spec)
            for disk in spec.disks:
                disk_id = resource_id(self._prod_group, ResourceKind.DISK, f"{spec.name}-{disk.name}")
                disk_ids.append(disk_id)
                self._disks[disk_id] = DiskState(
                    id=disk_id,
                    name=f"{spec.name}-{disk.name}",
                    region=spec.region,
                    size_gib=disk.size_gib,
                    used_gib=disk.used_gib,
                    sku=disk.sku,
                    churn_gib_per_day=disk.churn_gib_per_day,
                    vm_id=vm_id,
                    source_id=None,
                    tags=frozen_tags({}),
                    production=True,
                    origin_vm=spec.name,
                    origin_disk=disk.name,
                    content=None,
                )
                if disk.name == failed or spec.name in self._crashed_vms:
                    self._failed_disks.add(disk_id)
            network_id = self._network_by_name.get(spec.network)
            self._vms[vm_id] = VmState(
                id=vm_id,
                name=spec.name,
                region=spec.region,
                os=spec.os,
                size=spec.size,
                power=spec.power,
                generalized=spec.generalized,
                disk_ids=disk_ids,
                network_id=network_id,
                tags=spec.tags,
                production=True,
                origin=spec.name,
                booted_at=incident.at - timedelta(days=365) if spec.power is PowerState.RUNNING else None,
            )
            if network_id is not None:
                self._networks[network_id].vm_count += 1
            self._protect(spec, vm_id, protection)

    def _paired_region(self, region: str) -> str | None:
        """The paired region for cross-region restore: the estate's other region (its primary/recovery pair)."""
        regions = self.estate.regions
        return {regions.primary: regions.recovery, regions.recovery: regions.primary}.get(region)

    def _vault(self, name: str, region: str, kind: VaultKind, **extra: object) -> Vault:
        vault_id = resource_id(self._prod_group, "Microsoft.RecoveryServices/vaults", name)
        if vault_id not in self._vaults:
            self._vaults[vault_id] = Vault(id=vault_id, name=name, region=region, kind=kind, **extra)  # type: ignore[arg-type]
        return self._vaults[vault_id]

    def _protect(self, spec: VmSpec, vm_id: str, protection: Protection) -> None:
        if protection.backup is not None and protection.backup.backup is not None:
            rule = protection.backup.backup
            # An Azure Backup vault lives in the VM's region; GRS + CRR makes the points restorable in
            # the paired region (reliability-backup).
            suffix = f"{rule.vault_redundancy.value.lower()}{'-crr' if rule.cross_region_restore else ''}"
            vault = self._vault(
                f"rsv-{spec.region}-{suffix}",
                spec.region,
                VaultKind.BACKUP,
                redundancy=rule.vault_redundancy,
                cross_region_restore=rule.cross_region_restore,
                paired_region=self._paired_region(spec.region) if rule.cross_region_restore else None,
            )
            container = f"IaasVMContainer;iaasvmcontainerv2;{self._prod_group};{spec.name}"
            item = f"VM;iaasvmcontainerv2;{self._prod_group};{spec.name}"
            self._protected[vm_id] = ProtectedItem(
                id=f"{vault.id}/backupFabrics/Azure/protectionContainers/{container}/protectedItems/{item}",
                vault=vault,
                vm_id=vm_id,
                vm_name=spec.name,
                container=container,
                item=item,
                policy=rule.policy,
            )
        if protection.site_recovery is not None and protection.site_recovery.site_recovery is not None:
            rule_sr = protection.site_recovery.site_recovery
            vault = self._vault(f"rsv-asr-{rule_sr.target_region}", rule_sr.target_region, VaultKind.SITE_RECOVERY)
            stream = f"group:{rule_sr.consistency_group}" if rule_sr.consistency_group else f"vm:{spec.name}"
            self._replicated[vm_id] = ReplicatedItem(
                id=(
                    f"{vault.id}/replicationFabrics/asr-a2a-default-{spec.region}/replicationProtectionContainers/"
                    f"asr-a2a-default-{spec.region}-container/replicationProtectedItems/{spec.name}"
                ),
                vault=vault,
                vm_id=vm_id,
                vm_name=spec.name,
                source_region=spec.region,
                target_region=rule_sr.target_region,
                consistency_group=rule_sr.consistency_group,
                stream=stream,
            )
            self._timings[spec.name] = schedules.replication_timing(
                rule_sr, stream, self.catalog, self.draws, lag_factor=self._churn_factor(stream)
            )
        if protection.image is not None and protection.image.image is not None:
            # The plan keeps a managed image of this generalized VM in each listed region (images are
            # regional; azure-facts.md Images). It holds ALL disks of the VM.
            workload = self._workloads[spec.name]
            captured_at = workload.written_by(self.incident.at)
            disks = tuple(
                ImageDisk(d.name, d.size_gib, d.used_gib, d.sku, workload.capture(d.name, captured_at, flushed=True)) for d in spec.disks
            )
            for region in protection.image.image.regions:
                image_id = resource_id(self._prod_group, ResourceKind.IMAGE, f"{spec.name}-image-{region}")
                self._images[image_id] = ImageState(
                    id=image_id,
                    name=f"{spec.name}-image-{region}",
                    region=region,
                    source_vm_id=vm_id,
                    os=spec.os,
                    disks=disks,
                    tags=frozen_tags({"source-vm": spec.name}),
                    production=True,
                    origin=spec.name,
                )

    def _churn_factor(self, stream: str) -> float:
        """Replication lag grows when churn passes Site Recovery's limits (azure-to-azure-support-matrix, H):
        54 MB/s per VM, 2 MB/s per Standard disk, 20 MB/s per Premium disk. 1.0 within limits."""
        sr = self.catalog.site_recovery
        members = [s for s in self.estate.vms if self._stream_of(s) == stream]
        factor = 1.0
        for spec in members:
            vm_rate = 0.0
            for disk in spec.disks:
                rate = disk.churn_gib_per_day * MIB_PER_GIB / 86400
                vm_rate += rate
                limit = sr.churn_limit_standard_disk_mbps.value if disk.sku in _STANDARD_SKUS else sr.churn_limit_premium_disk_mbps.value
                factor = max(factor, rate / limit)
            factor = max(factor, vm_rate / sr.churn_limit_vm_mbps.value)
        return factor

    def _stream_of(self, spec: VmSpec) -> str | None:
        rule = self._protection_of(spec).site_recovery
        if rule is None or rule.site_recovery is None:
            return None
        group = rule.site_recovery.consistency_group
        return f"group:{group}" if group else f"vm:{spec.name}"

    def _protection_of(self, spec: VmSpec) -> Protection:
        found = self._protection.get(spec.name)
        return found if found is not None else protection_of(self.plan, spec.name, spec.tags)

    # ------------------------------------------------------------------------------ plumbing

    def now(self) -> datetime:
        return self.clock.now()

    def _active(self) -> bool:
        return self.now() >= self.incident.at

    def _region_down(self, region: str) -> bool:
        return self.incident.kind is IncidentKind.REGION_OUTAGE and region == self.incident.region and self._active()

    async def _wait(self, seconds: float) -> None:
        await self.clock.sleep(max(0.0, seconds) * self._latency)

    def _draw(self, dist: Distribution, *key: object) -> float:
        return self.draws.sample(dist, *key)

    async def _request(self, operation: str, region: str, request: RequestClass, target: str) -> None:
        """One ARM request: settle due jobs, throttle, maybe fail, then the round trip."""
        self._settle()
        self.throttle.admit(region, request, self.now())
        self.faults.check(operation, target)
        count = self._captures.get(f"req:{operation}:{target}", 0)
        self._captures[f"req:{operation}:{target}"] = count + 1
        await self._wait(self._draw(self.catalog.arm.request_latency, "latency", operation, target, count))

    def _settle(self) -> None:
        now = self.now()
        while self._due and self._due[0][0] <= now:
            _, _, job_id = heapq.heappop(self._due)
            job = self._jobs[job_id]
            if not job.settled:
                job.settled = True
                if job.succeeds and job.on_success is not None:
                    job.on_success(job.ends_at)

    def _unreachable(self, region: str, what: str) -> NotFoundError:
        return NotFoundError(f"{what} is unreachable: region {region} is down (region outage since {self.incident.at.isoformat()})")

    def _get_vm(self, vm_id: str) -> VmState:
        vm = self._vms.get(vm_id)
        if vm is None:
            raise NotFoundError(f"virtual machine {vm_id} not found")
        if self._region_down(vm.region):
            raise self._unreachable(vm.region, f"virtual machine {vm.name}")
        if vm.production and vm.name in self._deleted_vms and self._active():
            raise NotFoundError(f"virtual machine {vm.name} not found ({self.incident.kind.value} at {self.incident.at.isoformat()})")
        return vm

    def _get_disk(self, disk_id: str) -> DiskState:
        disk = self._disks.get(disk_id)
        if disk is None:
            raise NotFoundError(f"disk {disk_id} not found")
        if self._region_down(disk.region):
            raise self._unreachable(disk.region, f"disk {disk.name}")
        if disk.production and self._active() and (disk.origin_vm in self._deleted_vms or disk_id in self._failed_disks):
            raise NotFoundError(f"disk {disk.name} not found ({self.incident.kind.value} at {self.incident.at.isoformat()})")
        return disk

    def _get_snapshot(self, snapshot_id: str) -> SnapshotState:
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            raise NotFoundError(f"snapshot {snapshot_id} not found")
        if snap.schedule_index is not None and not self._scheduled_still_kept(snap):
            self._forget_snapshot(snap)
            raise NotFoundError(f"snapshot {snap.name} not found (deleted by the plan's retention)")
        if self._region_down(snap.region):
            raise self._unreachable(snap.region, f"snapshot {snap.name}")
        return snap

    def _get_image(self, image_id: str) -> ImageState:
        image = self._images.get(image_id)
        if image is None:
            raise NotFoundError(f"image {image_id} not found")
        if self._region_down(image.region):
            raise self._unreachable(image.region, f"image {image.name}")
        return image

    def _get_network(self, network_id: str) -> NetworkState:
        net = self._networks.get(network_id)
        if net is None:
            raise NotFoundError(f"virtual network {network_id} not found")
        if self._region_down(net.region):
            raise self._unreachable(net.region, f"virtual network {net.name}")
        return net

    def _content(self, disk: DiskState, at: datetime, *, flushed: bool = False) -> DiskContent:
        if disk.content is not None:
            return disk.content
        return self._workloads[disk.origin_vm].capture(disk.origin_disk, at, flushed=flushed)

    def _tag(self, resource: str, kind: ResourceKind, tags: Mapping[str, str]) -> None:
        self._tags.add(tags.get(RUN_TAG), resource, kind)

    def _new_job(
        self,
        kind: JobKind,
        vm_id: str,
        seconds: float,
        *,
        succeeds: bool = True,
        error: str | None = None,
        created: tuple[str, ...] = (),
        point_time: datetime | None = None,
        on_success: Callable[[datetime], None] | None = None,
    ) -> JobState:
        now = self.now()
        seq = next(self._job_seq)
        vault_name = {JobKind.RESTORE: "backupJobs"}.get(kind, "replicationJobs")
        job = JobState(
            id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{self._prod_group}/providers/Microsoft.RecoveryServices/{vault_name}/job-{seq:06d}",
            kind=kind,
            vm_id=vm_id,
            started_at=now,
            ends_at=now + timedelta(seconds=max(0.0, seconds) * self._latency),
            succeeds=succeeds,
            error=error,
            created=created,
            recovery_point_time=point_time,
            on_success=on_success,
        )
        self._jobs[job.id] = job
        heapq.heappush(self._due, (job.ends_at, seq, job.id))
        return job

    # ----------------------------------------------------------------------------------- reads

    async def list_vms(self) -> list[VirtualMachine]:
        await self._request("list_vms", self.estate.regions.primary, RequestClass.READ, "vms")
        # The subscription-wide listing is ARM's inventory (as Resource Graph keeps it): VMs of a failed
        # region stay listed as last known (not booted), while reading one of them fails.
        now, active = self.now(), self._active()
        return [self._public_vm(vm, now) for vm in self._vms.values() if not (vm.production and active and vm.name in self._deleted_vms)]

    def _public_vm(self, vm: VmState, now: datetime) -> VirtualMachine:
        record = vm.public(now)
        if vm.production and self._active():
            if vm.name in self._crashed_vms:
                return replace(record, power=PowerState.STOPPED, booted=False)
            if self._region_down(vm.region):
                return replace(record, booted=False)
        return record

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

    def _tagged_record(self, rid: str, kind: ResourceKind) -> TaggedResource:
        catalog = self.catalog
        if kind is ResourceKind.VM:
            vm = self._vms[rid]
            return TaggedResource(rid, kind, vm.name, vm.region, cost_per_day(catalog, kind, size=vm.size))
        if kind is ResourceKind.DISK:
            disk = self._disks[rid]
            return TaggedResource(rid, kind, disk.name, disk.region, cost_per_day(catalog, kind, sku=disk.sku, size_gib=disk.size_gib))
        if kind is ResourceKind.SNAPSHOT:
            snap = self._snapshots[rid]
            return TaggedResource(rid, kind, snap.name, snap.region, cost_per_day(catalog, kind, used_gib=snap.used_gib))
        if kind is ResourceKind.IMAGE:
            image = self._images[rid]
            return TaggedResource(rid, kind, image.name, image.region, cost_per_day(catalog, kind, used_gib=image.used_gib))
        if kind is ResourceKind.NETWORK:
            net = self._networks[rid]
            return TaggedResource(rid, kind, net.name, net.region, 0.0)
        nsg = self._nsgs[rid]
        return TaggedResource(rid, kind, nsg.name, nsg.region, 0.0)

    # ------------------------------------------------------------------------------- snapshots

    def _scheduled_still_kept(self, snap: SnapshotState) -> bool:
        disk = self._disks.get(snap.disk_id)
        if disk is None:
            return False
        rule = self._snapshot_rule(disk)
        if rule is None:
            return False
        kept = schedules.snapshot_schedule(rule, disk.id, self.catalog, self.draws, at=self.now(), stop=self._stops[disk.origin_vm])
        return any(s.index == snap.schedule_index for s in kept)

    def _snapshot_rule(self, disk: DiskState) -> SnapshotRule | None:
        if not disk.production:
            return None
        rule = self._protection[disk.origin_vm].snapshots
        return rule.snapshots if rule is not None else None

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

    def _register_snapshot(self, snap: SnapshotState) -> None:
        if snap.id in self._snapshots:
            return
        self._snapshots[snap.id] = snap
        self._snapshots_of_disk.setdefault(snap.disk_id, {})[snap.id] = None
        self._tag(snap.id, ResourceKind.SNAPSHOT, snap.tags)

    def _forget_snapshot(self, snap: SnapshotState) -> None:
        self._snapshots.pop(snap.id, None)
        self._snapshots_of_disk.get(snap.disk_id, {}).pop(snap.id, None)
        self._tags.remove(snap.tags.get(RUN_TAG), snap.id)

    async def create_snapshot(self, disk_id: str, *, name: str, incremental: bool, tags: Mapping[str, str]) -> Snapshot:
        disk = self._get_disk(disk_id)
        await self._request("create_snapshot", disk.region, RequestClass.WRITE, disk_id)
        snapshot_id = resource_id(DRILL_GROUP, ResourceKind.SNAPSHOT, name)
        existing = self._snapshots.get(snapshot_id)
        if existing is not None:
            if existing.disk_id == disk_id and existing.copy_of is None:
                return existing.public()  # a repeated PUT of the same snapshot
            raise ConflictError(f"snapshot {name} already exists for another source")
        count = self._captures.get(disk_id, 0)
        self._captures[disk_id] = count + 1
        # A snapshot copies ONE disk at its own instant: parallel snapshots of a VM's disks land at
        # different instants (azure-facts.md, Managed disk snapshots, H).
        await self._wait(self._draw(self.catalog.snapshots.capture_latency, "snapshot-capture", disk_id, count))
        disk = self._get_disk(disk_id)
        taken = self.now()
        content = self._content(disk, taken)
        used = disk.used_gib
        billed = used
        chain = (disk_id, disk.region)
        if incremental:
            previous = self._snapshots.get(self._last_incremental.get(chain, ""))
            if previous is not None:
                # Incremental: the first is full, then deltas (disks-incremental-snapshots); billed on used size.
                days = (taken - previous.taken_at).total_seconds() / 86400
                billed = min(used, disk.churn_gib_per_day * days)
        seconds = self._draw(self.catalog.snapshots.create, "snapshot-create", disk_id, count)
        if disk.sku in _NEEDS_FULL_HYDRATION:
            # Ultra and Premium v2 snapshots need CompletionPercent=100 before use (disks-instant-access-snapshots, H).
            seconds += (
                used * MIB_PER_GIB / self._draw(self.catalog.snapshots.hydration_throughput_mbps, "snapshot-hydration", disk_id, count)
            )
        await self._wait(seconds)
        snap = SnapshotState(
            id=snapshot_id,
            name=name,
            region=disk.region,
            disk_id=disk_id,
            taken_at=taken,
            incremental=incremental,
            used_gib=round(billed, 3),
            copy_of=None,
            tags=frozen_tags(tags),
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
        count = self._captures.get(f"copy:{snapshot_id}", 0)
        self._captures[f"copy:{snapshot_id}"] = count + 1
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

    # ----------------------------------------------------------------------------- disks, VMs

    async def create_disk(self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> ManagedDisk:
        source = self._get_snapshot(snapshot_id)
        await self._request("create_disk", region, RequestClass.WRITE, snapshot_id)
        if region != source.region:
            raise ConflictError(f"snapshot {source.name} is in {source.region}: a disk is created in its snapshot's region (copy it first)")
        disk_id = resource_id(DRILL_GROUP, ResourceKind.DISK, name)
        existing = self._disks.get(disk_id)
        if existing is not None:
            if existing.source_id == snapshot_id:
                return existing.public()
            raise ConflictError(f"disk {name} already exists for another source")
        # A disk made from a snapshot is usable at once (disks-instant-access-snapshots).
        await self._wait(self._draw(self.catalog.compute.disk_create, "disk-create", disk_id))
        if disk_id in self._disks:
            return self._disks[disk_id].public()
        disk = DiskState(
            id=disk_id,
            name=name,
            region=region,
            size_gib=source.size_gib,
            used_gib=source.disk_used_gib,
            sku=source.sku,
            churn_gib_per_day=0.0,
            vm_id=None,
            source_id=snapshot_id,
            tags=frozen_tags(tags),
            production=False,
            origin_vm=source.content.vm,
            origin_disk=source.content.disk,
            content=source.content,
        )
        self._disks[disk_id] = disk
        self._tag(disk_id, ResourceKind.DISK, disk.tags)
        return disk.public()

    def _create_time(self, os: OsType, key: str) -> float:
        compute = self.catalog.compute
        dist = compute.vm_create_windows if os is OsType.WINDOWS else compute.vm_create_linux
        return self._draw(dist, "vm-create", key)

    def _boot_time(self, os: OsType, key: str, *, generalized: bool) -> float:
        # Specialized images boot faster than generalized ones (azure-facts.md, VM provisioning, L).
        compute = self.catalog.compute
        if generalized:
            dist = compute.boot_generalized_windows if os is OsType.WINDOWS else compute.boot_generalized_linux
        else:
            dist = compute.boot_specialized_windows if os is OsType.WINDOWS else compute.boot_specialized_linux
        return self._draw(dist, "vm-boot", key)

    def _attach(self, vm: VmState) -> None:
        for disk_id in vm.disk_ids:
            self._disks[disk_id].vm_id = vm.id
        if vm.network_id is not None and vm.network_id in self._networks:
            self._networks[vm.network_id].vm_count += 1
        self._vms[vm.id] = vm
        self._tag(vm.id, ResourceKind.VM, vm.tags)

    async def create_vm(
        self, *, name: str, region: str, size: str, os: OsType, disk_ids: Sequence[str], network_id: str, tags: Mapping[str, str]
    ) -> VirtualMachine:
        await self._request("create_vm", region, RequestClass.WRITE, name)
        if self._region_down(region):
            raise self._unreachable(region, "the target region")
        vm_id = resource_id(DRILL_GROUP, ResourceKind.VM, name)
        existing = self._vms.get(vm_id)
        if existing is not None:
            if existing.disk_ids == list(disk_ids):
                return existing.public(self.now())
            raise ConflictError(f"virtual machine {name} already exists with other disks")
        if not disk_ids:
            raise ConflictError("a VM needs at least its OS disk")
        disks = [self._get_disk(d) for d in disk_ids]
        self._check_attachable(disks, region)
        net = self._get_network(network_id)
        if net.region != region:
            raise ConflictError(f"network {net.name} is in {net.region}, the VM in {region}")
        await self._wait(self._create_time(os, vm_id))
        disks = [self._get_disk(d) for d in disk_ids]
        self._check_attachable(disks, region)
        now = self.now()
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
            tags=frozen_tags(tags),
            production=False,
            origin=disks[0].origin_vm,
            booted_at=now + timedelta(seconds=self._boot_time(os, vm_id, generalized=False) * self._latency),
        )
        self._attach(vm)
        return vm.public(now)

    def _check_attachable(self, disks: list[DiskState], region: str) -> None:
        for disk in disks:
            if disk.region != region:
                raise ConflictError(f"disk {disk.name} is in {disk.region}, the VM in {region}")
            if disk.vm_id is not None:
                raise ConflictError(f"disk {disk.name} is already attached to {disk.vm_id}")

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
            self._disks[disk_id] = DiskState(
                id=disk_id,
                name=f"{name}-{image_disk.name}",
                region=region,
                size_gib=image_disk.size_gib,
                used_gib=image_disk.used_gib,
                sku=image_disk.sku,
                churn_gib_per_day=0.0,
                vm_id=None,
                source_id=image_id,
                tags=frozen_tags(tags),
                production=False,
                origin_vm=image_disk.content.vm,
                origin_disk=image_disk.content.disk,
                content=image_disk.content,
            )
            self._tag(disk_id, ResourceKind.DISK, self._disks[disk_id].tags)
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
        await self._request("deallocate_vm", vm.region, RequestClass.WRITE, vm_id)
        await self._wait(self._draw(self.catalog.compute.deallocate, "deallocate", vm_id, self._bump(f"deallocate:{vm_id}")))
        vm = self._get_vm(vm_id)
        vm.power = PowerState.DEALLOCATED
        vm.booted_at = None
        if vm.production:
            workload = self._workloads[vm.name]
            until = self.now() if workload.writes_until is None else min(workload.writes_until, self.now())
            self._workloads[vm.name] = replace(workload, writes_until=until)

    async def generalize_vm(self, vm_id: str) -> None:
        vm = self._get_vm(vm_id)
        await self._request("generalize_vm", vm.region, RequestClass.WRITE, vm_id)
        if vm.power is PowerState.RUNNING:
            raise ConflictError(f"virtual machine {vm.name} is running: deallocate it before marking it generalized")
        await self._wait(self._draw(self.catalog.compute.generalize, "generalize", vm_id))
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

    def _bump(self, key: str) -> int:
        count = self._captures.get(key, 0)
        self._captures[key] = count + 1
        return count

    async def create_image(self, vm_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Image:
        vm = self._get_vm(vm_id)
        await self._request("create_image", region, RequestClass.WRITE, vm_id)
        # A managed image needs a generalized, deallocated VM; it holds ALL its disks and is regional
        # (azure-facts.md, Images; capture-image-resource, H).
        if not vm.generalized:
            raise ConflictError(f"virtual machine {vm.name} is not generalized: sysprep / waagent -deprovision it and mark it generalized")
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
        await self._wait(self._draw(self.catalog.compute.image_create, "image-create", image_id))
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
        kind = kind_of(resource_id)
        region = self._region_of(resource_id)
        await self._request("delete", region, RequestClass.DELETE, resource_id)
        if self._region_down(region):
            raise TransientError(f"{resource_id} cannot be deleted now: region {region} is down")
        if kind == ResourceKind.VM.value and resource_id in self._vms:
            vm = self._vms[resource_id]
            self._refuse_production(vm.production, vm.name)
            await self._wait(self._draw(self.catalog.compute.delete_vm, "delete", resource_id))
            if self._vms.pop(resource_id, None) is None:
                return
            for disk_id in vm.disk_ids:
                if disk_id in self._disks:
                    self._disks[disk_id].vm_id = None  # deleting a VM keeps its disks (detached)
            if vm.network_id in self._networks:
                self._networks[vm.network_id].vm_count -= 1
            self._tags.remove(vm.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.DISK.value and resource_id in self._disks:
            disk = self._disks[resource_id]
            self._refuse_production(disk.production, disk.name)
            if disk.vm_id is not None:
                raise ConflictError(f"disk {disk.name} is attached to {disk.vm_id}: delete the VM first")
            await self._wait(self._draw(self.catalog.compute.delete_other, "delete", resource_id))
            if self._disks.pop(resource_id, None) is not None:
                self._tags.remove(disk.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.SNAPSHOT.value and resource_id in self._snapshots:
            snap = self._snapshots[resource_id]
            self._refuse_production(snap.production, snap.name)
            await self._wait(self._draw(self.catalog.compute.delete_other, "delete", resource_id))
            self._forget_snapshot(snap)
        elif kind == ResourceKind.IMAGE.value and resource_id in self._images:
            image = self._images[resource_id]
            self._refuse_production(image.production, image.name)
            if image.deployments:
                raise ConflictError(f"image {image.name} has {image.deployments} deployments in progress")
            await self._wait(self._draw(self.catalog.compute.delete_other, "delete", resource_id))
            if self._images.pop(resource_id, None) is not None:
                self._tags.remove(image.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.NETWORK.value and resource_id in self._networks:
            net = self._networks[resource_id]
            self._refuse_production(net.production, net.name)
            if net.vm_count:
                raise ConflictError(f"virtual network {net.name} still has {net.vm_count} VM(s): delete them first")
            await self._wait(self._draw(self.catalog.compute.delete_other, "delete", resource_id))
            if self._networks.pop(resource_id, None) is not None:
                self._network_by_name.pop(net.name, None)
                if net.nsg_id in self._nsgs:
                    self._nsgs[net.nsg_id].network_id = None
                self._tags.remove(net.tags.get(RUN_TAG), resource_id)
        elif kind == ResourceKind.NSG.value and resource_id in self._nsgs:
            nsg = self._nsgs[resource_id]
            if nsg.network_id is not None and nsg.network_id in self._networks:
                raise ConflictError(f"network security group {nsg.name} is in use by a subnet: delete the network first")
            await self._wait(self._draw(self.catalog.compute.delete_other, "delete", resource_id))
            if self._nsgs.pop(resource_id, None) is not None:
                self._tags.remove(nsg.tags.get(RUN_TAG), resource_id)

    def _region_of(self, rid: str) -> str:
        for table in (self._vms, self._disks, self._snapshots, self._images, self._networks, self._nsgs):
            found = table.get(rid)
            if found is not None:
                return str(found.region)
        return self.estate.regions.primary

    @staticmethod
    def _refuse_production(production: bool, name: str) -> None:
        if production:
            raise ConflictError(f"{name} is a production resource: a drill never deletes production")

    # ------------------------------------------------------------------------------- network

    async def create_isolated_network(
        self, *, name: str, region: str, cidr: str, tags: Mapping[str, str], peer_with: Sequence[str] = (), allow_outbound: bool = False
    ) -> IsolatedNetwork:
        await self._request("create_isolated_network", region, RequestClass.WRITE, name)
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
        await self._wait(self._draw(self.catalog.compute.network_create, "network-create", vnet_id))
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

    # ---------------------------------------------------------------------------- Azure Backup

    def _protected_item(self, vm_id: str) -> ProtectedItem:
        item = self._protected.get(vm_id)
        if item is None:
            raise NotFoundError(f"{vm_id} is not protected by Azure Backup in this plan")
        return item

    def backup_schedule(self, vm_name: str, at: datetime) -> list[ScheduledBackup]:
        rule = self._protection[vm_name].backup
        if rule is None or rule.backup is None:
            return []
        return schedules.backup_schedule(rule.backup, vm_name, self.catalog, self.draws, at=at, stop=self._stops[vm_name])

    def _point_type(self, vm_name: str) -> PointType:
        spec = self._specs[vm_name]
        return schedules.backup_consistency(spec.os, spec.power)

    def _backup_points(self, item: ProtectedItem, region: str | None, at: datetime) -> list[BackupPoint]:
        vault = item.vault
        kind = self._point_type(item.vm_name)
        if region is None or region == vault.region:
            # An LRS/ZRS vault in a failed region is unreachable; so is a GRS vault without
            # cross-region restore (reliability-backup).
            if self._region_down(vault.region):
                error = self._unreachable(vault.region, f"backup vault {vault.name}")
                if vault.cross_region_restore:
                    error = NotFoundError(f"{error}; its points are restorable in {vault.paired_region} (cross-region restore)")
                raise error
            return [
                BackupPoint(f"{item.id}/recoveryPoints/{int(b.time.timestamp())}", item.vm_id, b.time, kind, tiers, vault.region)
                for b in self.backup_schedule(item.vm_name, at)
                if (tiers := b.tiers(at))
            ]
        if vault.paired_region is None or region != vault.paired_region:
            raise ConflictError(
                f"{item.vm_name} is backed up in {vault.region}"
                + (
                    f"; cross-region restore points are in {vault.paired_region}"
                    if vault.paired_region
                    else "; its vault has no cross-region restore"
                )
            )
        if self._region_down(region):
            raise self._unreachable(region, "the paired region")
        # CRR points: the vault tier only, never snapshot-tier points (reliability-backup, H).
        return [
            BackupPoint(
                f"{item.id}/recoveryPoints/crr-{int(b.time.timestamp())}", item.vm_id, b.time, kind, frozenset({PointTier.VAULT}), region
            )
            for b in self.backup_schedule(item.vm_name, at)
            if b.in_paired_region(at)
        ]

    async def list_backup_points(self, vm_id: str, *, region: str | None = None) -> list[BackupPoint]:
        item = self._protected_item(vm_id)
        await self._request("list_backup_points", region or item.vault.region, RequestClass.READ, vm_id)
        return self._backup_points(item, region, self.now())

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
        item = self._protected_item(vm_id)
        await self._request("restore_backup", region, RequestClass.WRITE, vm_id)
        now = self.now()
        crr = "/recoveryPoints/crr-" in point_id
        points = self._backup_points(item, item.vault.paired_region if crr else None, now)
        point = next((p for p in points if p.id == point_id), None)
        if point is None:
            raise NotFoundError(f"recovery point {point_id} does not exist (or no longer) for {item.vm_name}")
        if region != point.region:
            raise ConflictError(
                f"this point of {item.vm_name} restores in {point.region}; "
                f"for {region} use a cross-region restore point (list_backup_points(region=...))"
            )
        if tier is None:
            # A restore uses the snapshot when one exists (azure-facts.md, Azure Backup).
            tier = PointTier.SNAPSHOT if PointTier.SNAPSHOT in point.tiers else PointTier.VAULT
        if tier not in point.tiers:
            raise ConflictError(
                f"point {point.time.isoformat()} of {item.vm_name} has no {tier.value} tier (it has {sorted(t.value for t in point.tiers)})"
            )
        # 10 restores per VM per 24 h (backup FAQ, H).
        recent = [t for t in self._restores.get(vm_id, []) if t > now - timedelta(days=1)]
        limit = self.catalog.backup.restores_per_vm_per_day.value
        if len(recent) >= limit:
            raise QuotaError(f"{item.vm_name} was already restored {limit} times in the last 24 h (the Azure Backup limit)")
        spec = self._specs[item.vm_name]
        if mode is RestoreMode.VM:
            net = self._get_network(network_id)
            if net.region != region:
                raise ConflictError(f"network {net.name} is in {net.region}, the restore in {region}")
            vm_new = resource_id(DRILL_GROUP, ResourceKind.VM, name)
            if vm_new in self._vms:
                raise ConflictError(f"virtual machine {name} already exists")
        self._restores[vm_id] = [*recent, now]
        count = self._bump(f"restore:{vm_id}")
        backup = self.catalog.backup
        if tier is PointTier.SNAPSHOT:
            seconds = self._draw(backup.restore_snapshot_tier, "restore", vm_id, count)
        else:
            # Vault-tier restores take hours, bound by the target storage throughput (issue 23790, L).
            seconds = self._draw(backup.restore_vault_base, "restore", vm_id, count)
            seconds += spec.used_gib * MIB_PER_GIB / self._draw(backup.restore_vault_throughput_mbps, "restore-rate", vm_id, count)
        flushed = point.type is PointType.APP_CONSISTENT
        workload = self._workloads[spec.name]
        contents = [workload.capture(d.name, point.time, flushed=flushed) for d in spec.disks]
        disk_ids = tuple(resource_id(DRILL_GROUP, ResourceKind.DISK, f"{name}-{d.name}") for d in spec.disks)
        vm_new_id = resource_id(DRILL_GROUP, ResourceKind.VM, name) if mode is RestoreMode.VM else None
        frozen = frozen_tags(tags)

        def materialize(ended: datetime) -> None:
            self._materialize_recovered(spec, vm_new_id, name, disk_ids, contents, region, network_id, frozen, ended)

        created = ((vm_new_id,) if vm_new_id else ()) + disk_ids
        job = self._new_job(JobKind.RESTORE, vm_id, seconds, created=created, point_time=point.time, on_success=materialize)
        return job.public(now)

    def _materialize_recovered(
        self,
        spec: VmSpec,
        vm_id: str | None,
        name: str,
        disk_ids: tuple[str, ...],
        contents: list[DiskContent],
        region: str,
        network_id: str | None,
        tags: Mapping[str, str],
        ended: datetime,
    ) -> None:
        """Create the VM (optional) and disks a restore or failover job produced at `ended`, holding `contents`."""
        for disk_spec, disk_id, content in zip(spec.disks, disk_ids, contents, strict=True):
            self._disks[disk_id] = DiskState(
                id=disk_id,
                name=disk_id.rsplit("/", 1)[1],
                region=region,
                size_gib=disk_spec.size_gib,
                used_gib=disk_spec.used_gib,
                sku=disk_spec.sku,
                churn_gib_per_day=0.0,
                vm_id=None,
                source_id=None,
                tags=tags,
                production=False,
                origin_vm=spec.name,
                origin_disk=disk_spec.name,
                content=content,
            )
            self._tag(disk_id, ResourceKind.DISK, tags)
        if vm_id is not None:
            booted = ended + timedelta(seconds=self._boot_time(spec.os, vm_id, generalized=False) * self._latency)
            vm = VmState(
                id=vm_id,
                name=name,
                region=region,
                os=spec.os,
                size=spec.size,
                power=PowerState.RUNNING,
                generalized=False,
                disk_ids=list(disk_ids),
                network_id=network_id if network_id in self._networks else None,
                tags=tags,
                production=False,
                origin=spec.name,
                booted_at=booted,
            )
            self._attach(vm)

    # --------------------------------------------------------------------------- Site Recovery

    def _replicated_item(self, vm_id: str) -> ReplicatedItem:
        item = self._replicated.get(vm_id)
        if item is None:
            raise NotFoundError(f"{vm_id} is not replicated by Site Recovery in this plan")
        return item

    def replication_schedule(self, vm_name: str, at: datetime) -> list[ScheduledReplicationPoint]:
        timing = self._timings.get(vm_name)
        if timing is None:
            return []
        spec = self._specs[vm_name]
        return schedules.replication_points(timing, at=at, stop=self._stops[vm_name], app_consistent=spec.power is PowerState.RUNNING)

    def _replication_points(self, item: ReplicatedItem, at: datetime) -> list[ReplicationPoint]:
        points = [
            ReplicationPoint(f"{item.id}/recoveryPoints/{int(p.time.timestamp())}", item.vm_id, p.time, p.type, item.consistency_group)
            for p in self.replication_schedule(item.vm_name, at)
        ]
        pending = schedules.pending_instant(self._timings[item.vm_name], at=at, stop=self._stops[item.vm_name])
        if not points or pending > points[-1].time:
            # 'latest' processes pending data first: the newest data that reached the target region.
            points.append(
                ReplicationPoint(
                    f"{item.id}/recoveryPoints/latest",
                    item.vm_id,
                    pending,
                    PointType.CRASH_CONSISTENT,
                    item.consistency_group,
                    processed=False,
                )
            )
        return points

    async def list_replication_points(self, vm_id: str) -> list[ReplicationPoint]:
        item = self._replicated_item(vm_id)
        await self._request("list_replication_points", item.target_region, RequestClass.READ, vm_id)
        self._check_asr_vault(item)
        return self._replication_points(item, self.now())

    def _check_asr_vault(self, item: ReplicatedItem) -> None:
        if self._region_down(item.vault.region):
            # A vault in the failed region blocks failover (azure-facts.md, Site Recovery).
            raise self._unreachable(
                item.vault.region, f"Site Recovery vault {item.vault.name} (a vault in the failed region blocks failover)"
            )

    async def test_failover(
        self, vm_id: str, *, choice: ReplicationPointChoice, network_id: str, tags: Mapping[str, str], point_id: str | None = None
    ) -> Job:
        item = self._replicated_item(vm_id)
        await self._request("test_failover", item.target_region, RequestClass.WRITE, vm_id)
        self._check_asr_vault(item)
        now = self.now()
        net = self._get_network(network_id)
        if net.region != item.target_region:
            raise ConflictError(f"network {net.name} is in {net.region}; {item.vm_name} fails over to {item.target_region}")
        running = self._test_failovers.get(item.vm_name)
        if running is not None:
            raise ConflictError(f"{item.vm_name} already has a test failover: clean it up first")
        sr = self.catalog.site_recovery
        count = self._bump(f"failover:{vm_id}")
        points = self._replication_points(item, now)
        processed = [p for p in points if p.processed]
        extra = 0.0
        if point_id is not None:
            chosen = next((p for p in points if p.id == point_id), None)
            if chosen is None:
                raise NotFoundError(f"recovery point {point_id} does not exist (or was pruned) for {item.vm_name}")
            if not chosen.processed:
                extra = self._draw(sr.pending_processing, "asr-pending", vm_id, count)
        elif choice is ReplicationPointChoice.LATEST:
            # 'latest' processes pending data first: lowest RPO, longest RTO (A2A FAQ).
            chosen = points[-1]
            if not chosen.processed:
                extra = self._draw(sr.pending_processing, "asr-pending", vm_id, count)
        elif choice is ReplicationPointChoice.LATEST_PROCESSED:
            if not processed:
                raise NotFoundError(f"{item.vm_name} has no processed recovery point yet")
            chosen = processed[-1]
        else:
            apps = [p for p in processed if p.type is PointType.APP_CONSISTENT]
            if not apps:
                raise NotFoundError(f"{item.vm_name} has no app-consistent recovery point (app_consistent_every is off, or none yet)")
            chosen = apps[-1]
        seconds = self._draw(sr.test_failover, "asr-failover", vm_id, count) + extra
        # Target capacity is best-effort (azure-facts.md, Site Recovery): a seeded small failure chance.
        short = self.draws.chance(sr.capacity_failure_probability.sample(0.5), "asr-capacity", vm_id, count)
        spec = self._specs[item.vm_name]
        flushed = chosen.type is PointType.APP_CONSISTENT
        workload = self._workloads[spec.name]
        contents = [workload.capture(d.name, chosen.time, flushed=flushed) for d in spec.disks]
        test_name = f"{spec.name}-test"
        vm_new = resource_id(DRILL_GROUP, ResourceKind.VM, test_name)
        disk_ids = tuple(resource_id(DRILL_GROUP, ResourceKind.DISK, f"{spec.name}-{d.name}-test") for d in spec.disks)
        frozen = frozen_tags(tags)

        def materialize(ended: datetime) -> None:
            self._materialize_recovered(spec, vm_new, test_name, disk_ids, contents, item.target_region, network_id, frozen, ended)

        job = self._new_job(
            JobKind.TEST_FAILOVER,
            vm_id,
            seconds,
            succeeds=not short,
            error=f"{CapacityError.__name__}: no capacity for {spec.size} in {item.target_region} (best effort); retry later"
            if short
            else None,
            created=(vm_new, *disk_ids),
            point_time=chosen.time,
            on_success=materialize,
        )
        self._test_failovers[item.vm_name] = job.id
        return job.public(now)

    async def test_failover_cleanup(self, vm_id: str) -> Job:
        item = self._replicated_item(vm_id)
        await self._request("test_failover_cleanup", item.target_region, RequestClass.WRITE, vm_id)
        self._check_asr_vault(item)
        now = self.now()
        running = self._test_failovers.get(item.vm_name)
        if running is None:
            raise ConflictError(f"{item.vm_name} has no test failover to clean up")
        failover = self._jobs[running]
        if now < failover.ends_at:
            raise ConflictError(f"the test failover of {item.vm_name} is still running")
        seconds = self._draw(self.catalog.site_recovery.test_failover_cleanup, "asr-cleanup", vm_id, self._bump(f"cleanup:{vm_id}"))
        created = failover.created if failover.succeeds else ()

        def remove(ended: datetime) -> None:
            # 'Cleanup test failover' deletes the test VMs (A2A FAQ).
            for rid in created:
                if rid in self._vms:
                    vm = self._vms.pop(rid)
                    for disk_id in vm.disk_ids:
                        if disk_id in self._disks:
                            self._disks[disk_id].vm_id = None
                    if vm.network_id in self._networks:
                        self._networks[vm.network_id].vm_count -= 1
                    self._tags.remove(vm.tags.get(RUN_TAG), rid)
            for rid in created:
                if rid in self._disks and self._disks[rid].vm_id is None:
                    disk = self._disks.pop(rid)
                    self._tags.remove(disk.tags.get(RUN_TAG), rid)
            self._test_failovers.pop(item.vm_name, None)

        job = self._new_job(JobKind.TEST_FAILOVER_CLEANUP, vm_id, seconds, on_success=remove)
        return job.public(now)

    async def get_job(self, job_id: str) -> Job:
        await self._request("get_job", self.estate.regions.primary, RequestClass.READ, job_id)
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found")
        return job.public(self.now())

    # ---------------------------------------------------------------------------------- checks

    async def read_canary(self, vm_id: str) -> CanaryReading:
        vm = self._get_vm(vm_id)
        # Run Command is a POST: it draws on the write bucket.
        await self._request("read_canary", vm.region, RequestClass.WRITE, vm_id)
        await self._wait(self._draw(self.catalog.compute.run_command, "run-command", vm_id, self._bump(f"canary:{vm_id}")))
        vm = self._get_vm(vm_id)
        now = self.now()
        if not self._public_vm(vm, now).booted:
            return CanaryReading(vm_id=vm_id, reachable=False, last_marker_at=None, last_sequence=None, corrupted=False)
        contents = [self._content(self._disks[d], now) for d in vm.disk_ids if d in self._disks]
        origin = self._specs.get(vm.origin or "")
        return read_canary(vm_id, contents, origin, self._interval)


class WorldTruth:
    """What the simulated world believes, for tests and measurement (not part of the provider Protocol).

    Every method takes the instant it describes, so it needs no running clock.
    """

    def __init__(self, world: SimProvider) -> None:
        self._world = world

    @property
    def incident(self) -> IncidentSpec:
        return self._world.incident

    def vm_id(self, vm_name: str) -> str:
        """The ARM id of a production VM."""
        return self._world._vm_id_of[vm_name]

    def disk_id(self, vm_name: str, disk_name: str) -> str:
        """The ARM id of a production disk."""
        return resource_id(self._world._prod_group, ResourceKind.DISK, f"{vm_name}-{disk_name}")

    def workload(self, vm_name: str) -> Workload:
        return self._world._workloads[vm_name]

    def last_marker(self, vm_name: str, at: datetime) -> tuple[int, datetime]:
        """The newest canary marker the production VM had written by `at` (its sequence and time)."""
        workload = self._world._workloads[vm_name]
        return marker_at(workload.written_by(at), workload.interval)

    def backup_schedule(self, vm_name: str, at: datetime) -> list[ScheduledBackup]:
        """Every Azure Backup job of the VM whose point may exist at `at` (reachable or not)."""
        return self._world.backup_schedule(vm_name, at)

    def backup_vault(self, vm_name: str) -> Vault | None:
        item = self._world._protected.get(self._world._vm_id_of[vm_name])
        return item.vault if item else None

    def replication_points(self, vm_name: str, at: datetime) -> list[ScheduledReplicationPoint]:
        """The processed Site Recovery points of the VM at `at`, after retention and pruning."""
        return self._world.replication_schedule(vm_name, at)

    def pending_instant(self, vm_name: str, at: datetime) -> datetime | None:
        """The newest data of the VM that reached the target region by `at` ('latest')."""
        timing = self._world._timings.get(vm_name)
        return None if timing is None else schedules.pending_instant(timing, at=at, stop=self._world._stops[vm_name])

    def replication_target(self, vm_name: str) -> str | None:
        item = self._world._replicated.get(self._world._vm_id_of[vm_name])
        return item.target_region if item else None

    def scheduled_snapshots(self, vm_name: str, at: datetime) -> dict[str, list[ScheduledSnapshot]]:
        """The plan's retained snapshots of each disk of the VM at `at`."""
        world = self._world
        rule = world._protection[vm_name].snapshots
        if rule is None or rule.snapshots is None:
            return {}
        spec = world._specs[vm_name]
        return {
            d.name: schedules.snapshot_schedule(
                rule.snapshots, self.disk_id(vm_name, d.name), world.catalog, world.draws, at=at, stop=world._stops[vm_name]
            )
            for d in spec.disks
        }

    def snapshot_copy_region(self, vm_name: str) -> str | None:
        rule = self._world._protection[vm_name].snapshots
        return rule.snapshots.copy_to_region if rule is not None and rule.snapshots is not None else None

    def region_down(self, region: str, at: datetime) -> bool:
        """True when the incident makes `region` unreachable at `at`."""
        incident = self._world.incident
        return incident.kind is IncidentKind.REGION_OUTAGE and incident.region == region and at >= incident.at

    def images_of(self, vm_name: str) -> list[tuple[str, str]]:
        """The managed images (name, region) holding this VM's disks."""
        return sorted((i.name, i.region) for i in self._world._images.values() if i.origin == vm_name)

    def contents(self, resource_id: str, at: datetime) -> tuple[DiskContent, ...]:
        """What a VM, disk, snapshot or image holds at `at`, disk by disk."""
        world = self._world
        if resource_id in world._vms:
            return tuple(world._content(world._disks[d], at) for d in world._vms[resource_id].disk_ids if d in world._disks)
        if resource_id in world._disks:
            return (world._content(world._disks[resource_id], at),)
        if resource_id in world._snapshots:
            return (world._snapshots[resource_id].content,)
        if resource_id in world._images:
            return tuple(d.content for d in world._images[resource_id].disks)
        raise KeyError(resource_id)


class Inventory:
    """Vaults and the items they protect, as the ARM emulator lists them (not part of the Protocol)."""

    def __init__(self, world: SimProvider) -> None:
        self._world = world

    def vaults(self) -> list[Vault]:
        return sorted(self._world._vaults.values(), key=lambda v: v.id)

    def protected_items(self, vault_id: str | None = None) -> list[ProtectedItem]:
        return [i for i in self._world._protected.values() if vault_id is None or i.vault.id == vault_id]

    def replicated_items(self, vault_id: str | None = None) -> list[ReplicatedItem]:
        return [i for i in self._world._replicated.values() if vault_id is None or i.vault.id == vault_id]

    def vault_reachable(self, vault_id: str) -> bool:
        vault = self._world._vaults[vault_id]
        return not self._world._region_down(vault.region)

    def networks(self) -> list[NetworkState]:
        """Virtual networks (production and drill-made) outside a failed region; read-only to the caller."""
        return [n for n in self._world._networks.values() if not self._world._region_down(n.region)]

    def security_groups(self) -> list[NsgState]:
        """Network security groups outside a failed region; read-only to the caller."""
        return [g for g in self._world._nsgs.values() if not self._world._region_down(g.region)]

    def disk_sku(self, disk_id: str) -> str | None:
        """The storage SKU of a managed disk (Premium_LRS, StandardSSD_LRS, ...), or None if there is no such disk."""
        disk = self._world._disks.get(disk_id)
        return disk.sku if disk is not None else None


__all__ = ["Inventory", "SimProvider", "WorldTruth", "build_world"]
