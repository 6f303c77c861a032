"""The mutable state records of the simulated world, their ARM-style ids, and their public records.

Production resources live in resource group `<estate>-prod`; everything a drill creates lives in
`drsim-drills`. Records here are internal to the world: what crosses the provider Protocol is the
frozen dataclasses of drsim.cloud.api, built by each record's `public()`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from drsim.cloud.api import (
    Image,
    IsolatedNetwork,
    Job,
    JobErrorKind,
    JobKind,
    JobStatus,
    ManagedDisk,
    PointTier,
    ResourceKind,
    Snapshot,
    VirtualMachine,
)
from drsim.cloud.sim.workload import DiskContent
from drsim.model.types import BackupPolicyKind, OsType, PowerState, Redundancy

SUBSCRIPTION = "00000000-0000-0000-0000-00000000d75a"
DRILL_GROUP = "drsim-drills"


def production_group(estate: str) -> str:
    return f"{estate}-prod"


def resource_id(group: str, kind: ResourceKind | str, name: str) -> str:
    """An ARM resource id in the simulated subscription."""
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/{kind}/{name}"


def production_disk_id(estate: str, vm: str, disk: str) -> str:
    """The ARM id of a production disk of the estate (what its scheduled snapshots' draws are keyed by)."""
    return resource_id(production_group(estate), ResourceKind.DISK, f"{vm}-{disk}")


def _frozen(tags: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(tags))


@dataclass(slots=True)
class VmState:
    id: str
    name: str
    region: str
    os: OsType
    size: str
    power: PowerState
    generalized: bool
    disk_ids: list[str]
    network_id: str | None
    tags: Mapping[str, str]
    production: bool
    origin: str | None  # the production VM whose data it holds (itself for production VMs)
    booted_at: datetime | None = None  # the guest finished booting (None: not running)
    captured: bool = False  # a managed image was captured from it: it cannot start again

    def public(self, now: datetime) -> VirtualMachine:
        booted = self.power is PowerState.RUNNING and self.booted_at is not None and self.booted_at <= now
        return VirtualMachine(
            id=self.id,
            name=self.name,
            region=self.region,
            os=self.os,
            size=self.size,
            power=self.power,
            generalized=self.generalized,
            disk_ids=tuple(self.disk_ids),
            network_id=self.network_id,
            tags=self.tags,
            booted=booted,
        )


@dataclass(slots=True)
class DiskState:
    id: str
    name: str
    region: str
    size_gib: int
    used_gib: float
    sku: str
    churn_gib_per_day: float
    vm_id: str | None
    source_id: str | None
    tags: Mapping[str, str]
    production: bool
    origin_vm: str  # whose workload wrote its data
    origin_disk: str
    content: DiskContent | None  # None: a live production disk (content read from the workload)

    def public(self) -> ManagedDisk:
        return ManagedDisk(
            id=self.id,
            name=self.name,
            region=self.region,
            size_gib=self.size_gib,
            used_gib=self.used_gib,
            vm_id=self.vm_id,
            source_id=self.source_id,
            tags=self.tags,
        )


@dataclass(slots=True)
class SnapshotState:
    id: str
    name: str
    region: str
    disk_id: str
    taken_at: datetime
    incremental: bool
    used_gib: float  # billed size (a delta for incremental snapshots after the first)
    copy_of: str | None
    tags: Mapping[str, str]
    production: bool
    content: DiskContent
    size_gib: int  # of the source disk
    disk_used_gib: float  # data held (used size of the source disk)
    sku: str
    schedule_index: int | None = None  # a scheduled (plan) snapshot: its slot

    def public(self) -> Snapshot:
        return Snapshot(
            id=self.id,
            name=self.name,
            region=self.region,
            disk_id=self.disk_id,
            taken_at=self.taken_at,
            incremental=self.incremental,
            used_gib=self.used_gib,
            copy_of=self.copy_of,
            tags=self.tags,
        )


@dataclass(frozen=True, slots=True)
class ImageDisk:
    name: str
    size_gib: int
    used_gib: float
    sku: str
    content: DiskContent


@dataclass(slots=True)
class ImageState:
    id: str
    name: str
    region: str
    source_vm_id: str
    os: OsType
    disks: tuple[ImageDisk, ...]  # ALL disks of the source VM, OS disk first
    tags: Mapping[str, str]
    production: bool
    origin: str
    deployments: int = 0  # VM creations from it in flight

    @property
    def used_gib(self) -> float:
        return sum(d.used_gib for d in self.disks)

    def public(self) -> Image:
        return Image(
            id=self.id, name=self.name, region=self.region, source_vm_id=self.source_vm_id, disk_count=len(self.disks), tags=self.tags
        )


@dataclass(slots=True)
class NetworkState:
    id: str
    name: str
    region: str
    cidr: str
    subnet_id: str
    nsg_id: str | None
    peerings: list[str]
    gateways: list[str]
    outbound_denied: bool
    default_outbound_access: bool
    tags: Mapping[str, str]
    production: bool
    vm_count: int = 0

    def public(self) -> IsolatedNetwork:
        return IsolatedNetwork(
            id=self.id,
            name=self.name,
            region=self.region,
            cidr=self.cidr,
            subnet_id=self.subnet_id,
            nsg_id=self.nsg_id or "",
            tags=self.tags,
        )


@dataclass(slots=True)
class NsgState:
    id: str
    name: str
    region: str
    network_id: str | None
    deny_outbound: bool
    tags: Mapping[str, str]


@dataclass(slots=True)
class JobState:
    id: str
    kind: JobKind
    vm_id: str
    started_at: datetime
    ends_at: datetime
    succeeds: bool
    error: str | None
    created: tuple[str, ...]
    recovery_point_time: datetime | None
    error_kind: JobErrorKind | None = None
    on_success: Callable[[datetime], None] | None = None  # runs once, given the end time
    settled: bool = False
    tier: PointTier | None = None  # of a Backup restore: the tier it restores from
    cancelled_at: datetime | None = None  # when a cancel was asked for: Cancelling until ends_at, then Cancelled

    def public(self, now: datetime) -> Job:
        if self.cancelled_at is not None:
            ended = now >= self.ends_at
            return Job(
                self.id,
                self.kind,
                JobStatus.CANCELLED if ended else JobStatus.CANCELLING,
                self.vm_id,
                self.started_at,
                ended_at=self.ends_at if ended else None,
                error=self.error if ended else None,
                recovery_point_time=self.recovery_point_time,
                tier=self.tier,
            )
        if now < self.ends_at:
            return Job(
                self.id,
                self.kind,
                JobStatus.IN_PROGRESS,
                self.vm_id,
                self.started_at,
                recovery_point_time=self.recovery_point_time,
                tier=self.tier,
            )
        status = JobStatus.SUCCEEDED if self.succeeds else JobStatus.FAILED
        return Job(
            id=self.id,
            kind=self.kind,
            status=status,
            vm_id=self.vm_id,
            started_at=self.started_at,
            ended_at=self.ends_at,
            error=self.error,
            error_kind=self.error_kind,
            created=self.created if self.succeeds else (),
            recovery_point_time=self.recovery_point_time,
            tier=self.tier,
        )


# ------------------------------------------------------------------------ vaults and their items


class VaultKind(StrEnum):
    BACKUP = "backup"
    SITE_RECOVERY = "site-recovery"


@dataclass(frozen=True)
class Vault:
    """A Recovery Services vault of the estate: Azure Backup (in the VMs' region) or Site Recovery
    (in the target region, so that a source-region outage does not take it down)."""

    id: str
    name: str
    region: str
    kind: VaultKind
    redundancy: Redundancy | None = None
    cross_region_restore: bool = False
    paired_region: str | None = None


@dataclass(frozen=True)
class ProtectedItem:
    """A VM protected by Azure Backup, named as the Backup API names it."""

    id: str
    vault: Vault
    vm_id: str
    vm_name: str
    container: str  # IaasVMContainer;iaasvmcontainerv2;<rg>;<vm>
    item: str  # VM;iaasvmcontainerv2;<rg>;<vm>
    policy: BackupPolicyKind


@dataclass(frozen=True)
class ReplicatedItem:
    """A VM replicated by Site Recovery to its target region."""

    id: str
    vault: Vault
    vm_id: str
    vm_name: str
    source_region: str
    target_region: str
    consistency_group: str | None
    stream: str  # the replication stream: the VM, or its consistency group (shared instants)


def frozen_tags(tags: Mapping[str, str]) -> Mapping[str, str]:
    """Tags as the world stores them: read-only."""
    return _frozen(tags)


@dataclass(slots=True)
class TagIndex:
    """Resources by run id, kept as they are created and deleted (list_tagged never scans)."""

    by_run: dict[str, dict[str, ResourceKind]] = field(default_factory=dict)

    def add(self, run_id: str | None, resource_id: str, kind: ResourceKind) -> None:
        if run_id is not None:
            self.by_run.setdefault(run_id, {})[resource_id] = kind

    def remove(self, run_id: str | None, resource_id: str) -> None:
        if run_id is not None and run_id in self.by_run:
            self.by_run[run_id].pop(resource_id, None)
