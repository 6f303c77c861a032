"""The state of the simulated world and the plumbing every service shares.

`WorldState` holds the estate as resources (ARM-style ids, resources.py), the protection of every VM (vaults,
protected and replicated items), the workloads of the data-version model, the incident, and the plumbing of
every request: ARM throttling, injected faults, latency, and jobs that end at a precomputed instant and take
effect the first time the world is asked anything at or after it (no background task runs in the world).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from drsim.clock import Clock
from drsim.cloud.api import (
    RUN_TAG,
    Job,
    JobErrorKind,
    JobKind,
    PointTier,
    ResourceKind,
    RestoreMode,
    VirtualMachine,
)
from drsim.cloud.arm import ArmThrottle, RequestClass
from drsim.cloud.sim import schedules
from drsim.cloud.sim.catalog import Catalog, Distribution
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.faults import FailureInjector
from drsim.cloud.sim.incidents import CORRUPTING, DESTRUCTIVE, IncidentSpec
from drsim.cloud.sim.resources import (
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
    production_disk_id,
    production_group,
    resource_id,
)
from drsim.cloud.sim.schedules import BackupHistory, ReplicationTiming
from drsim.cloud.sim.workload import DiskContent, Workload
from drsim.errors import NotFoundError
from drsim.model.checks import Protection, protection_of
from drsim.model.documents import Estate, ProtectionPlan, SimOptions, SnapshotRule, VmSpec
from drsim.model.regions import paired_region
from drsim.model.types import IncidentKind, OsType, PowerState

NEEDS_FULL_HYDRATION = frozenset({"UltraSSD_LRS", "PremiumV2_LRS"})
STANDARD_SKUS = frozenset({"Standard_LRS", "StandardSSD_LRS"})
MIB_PER_GIB = 1024


class WriteRequest:
    """An admitted write whose round trip is still owed: waited together with the operation's own time
    (one timer, not two: a large drill makes hundreds of thousands), or alone when the write is
    answered at once (refused, or already done). The world checks a write when it is admitted."""

    __slots__ = ("_owed", "_round_trip", "_world")

    def __init__(self, world: WorldState, round_trip: float) -> None:
        self._world = world
        self._round_trip = round_trip
        self._owed = True

    async def wait(self, seconds: float) -> None:
        """Let the operation take `seconds` (after the round trip, when it is still owed)."""
        owed = max(0.0, self._round_trip) if self._owed else 0.0
        self._owed = False
        await self._world._wait(owed + max(0.0, seconds))
        self._world._settle()

    async def __aenter__(self) -> WriteRequest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._owed:
            self._owed = False
            await self._world._wait(self._round_trip)


class WorldState:
    """The estate as simulated resources, with what every service of the world needs to reach them."""

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
        self.throttle = ArmThrottle(catalog.arm.limits(), enabled=options.throttling)
        self.faults = FailureInjector(options.failure_rate, self.draws)
        self._latency = options.latency
        self._request_latency = catalog.arm.request_latency
        self._prod_group = production_group(estate.name)
        self._interval = catalog.workload.canary_interval.sample(0.5)
        # The region an outage takes down (None: no region is down whatever the time).
        self._outage_region = incident.region if incident.kind is IncidentKind.REGION_OUTAGE else None
        self._frozen_tags: tuple[Mapping[str, str], Mapping[str, str]] | None = None  # the last tags given, frozen
        self._drill_kinds: dict[str, ResourceKind] = {}  # what each resource a drill created is (tagged when made)
        self._prices: dict[tuple[object, ...], float] = {}  # cost_per_day by kind and what it is priced on
        self._requests: dict[tuple[str, str], int] = {}  # requests made so far by (operation, target)

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
        self._backup_histories: dict[str, BackupHistory] = {}  # by VM name, least recently asked first
        self._restores: dict[str, list[datetime]] = {}
        self._test_failovers: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._last_incremental: dict[tuple[str, str], str] = {}
        self._copying: set[str] = set()
        self._copies_in_region: dict[str, int] = {}
        self._last_copied: dict[tuple[str, str], datetime] = {}
        self._failed_disks: set[str] = set()
        self._deleted_vms: set[str] = set()
        self._crashed_vms: set[str] = set()
        # The world's resources of each ARM type it holds (by kind_of or the kind given at creation).
        self._tables: dict[str, Mapping[str, VmState | DiskState | SnapshotState | ImageState | NetworkState | NsgState]] = {
            ResourceKind.DISK: self._disks,
            ResourceKind.SNAPSHOT: self._snapshots,
            ResourceKind.VM: self._vms,
            ResourceKind.IMAGE: self._images,
            ResourceKind.NETWORK: self._networks,
            ResourceKind.NSG: self._nsgs,
        }
        self._populate()

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
                flush_lag=catalog.workload.flush_lag.sample(self.draws.unit_of(schedules.flush_lag_key(spec.name))),
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
                disk_id = production_disk_id(est.name, spec.name, disk.name)
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
        self._time_replication()

    def _paired_region(self, region: str) -> str | None:
        """Where a vault in `region` keeps its cross-region restore points: Azure's pair of the region
        (drsim/model/regions.py; the estate's other region for a region drsim does not know)."""
        regions = self.estate.regions
        return paired_region(region, primary=regions.primary, recovery=regions.recovery)

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
            stream = schedules.replication_stream(spec.name, rule_sr.consistency_group)
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

    def _time_replication(self) -> None:
        """The replication constants of every stream (a VM, or a consistency group sharing its instants)."""
        members: dict[str, list[VmSpec]] = {}
        for item in self._replicated.values():
            members.setdefault(item.stream, []).append(self._specs[item.vm_name])
        for item in self._replicated.values():
            rule = self._protection[item.vm_name].site_recovery
            assert rule is not None and rule.site_recovery is not None
            factor = self._churn_factor(members[item.stream])
            self._timings[item.vm_name] = schedules.replication_timing(
                rule.site_recovery, item.stream, self.catalog, self.draws, lag_factor=factor
            )

    def _churn_factor(self, members: list[VmSpec]) -> float:
        return churn_lag_factor(members, self.catalog)

    def now(self) -> datetime:
        return self.clock.now()

    def _active(self) -> bool:
        return self.clock.now() >= self.incident.at

    def _region_down(self, region: str) -> bool:
        return region == self._outage_region and self._active()

    def _wait(self, seconds: float) -> Awaitable[None]:
        return self.clock.sleep((seconds if seconds > 0 else 0.0) * self._latency)

    def _after(self, owed: float, seconds: float) -> Awaitable[None]:
        """The round trip a write still owes, then the operation's own time: one sleep (WriteRequest.wait
        on the hot paths, without the object; the caller settles due jobs after it)."""
        return self.clock.sleep(((owed if owed > 0 else 0.0) + (seconds if seconds > 0 else 0.0)) * self._latency)

    def _draw(self, dist: Distribution, *key: object) -> float:
        return self.draws.sample(dist, *key)

    def _admit(self, operation: str, region: str, request: RequestClass, target: str) -> float:
        """Admit one ARM request: settle due jobs, throttle, maybe fail; its round trip in seconds."""
        if self._due:
            self._settle()
        if self.throttle.enabled:
            self.throttle.admit(region, request, self.clock.now())
        if self.faults.rate > 0:
            self.faults.check(operation, target)
        key = (operation, target)
        requests = self._requests
        count = requests[key] if key in requests else 0  # noqa: SIM401 - a subscript, not .get: one call less per operation
        requests[key] = count + 1
        return self._request_latency.sample(self.draws.unit_of(f"latency/{operation}/{target}/{count}"))

    async def _request(self, operation: str, region: str, request: RequestClass, target: str) -> None:
        """One ARM request: admission, then the round trip.

        Jobs are settled again when the answer is made: a job that ended during the round trip is
        reported ended by get_job, so what it made must exist for the very next request too."""
        await self._wait(self._admit(operation, region, request, target))
        self._settle()

    def _write(self, operation: str, region: str, request: RequestClass, target: str) -> WriteRequest:
        """One ARM write that then waits for the operation (`async with ... as write: await write.wait(s)`)."""
        return WriteRequest(self, self._admit(operation, region, request, target))

    def _settle(self) -> None:
        """Let every job that has ended by now take effect (the world runs no background task)."""
        due = self._due
        if not due:
            return
        now = self.now()
        while due and due[0][0] <= now:
            _, _, job_id = heapq.heappop(due)
            job = self._jobs[job_id]
            if not job.settled:
                job.settled = True
                if job.succeeds and job.on_success is not None:
                    job.on_success(job.ends_at)

    def _unreachable(self, region: str, what: str) -> NotFoundError:
        return NotFoundError(f"{what} is unreachable: region {region} is down (region outage since {self.incident.at.isoformat()})")

    def _get_vm(self, vm_id: str) -> VmState:
        if self._due:
            self._settle()  # a resource read sees every job that ended before it
        vm = self._vms.get(vm_id)
        if vm is None:
            raise NotFoundError(f"virtual machine {vm_id} not found")
        if vm.region == self._outage_region and self._active():  # _region_down, inline: every read asks
            raise self._unreachable(vm.region, f"virtual machine {vm.name}")
        if vm.production and vm.name in self._deleted_vms and self._active():
            raise NotFoundError(f"virtual machine {vm.name} not found ({self.incident.kind.value} at {self.incident.at.isoformat()})")
        return vm

    def _get_disk(self, disk_id: str) -> DiskState:
        if self._due:
            self._settle()
        disks = self._disks
        if disk_id not in disks:
            raise NotFoundError(f"disk {disk_id} not found")
        disk = disks[disk_id]
        if disk.region == self._outage_region and self._active():  # _region_down, inline: every read asks
            raise self._unreachable(disk.region, f"disk {disk.name}")
        if disk.production and (disk.origin_vm in self._deleted_vms or disk_id in self._failed_disks) and self._active():
            raise NotFoundError(f"disk {disk.name} not found ({self.incident.kind.value} at {self.incident.at.isoformat()})")
        return disk

    def _get_snapshot(self, snapshot_id: str) -> SnapshotState:
        if self._due:
            self._settle()
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            raise NotFoundError(f"snapshot {snapshot_id} not found")
        if snap.schedule_index is not None and not self._scheduled_still_kept(snap):
            self._forget_snapshot(snap)
            raise NotFoundError(f"snapshot {snap.name} not found (deleted by the plan's retention)")
        if snap.region == self._outage_region and self._active():  # _region_down, inline: every read asks
            raise self._unreachable(snap.region, f"snapshot {snap.name}")
        return snap

    def _get_image(self, image_id: str) -> ImageState:
        if self._due:
            self._settle()
        image = self._images.get(image_id)
        if image is None:
            raise NotFoundError(f"image {image_id} not found")
        if image.region == self._outage_region and self._active():  # _region_down, inline: every read asks
            raise self._unreachable(image.region, f"image {image.name}")
        return image

    def _get_network(self, network_id: str) -> NetworkState:
        if self._due:
            self._settle()
        net = self._networks.get(network_id)
        if net is None:
            raise NotFoundError(f"virtual network {network_id} not found")
        if net.region == self._outage_region and self._active():  # _region_down, inline: every read asks
            raise self._unreachable(net.region, f"virtual network {net.name}")
        return net

    def _content(self, disk: DiskState, at: datetime, *, flushed: bool = False) -> DiskContent:
        if disk.content is not None:
            return disk.content
        return self._workloads[disk.origin_vm].capture(disk.origin_disk, at, flushed=flushed)

    def _tag(self, resource: str, kind: ResourceKind, tags: Mapping[str, str]) -> None:
        run = tags[RUN_TAG] if RUN_TAG in tags else None  # noqa: SIM401 - a subscript, not .get: one call less per operation
        if run is not None:  # TagIndex.add, inline (every creation)
            by_run = self._tags.by_run
            if run in by_run:
                by_run[run][resource] = kind
            else:
                by_run[run] = {resource: kind}
        self._drill_kinds[resource] = kind

    def _freeze(self, tags: Mapping[str, str]) -> Mapping[str, str]:
        """frozen_tags(tags), made once for the same tags given again (every creation of a run gives its run tag)."""
        last = self._frozen_tags
        if last is not None and last[0] is tags and last[1] == tags:
            return last[1]
        frozen = frozen_tags(tags)
        self._frozen_tags = (tags, frozen)
        return frozen

    def _add_drill_disk(
        self,
        disk_id: str,
        *,
        name: str,
        region: str,
        size_gib: int,
        used_gib: float,
        sku: str,
        source_id: str | None,
        tags: Mapping[str, str],
        content: DiskContent,
    ) -> DiskState:
        """Store and tag a disk a drill created (from a snapshot, an image or a job) holding `content`."""
        disk = DiskState(
            id=disk_id,
            name=name,
            region=region,
            size_gib=size_gib,
            used_gib=used_gib,
            sku=sku,
            churn_gib_per_day=0.0,
            vm_id=None,
            source_id=source_id,
            tags=tags,
            production=False,
            origin_vm=content.vm,
            origin_disk=content.disk,
            content=content,
        )
        self._disks[disk_id] = disk
        self._tag(disk_id, ResourceKind.DISK, tags)
        return disk

    def _bump(self, key: str) -> int:
        count = self._counters.get(key, 0)
        self._counters[key] = count + 1
        return count

    def _new_job(
        self,
        kind: JobKind,
        vault: Vault,
        vm_id: str,
        seconds: float,
        *,
        succeeds: bool = True,
        error: str | None = None,
        error_kind: JobErrorKind | None = None,
        created: tuple[str, ...] = (),
        point_time: datetime | None = None,
        on_success: Callable[[datetime], None] | None = None,
    ) -> JobState:
        now = self.now()
        seq = next(self._job_seq)
        jobs = "backupJobs" if kind is JobKind.RESTORE else "replicationJobs"
        job = JobState(
            id=f"{vault.id}/{jobs}/00000000-0000-4000-8000-{seq:012d}",  # a job of the vault that runs it
            kind=kind,
            vm_id=vm_id,
            started_at=now,
            ends_at=now + timedelta(seconds=max(0.0, seconds) * self._latency),
            succeeds=succeeds,
            error=error,
            error_kind=error_kind,
            created=created,
            recovery_point_time=point_time,
            on_success=on_success,
        )
        self._jobs[job.id] = job
        heapq.heappush(self._due, (job.ends_at, seq, job.id))
        return job

    async def get_job(self, job_id: str) -> Job:
        await self._request("get_job", self.estate.regions.primary, RequestClass.READ, job_id)
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found")
        return job.public(self.now())

    def adopt_job(
        self,
        job_id: str,
        *,
        tags: Mapping[str, str],
        mode: RestoreMode | None = None,
        target: str | None = None,
        tier: PointTier | None = None,
    ) -> None:
        """Nothing to do: the simulated world keeps a job's tags, mode and tier with the job itself."""

    async def find_job(self, kind: JobKind, vm_id: str, *, since: datetime) -> Job | None:
        await self._request("find_job", self.estate.regions.primary, RequestClass.READ, vm_id)
        found = [j for j in self._jobs.values() if j.kind is kind and j.vm_id == vm_id and j.started_at >= since]
        if not found:
            return None
        return max(found, key=lambda j: (j.started_at, j.id)).public(self.now())

    def _public_vm(self, vm: VmState, now: datetime) -> VirtualMachine:
        record = vm.public(now)
        if vm.production and self._active():
            if vm.name in self._crashed_vms:
                return replace(record, power=PowerState.STOPPED, booted=False)
            if vm.region == self._outage_region and self._active():  # _region_down, inline: every read asks
                return replace(record, booted=False)
        return record

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

    def _register_snapshot(self, snap: SnapshotState) -> None:
        if snap.id in self._snapshots:
            return
        self._snapshots[snap.id] = snap
        of_disk = self._snapshots_of_disk.get(snap.disk_id)
        if of_disk is None:
            self._snapshots_of_disk[snap.disk_id] = {snap.id: None}
        else:
            of_disk[snap.id] = None
        self._tag(snap.id, ResourceKind.SNAPSHOT, snap.tags)

    def _forget_snapshot(self, snap: SnapshotState) -> None:
        self._snapshots.pop(snap.id, None)
        self._snapshots_of_disk.get(snap.disk_id, {}).pop(snap.id, None)
        self._tags.remove(snap.tags.get(RUN_TAG), snap.id)

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
            self._add_drill_disk(
                disk_id,
                name=disk_id.rsplit("/", 1)[1],
                region=region,
                size_gib=disk_spec.size_gib,
                used_gib=disk_spec.used_gib,
                sku=disk_spec.sku,
                source_id=None,
                tags=tags,
                content=content,
            )
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


def churn_lag_factor(members: Iterable[VmSpec], catalog: Catalog) -> float:
    """How much a replication stream's lag grows when its members' churn passes Site Recovery's limits
    (azure-to-azure-support-matrix, H): 54 MB/s per VM, 2 MB/s per Standard disk, 20 MB/s per Premium
    disk. 1.0 within limits. The world's and the fast model's (drsim.compare.fast) one rule."""
    sr = catalog.site_recovery
    factor = 1.0
    for spec in members:
        vm_rate = 0.0
        for disk in spec.disks:
            rate = disk.churn_gib_per_day * MIB_PER_GIB / 86400
            vm_rate += rate
            limit = sr.churn_limit_standard_disk_mbps.value if disk.sku in STANDARD_SKUS else sr.churn_limit_premium_disk_mbps.value
            factor = max(factor, rate / limit)
        factor = max(factor, vm_rate / sr.churn_limit_vm_mbps.value)
    return factor
