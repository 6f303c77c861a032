"""The provider Protocol: what a drill may ask of a cloud, shaped like the ARM operations it needs.

Two implementations: `drsim.cloud.sim` (the simulated Azure world, virtual time) and
`drsim.cloud.azure` (the Azure SDK). Records in and out are plain frozen dataclasses: no SDK types
cross this line. Errors are those of `drsim.errors` (ProviderError and its subclasses): providers
translate whatever fails underneath at their own edge.

Identifiers are ARM-style resource ids (`/subscriptions/<sub>/resourceGroups/<rg>/providers/...`).
Every `create_*` call is a long-running operation that returns when the resource is ready; restores
and test failovers return a Job at once, to be followed with `get_job` until it ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from drsim.model.types import OsType, PowerState, ReplicationPointChoice
from drsim.records import quick_init

_CLOUD_SPANS: ContextVar[dict[str, tuple[datetime, datetime]] | None] = ContextVar("drsim_cloud_spans", default=None)


def collect_cloud_spans() -> Token[dict[str, tuple[datetime, datetime]] | None]:
    """From here on in this task (and the tasks it starts), record the start and end the cloud reports
    for each long-running operation or job that ends (`report_cloud_span`); `cloud_spans()` gives them."""
    return _CLOUD_SPANS.set({})


def cloud_spans() -> dict[str, tuple[datetime, datetime]] | None:
    """The spans recorded since `collect_cloud_spans` in this task, by operation or job id (None: not collecting)."""
    return _CLOUD_SPANS.get()


def stop_collecting_cloud_spans(token: Token[dict[str, tuple[datetime, datetime]] | None]) -> None:
    _CLOUD_SPANS.reset(token)


def report_cloud_span(key: str, started: datetime, ended: datetime) -> None:
    """The cloud says operation or job `key` ran from `started` to `ended` (its own clock): what the
    operation itself took, without the client's round trips and polling (kept when someone collects)."""
    found = _CLOUD_SPANS.get()
    if found is not None and ended >= started:
        found[key] = (started, ended)


RUN_TAG = "drsim-run"
"""The tag every resource a drill creates carries; its value is the run id."""


class ResourceKind(StrEnum):
    VM = "Microsoft.Compute/virtualMachines"
    DISK = "Microsoft.Compute/disks"
    SNAPSHOT = "Microsoft.Compute/snapshots"
    IMAGE = "Microsoft.Compute/images"
    NETWORK = "Microsoft.Network/virtualNetworks"
    NSG = "Microsoft.Network/networkSecurityGroups"
    NIC = "Microsoft.Network/networkInterfaces"


class PointType(StrEnum):
    """Consistency of a recovery point, as Azure Backup and Site Recovery name it."""

    APP_CONSISTENT = "AppConsistent"
    FILE_SYSTEM_CONSISTENT = "FileSystemConsistent"
    CRASH_CONSISTENT = "CrashConsistent"


class PointTier(StrEnum):
    """Where an Azure Backup point lives: InstantRP (snapshot) or HardenedRP (vault)."""

    SNAPSHOT = "snapshot"
    VAULT = "vault"


class RestoreMode(StrEnum):
    VM = "vm"  # ALTERNATE_LOCATION: create a new VM
    DISKS = "disks"  # RESTORE_DISKS: create managed disks only


class JobKind(StrEnum):
    RESTORE = "restore"
    TEST_FAILOVER = "test-failover"
    TEST_FAILOVER_CLEANUP = "test-failover-cleanup"


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLING = "Cancelling"  # a cancel was asked for and is being carried out (Backup's JobStatus)
    CANCELLED = "Cancelled"  # ended by a cancel: what the job would have made was not made

    @property
    def ended(self) -> bool:
        return self not in (JobStatus.IN_PROGRESS, JobStatus.CANCELLING)


class JobErrorKind(StrEnum):
    """Why a job failed, when a provider can tell a failure that a later attempt may cure."""

    CAPACITY = "capacity"  # the target region had no capacity: best effort, a retry may find some
    TRANSIENT = "transient"  # a passing service failure (timeouts, 5xx)


@dataclass(frozen=True)
class VirtualMachine:
    id: str
    name: str
    region: str
    os: OsType
    size: str
    power: PowerState
    generalized: bool
    disk_ids: tuple[str, ...]  # OS disk first
    network_id: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    booted: bool = False  # the guest OS finished booting (boot diagnostics / guest agent ready)


@dataclass(frozen=True)
class ManagedDisk:
    id: str
    name: str
    region: str
    size_gib: int
    used_gib: float
    vm_id: str | None  # the VM it is attached to
    source_id: str | None  # the snapshot or disk it was created from
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    id: str
    name: str
    region: str
    disk_id: str  # the ONE disk it copies (a snapshot knows of no other disk)
    taken_at: datetime  # the instant the disk's content was captured
    incremental: bool
    used_gib: float  # billed size
    copy_of: str | None = None  # the source snapshot of a cross-region copy
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    id: str
    name: str
    region: str
    source_vm_id: str
    disk_count: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IsolatedNetwork:
    id: str  # the VNet
    name: str
    region: str
    cidr: str
    subnet_id: str
    nsg_id: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IsolationReport:
    """What makes a network isolated (azure-sdk-notes.md): no peering, no gateway, outbound denied."""

    network_id: str
    peerings: tuple[str, ...]
    gateways: tuple[str, ...]
    outbound_denied: bool
    default_outbound_access: bool

    @property
    def isolated(self) -> bool:
        return not self.peerings and not self.gateways and self.outbound_denied and not self.default_outbound_access

    def reasons(self) -> list[str]:
        found = [f"peered with {p}" for p in self.peerings] + [f"has gateway {g}" for g in self.gateways]
        if not self.outbound_denied:
            found.append("outbound traffic is not denied")
        if self.default_outbound_access:
            found.append("default outbound access is on")
        return found


@dataclass(frozen=True)
class BackupPoint:
    """An Azure Backup recovery point of one VM (all its disks at one instant)."""

    id: str
    vm_id: str
    time: datetime
    type: PointType
    tiers: frozenset[PointTier]
    region: str  # where it can be restored: the vault's region, or the paired region for CRR


@dataclass(frozen=True)
class ReplicationPoint:
    """A Site Recovery recovery point of one replicated VM."""

    id: str
    vm_id: str
    time: datetime
    type: PointType  # CrashConsistent or AppConsistent
    group: str | None = None  # multi-VM consistency group sharing this instant
    processed: bool = True  # False for the pending-data point that 'latest' processes first


@dataclass(frozen=True)
class Job:
    id: str
    kind: JobKind
    status: JobStatus
    vm_id: str  # the protected (source) VM
    started_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    created: tuple[str, ...] = ()  # resource ids the job created (VM first, then disks)
    recovery_point_time: datetime | None = None
    error_kind: JobErrorKind | None = None  # of a failed job: None when a retry will not help (or unknown)
    tier: PointTier | None = None  # of a Backup restore: the tier it restores from (snapshot when the point had one)


@dataclass(frozen=True)
class VolumeReading:
    name: str
    disk_instants: tuple[datetime | None, ...]  # newest canary per disk of the volume (one per log on a real VM)
    consistent: bool
    problem: str | None = None  # why the volume fails the check, when it says more than its disks' instants


@dataclass(frozen=True)
class CanaryReading:
    """What the canary check read on a recovered VM (Run Command against real Azure)."""

    vm_id: str
    reachable: bool
    last_marker_at: datetime | None  # newest canary marker found on the recovered data
    last_sequence: int | None
    corrupted: bool  # the data holds the incident's corruption (ransomware, bad write)
    volumes: tuple[VolumeReading, ...] = ()
    written_by: str | None = None  # the production VM whose canary writer wrote the markers read (the worlds know it)

    @property
    def consistent(self) -> bool:
        return all(v.consistent for v in self.volumes)


@dataclass(frozen=True)
class TaggedResource:
    id: str
    kind: ResourceKind
    name: str
    region: str
    cost_per_day: float  # USD list price per day while it exists


for _record in (
    VirtualMachine,
    ManagedDisk,
    Snapshot,
    Image,
    IsolatedNetwork,
    IsolationReport,
    BackupPoint,
    ReplicationPoint,
    Job,
    VolumeReading,
    CanaryReading,
    TaggedResource,
):
    quick_init(_record)  # the simulated world answers with hundreds of thousands of them


@runtime_checkable
class CloudProvider(Protocol):
    """The operations a drill needs (exactly what drsim.engine calls), implemented by the simulated world
    and by the Azure provider."""

    name: str  # "sim" or "azure"

    # reads
    async def list_vms(self) -> list[VirtualMachine]: ...
    async def get_vm(self, vm_id: str) -> VirtualMachine: ...
    async def list_snapshots(self, disk_id: str | None = None) -> list[Snapshot]: ...
    async def list_images(self) -> list[Image]: ...
    async def list_tagged(self, run_id: str) -> list[TaggedResource]: ...
    def price_per_day(self, resource_id: str) -> float | None:
        """USD list price per day of a resource the drill created, from what the provider already knows
        (no request is made, no time passes); None when it cannot tell."""
        ...

    # compute (production is read-only to a drill except for snapshots)
    async def create_snapshot(self, disk_id: str, *, name: str, incremental: bool, tags: Mapping[str, str]) -> Snapshot: ...
    async def copy_snapshot(self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Snapshot: ...
    async def create_disk(
        self, snapshot_id: str, *, name: str, region: str, tags: Mapping[str, str], sku: str | None = None
    ) -> ManagedDisk: ...
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
        """Create a VM that attaches existing disks (OS disk first) and start it."""
        ...

    async def create_vm_from_image(
        self, image_id: str, *, name: str, region: str, size: str, network_id: str, tags: Mapping[str, str]
    ) -> VirtualMachine: ...
    async def find_vm(self, name: str, *, tags: Mapping[str, str]) -> VirtualMachine | None:
        """The VM the drill named `name` (as it asked create_vm_from_image for it), once its creation has
        ended, or None when the cloud has none: a resumed drill adopts a VM whose creation the cloud accepted
        before the stopped process journaled it, rather than asking for it again. Its disks get `tags`."""
        ...

    async def delete(self, resource_id: str) -> None:
        """Delete one resource the drill created (idempotent: deleting a missing resource succeeds)."""
        ...

    # network
    async def create_isolated_network(
        self,
        *,
        name: str,
        region: str,
        cidr: str,
        tags: Mapping[str, str],
        peer_with: Sequence[str] = (),
        allow_outbound: bool = False,
    ) -> IsolatedNetwork: ...
    async def check_isolation(self, network_id: str) -> IsolationReport: ...

    # Azure Backup
    async def list_backup_points(self, vm_id: str, *, region: str | None = None) -> list[BackupPoint]:
        """Recovery points of a protected VM; with `region` set to the paired region, the CRR points."""
        ...

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
    ) -> Job: ...

    # Azure Site Recovery
    async def list_replication_points(self, vm_id: str) -> list[ReplicationPoint]: ...
    async def test_failover(
        self,
        vm_id: str,
        *,
        choice: ReplicationPointChoice,
        network_id: str,
        tags: Mapping[str, str],
        point_id: str | None = None,
    ) -> Job: ...
    async def test_failover_cleanup(self, vm_id: str) -> Job: ...

    async def get_job(self, job_id: str) -> Job: ...

    async def cancel_job(self, job_id: str) -> None:
        """Ask a running Backup restore job to stop (JobCancellations_Trigger); get_job then follows it
        through Cancelling to Cancelled. ConflictError when the job has already ended."""
        ...

    def adopt_job(
        self,
        job_id: str,
        *,
        tags: Mapping[str, str],
        mode: RestoreMode | None = None,
        target: str | None = None,
        tier: PointTier | None = None,
    ) -> None:
        """Follow a job an earlier process of the same run started (a resumed drill): what it creates gets
        `tags`; a restore's `mode`, `target` (the name drsim gave what it creates) and `tier` are as journaled."""
        ...

    async def find_job(self, kind: JobKind, vm_id: str, *, since: datetime) -> Job | None:
        """The newest job of `kind` on production VM `vm_id` started at or after `since`, or None: a resumed
        drill finds a restore or test failover the cloud accepted before its job id was journaled."""
        ...

    # checks
    async def read_canary(
        self, vm_id: str, *, origin_id: str | None = None, origin_uuid: str | None = None, not_after: datetime | None = None
    ) -> CanaryReading:
        """Read the newest canary marker on a (recovered) VM and check its volumes' consistency; only
        markers the production VM `origin_id` (vmId `origin_uuid`, when known) wrote at or before
        `not_after` (the incident) count."""
        ...
