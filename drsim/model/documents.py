"""The five drsim documents as immutable pydantic models, exactly as FORMAT.md writes them.

Checks that need only one object live here as validators; checks that span a whole document or
several documents live in `drsim.model.checks`, where every problem is located in its YAML file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Network
from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from drsim.model.endpoints import endpoint_problem
from drsim.model.types import (
    CONTROL_PATTERN,
    SUBSCRIPTION_PATTERN,
    VM_SIZE_PATTERN,
    VM_UUID_PATTERN,
    BackupPointChoice,
    BackupPolicyKind,
    BackupTier,
    CleanupPolicy,
    Duration,
    IncidentKind,
    KeyProblem,
    Name,
    NonNegativeDuration,
    OsType,
    PowerState,
    ProviderKind,
    Redundancy,
    Region,
    ReplicationPointChoice,
    RestoreAs,
    Selector,
    SnapshotSource,
    StepId,
    Tags,
    TimeOfDay,
    VolumeLayout,
    format_duration,
    instant_out_of_range,
    selector_matches,
)

API_VERSION = "drsim/v1"
# An Azure resource group name: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'
# (azure-resource-manager/management/resource-name-rules, Microsoft.Resources).
ResourceGroupName = Annotated[str, Field(min_length=1, max_length=90, pattern=r"^[\w\-.()]*[\w\-()]$")]


def _cidr_text(value: object) -> object:
    """A CIDR is written as text ("10.0.0.0/16"): pydantic alone would read `true` as 0.0.0.1/32 and 10 as 0.0.0.10/32."""
    if isinstance(value, str | IPv4Network):
        return value
    raise ValueError(f"must be an IPv4 CIDR written as text, e.g. 10.0.0.0/16 (got {value!r})")


Cidr = Annotated[IPv4Network, BeforeValidator(_cidr_text)]


class Frozen(BaseModel):
    """Base of every document part: unknown keys are errors, nothing changes once loaded."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_enum_values=False, use_attribute_docstrings=True)


class Metadata(Frozen):
    """Name, description and labels of a document."""

    name: Name
    """The document's name; reports and run ids use it."""
    description: str | None = None
    """One line saying what the document is for."""
    labels: Tags = Field(default_factory=dict)
    """Free key: value labels."""


class Document(Frozen):
    api_version: Literal["drsim/v1"] = Field(alias="apiVersion")
    """Always drsim/v1."""
    metadata: Metadata
    """Name, description and labels."""

    @property
    def name(self) -> str:
        return self.metadata.name


# --------------------------------------------------------------------------------------- Estate


class Regions(Frozen):
    """The region production runs in and the region it recovers to."""

    primary: Region
    """Where production runs."""
    recovery: Region
    """Where it recovers to (usually Azure's pair of the primary; Backup's cross-region restore always uses the pair)."""

    @model_validator(mode="after")
    def _distinct(self) -> Regions:
        if self.primary == self.recovery:
            raise KeyProblem(("recovery",), f"must differ from the primary region ({self.primary})")
        return self


class NetworkSpec(Frozen):
    """A production virtual network (read-only to every drill)."""

    name: Name
    """Network name; VMs refer to it."""
    region: Region
    """Azure region of the network."""
    cidr: Cidr
    """Address space, e.g. 10.0.0.0/16."""
    peerings: tuple[Name, ...] = ()
    """Networks of this estate it is peered with."""
    gateway: bool = False
    """Whether it has a VPN/ExpressRoute gateway."""
    resource_group: ResourceGroupName | None = None
    """Azure resource group of the network (default: the estate's resource_group)."""


class DiskSpec(Frozen):
    """A managed disk. The first disk of a VM is its OS disk."""

    name: Name
    """Disk name, unique within the VM."""
    size_gib: int = Field(gt=0, le=65536)
    """Provisioned size in GiB."""
    used_gib: float = Field(ge=0)
    """Data written, in GiB (snapshots and backups are billed on it)."""
    churn_gib_per_day: float = Field(default=0.0, ge=0)
    """Data the workload writes a day, in GiB."""
    sku: Literal["Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "PremiumV2_LRS", "UltraSSD_LRS"] = "Premium_LRS"
    """Managed disk SKU."""
    resource_group: ResourceGroupName | None = None
    """Azure resource group of the disk (default: its VM's)."""

    @model_validator(mode="after")
    def _used_fits(self) -> DiskSpec:
        if self.used_gib > self.size_gib:
            raise KeyProblem(("used_gib",), f"{self.used_gib:g} is larger than size_gib ({self.size_gib})")
        return self


class VolumeSpec(Frozen):
    """A guest volume: one disk, or several disks striped together."""

    name: Name
    """Volume name in the guest."""
    disks: tuple[Name, ...] = Field(min_length=1)
    """The disks it spans."""
    layout: VolumeLayout = VolumeLayout.SINGLE
    """single (one disk) or striped (several, consistent only if captured at one instant)."""

    @model_validator(mode="after")
    def _layout_fits(self) -> VolumeSpec:
        if self.layout is VolumeLayout.SINGLE and len(self.disks) != 1:
            raise KeyProblem(("layout", "disks"), "a single-layout volume has exactly one disk; use layout: striped for several")
        if self.layout is VolumeLayout.STRIPED and len(self.disks) < 2:
            raise KeyProblem(("disks",), "a striped volume needs at least two disks")
        return self


class TrustedLaunch(Frozen):
    """Trusted Launch (securityProfile.securityType TrustedLaunch): a Gen2 VM with Secure Boot and a vTPM
    as its uefiSettings say; its OS disk carries the security type into snapshots and disks copied from
    them, and a VM attaching such a disk must be Trusted Launch too (virtual-machines/trusted-launch)."""

    secure_boot: bool = True
    """uefiSettings.secureBootEnabled."""
    vtpm: bool = True
    """uefiSettings.vTpmEnabled."""


class VmSpec(Frozen):
    """A production virtual machine, its disks and guest volumes."""

    name: Name
    """VM name, unique in the estate."""
    os: OsType
    """windows or linux."""
    size: Annotated[str, Field(pattern=VM_SIZE_PATTERN)]
    """Azure VM size, e.g. Standard_D2s_v5."""
    region: Region
    """Azure region of the VM."""
    network: Name
    """Name of one of the estate's networks."""
    tags: Tags = Field(default_factory=dict)
    """Azure tags; selectors match them."""
    disks: tuple[DiskSpec, ...] = Field(min_length=1)
    """Managed disks; the first is the OS disk."""
    volumes: tuple[VolumeSpec, ...] = ()
    """Guest volumes over the data disks."""
    generalized: bool = False
    """Marked generalized (sysprep / waagent -deprovision): an image source that cannot start again."""
    power: PowerState = PowerState.RUNNING
    """running, stopped or deallocated."""
    resource_group: ResourceGroupName | None = None
    """Azure resource group of the VM (default: the estate's resource_group)."""
    vm_uuid: Annotated[str, Field(pattern=VM_UUID_PATTERN)] | None = None
    """The VM's vmId (properties.vmId; drsim discover writes it), which its canary writer puts in every marker.
    Read from Azure when absent, which the canary check cannot do when the VM's region is down."""
    trusted_launch: TrustedLaunch | None = None
    """Trusted Launch security (omit for a Standard VM); `{}` is Secure Boot and vTPM on."""

    @model_validator(mode="after")
    def _generalized_is_deallocated(self) -> VmSpec:
        # A VM is marked generalized once deallocated, and cannot be started again (azure-facts.md,
        # Images; capture-image-resource).
        if self.generalized and self.power is not PowerState.DEALLOCATED:
            raise KeyProblem(("power", "generalized"), f"a generalized VM is deallocated, not {self.power.value}: set power: deallocated")
        return self

    @property
    def used_gib(self) -> float:
        return sum(d.used_gib for d in self.disks)

    @property
    def size_gib(self) -> int:
        return sum(d.size_gib for d in self.disks)


class AppSpec(Frozen):
    """An application: the VMs a selector matches, measured together for RTO and RPO."""

    name: Name
    """Application name; objectives and checks refer to it."""
    vms: Selector
    """Selector of the application's VMs."""
    depends_on: tuple[Name, ...] = ()
    """Applications that must be healthy first."""
    drill_every: Duration | None = None
    """How often the application must pass a real drill, e.g. 90d (`drsim due` says when it is due)."""
    critical: bool = False
    """Whether the application is critical to the business (shown by `drsim due` and the coverage packet)."""


class Estate(Document):
    """The production estate: regions, networks, VMs and the applications they form."""

    kind: Literal["Estate"]
    """Estate."""
    regions: Regions
    """Primary and recovery region."""
    networks: tuple[NetworkSpec, ...] = Field(min_length=1)
    """Production networks (read-only to drills)."""
    vms: tuple[VmSpec, ...] = Field(min_length=1)
    """The virtual machines."""
    apps: tuple[AppSpec, ...] = ()
    """Applications: named groups of VMs."""
    resource_group: ResourceGroupName | None = None
    """Azure resource group production lives in (VMs, disks and networks that name none); a drill never uses it."""

    def production_groups(self) -> dict[str, str]:
        """Each resource group (lower case: Azure compares them so) that holds production -> its first resource, e.g. "VM sql-01"."""
        found: dict[str, str] = {}
        for net in self.networks:
            if group := net.resource_group or self.resource_group:
                found.setdefault(group.lower(), f"network {net.name}")
        for vm in self.vms:
            vm_group = vm.resource_group or self.resource_group
            if vm_group:
                found.setdefault(vm_group.lower(), f"VM {vm.name}")
            for disk in vm.disks:
                if group := disk.resource_group or vm_group:
                    found.setdefault(group.lower(), f"disk {disk.name} of VM {vm.name}")
        return found

    def vm(self, name: str) -> VmSpec:
        for vm in self.vms:
            if vm.name == name:
                return vm
        raise KeyError(name)

    def app(self, name: str) -> AppSpec:
        for app in self.apps:
            if app.name == name:
                return app
        raise KeyError(name)

    def select(self, selector: Mapping[str, str]) -> list[VmSpec]:
        """The VMs a selector matches, in estate order."""
        return [vm for vm in self.vms if selector_matches(selector, vm.name, vm.tags)]


# ------------------------------------------------------------------------------- ProtectionPlan


ENHANCED_INTERVALS = frozenset(timedelta(hours=h) for h in (4, 6, 8, 12, 24))
INSTANT_RESTORE_DAYS = {BackupPolicyKind.STANDARD: (1, 5), BackupPolicyKind.ENHANCED: (1, 30)}


class BackupRule(Frozen):
    """Azure Backup for IaaS VMs. Limits: azure/backup/backup-support-matrix-iaas,
    backup-azure-vms-enhanced-policy, backup-instant-restore-capability."""

    policy: BackupPolicyKind
    """standard (one backup a day) or enhanced (every 4-24 h)."""
    every: Duration | None = None
    """Interval: 24h for standard; 4h, 6h, 8h, 12h or 24h for enhanced (default 24h / 4h)."""
    at: TimeOfDay | None = None
    """First backup of the day, "HH:MM" UTC (default 02:00 standard, 08:00 enhanced)."""
    window: Duration | None = None
    """Enhanced policy: the daily window backups run in."""
    instant_restore_days: int | None = None
    """Days recovery points keep their snapshot tier: 1-5 standard (default 2), 1-30 enhanced (default 7)."""
    vault_redundancy: Redundancy = Redundancy.GRS
    """LRS, ZRS or GRS storage of the vault."""
    cross_region_restore: bool = False
    """Allow restores in the paired region (needs GRS)."""
    retention_days: int = Field(default=30, ge=7, le=9999)
    """Days the vault keeps daily points."""

    # Each limit is checked on its own field, so that every broken limit is reported at its key.
    # Fields declared earlier (policy, vault_redundancy) are in info.data when they were valid.

    @field_validator("every")
    @classmethod
    def _every_fits_policy(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        policy = info.data.get("policy")
        if value is None or policy is None:
            return value
        if policy is BackupPolicyKind.STANDARD and value != timedelta(hours=24):
            # Standard policy: one scheduled backup a day (backup-support-matrix-iaas).
            raise ValueError("a standard backup policy runs once a day: every must be 24h (use policy: enhanced for 4h-12h)")
        if policy is BackupPolicyKind.ENHANCED and value not in ENHANCED_INTERVALS:
            # Enhanced policy: every 4, 6, 8, 12 or 24 hours (backup-azure-vms-enhanced-policy).
            raise ValueError("an enhanced backup policy runs every 4h, 6h, 8h, 12h or 24h")
        return value

    @field_validator("instant_restore_days")
    @classmethod
    def _snapshot_days_fit_policy(cls, value: int | None, info: ValidationInfo) -> int | None:
        policy = info.data.get("policy")
        if value is None or policy is None:
            return value
        # Instant-restore retention: standard 1-5 days, enhanced 1-30 (backup-instant-restore-capability).
        low, high = INSTANT_RESTORE_DAYS[policy]
        if not low <= value <= high:
            article = "an" if policy is BackupPolicyKind.ENHANCED else "a"
            raise ValueError(f"must be between {low} and {high} days for {article} {policy.value} policy")
        return value

    @field_validator("cross_region_restore")
    @classmethod
    def _crr_needs_grs(cls, value: bool, info: ValidationInfo) -> bool:
        redundancy = info.data.get("vault_redundancy")
        if value and redundancy is not None and redundancy is not Redundancy.GRS:
            # Cross-region restore needs a GRS vault (azure/reliability/reliability-backup).
            raise ValueError(f"needs vault_redundancy: GRS, not {redundancy.value}")
        return value

    @property
    def interval(self) -> timedelta:
        if self.every is not None:
            return self.every
        return timedelta(hours=24 if self.policy is BackupPolicyKind.STANDARD else 4)

    @property
    def start(self) -> time:
        """First backup of the day (UTC). Enhanced policies default to 08:00 (enhanced policy page)."""
        if self.at is not None:
            return self.at
        return time(2, 0) if self.policy is BackupPolicyKind.STANDARD else time(8, 0)

    @property
    def snapshot_days(self) -> int:
        if self.instant_restore_days is not None:
            return self.instant_restore_days
        return 2 if self.policy is BackupPolicyKind.STANDARD else 7


class SiteRecoveryRule(Frozen):
    """Azure Site Recovery, Azure to Azure (azure-to-azure-common-questions)."""

    target_region: Region
    """Region the VMs replicate to."""
    app_consistent_every: Duration | None = None
    """Interval of app-consistent points (at least 1h); leave out for crash-consistent only."""
    retention: Duration = timedelta(hours=24)
    """How long recovery points are kept (at most 15d)."""
    consistency_group: Name | None = None
    """Multi-VM consistency group name (at most 16 VMs)."""

    @field_validator("app_consistent_every")
    @classmethod
    def _app_consistent_hourly(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(hours=1):
            # App-consistent snapshots at most once an hour (azure-to-azure-common-questions).
            raise ValueError("must be at least 1h: Site Recovery takes app-consistent points at most hourly")
        return value

    @field_validator("retention")
    @classmethod
    def _retention_limit(cls, value: timedelta) -> timedelta:
        if value > timedelta(days=15):
            # Recovery points are kept at most 15 days with managed disks (A2A FAQ).
            raise ValueError("must be at most 15d: Site Recovery keeps recovery points at most 15 days")
        return value


class SnapshotRule(Frozen):
    """Scheduled managed-disk snapshots (one per disk; disks-incremental-snapshots)."""

    every: Duration
    """Interval of scheduled snapshots (at least 1h)."""
    incremental: bool = True
    """Incremental snapshots (needed for cross-region copy)."""
    retain: int = Field(default=1, ge=1, le=500)
    """How many snapshots of each disk are kept."""
    copy_to_region: Region | None = None
    """Copy every snapshot to this region."""
    at: TimeOfDay | None = None
    """First snapshot of the day, "HH:MM" UTC."""

    @field_validator("every")
    @classmethod
    def _hourly_at_most(cls, value: timedelta) -> timedelta:
        if value < timedelta(hours=1):
            raise ValueError("must be at least 1h: scheduled snapshots run at most once an hour")
        return value

    @field_validator("copy_to_region")
    @classmethod
    def _copy_is_incremental(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("incremental") is False:
            # Only incremental snapshots copy across regions (disks-copy-incremental-snapshot-across-regions).
            raise ValueError("needs incremental: true: only incremental snapshots copy across regions")
        return value


class ImageRule(Frozen):
    """Keep a managed image of a generalized VM in these regions (images are regional)."""

    regions: tuple[Region, ...] = Field(min_length=1)
    """Regions that keep a managed image of the VM."""


class PlanRule(Frozen):
    """The protection of the VMs a selector matches."""

    vms: Selector
    """Selector: the VMs this rule protects."""
    backup: BackupRule | None = None
    """Azure Backup."""
    site_recovery: SiteRecoveryRule | None = None
    """Azure Site Recovery replication."""
    snapshots: SnapshotRule | None = None
    """Scheduled managed-disk snapshots."""
    image: ImageRule | None = None
    """A managed image of a generalized VM."""

    @model_validator(mode="after")
    def _protects_something(self) -> PlanRule:
        if not (self.backup or self.site_recovery or self.snapshots or self.image):
            raise ValueError("a rule needs at least one of backup, site_recovery, snapshots, image")
        return self


class ProtectionPlan(Document):
    """How an estate is protected: rules of Backup, Site Recovery, snapshots and images."""

    kind: Literal["ProtectionPlan"]
    """ProtectionPlan."""
    rules: tuple[PlanRule, ...] = Field(min_length=1)
    """A VM takes every rule whose selector matches it."""


# ----------------------------------------------------------------------------------------- Runbook


class Scenario(Frozen):
    """The disaster a runbook recovers from, and what it hits."""

    incident: IncidentKind
    """What happens: region-outage, vm-loss, disk-failure, data-corruption, ransomware or accidental-delete."""
    region: Region | None = None
    """The region lost (region-outage only)."""
    vms: Selector | None = None
    """Selector of the VMs hit (every other incident)."""
    detected_after: NonNegativeDuration = timedelta(0)
    """Time until the incident is noticed (data-corruption, ransomware)."""

    @model_validator(mode="after")
    def _target(self) -> Scenario:
        if self.incident is IncidentKind.REGION_OUTAGE:
            if self.region is None:
                raise KeyProblem(("incident",), "a region-outage scenario needs region")
            if self.vms is not None:
                raise KeyProblem(("vms",), "a region-outage scenario takes region, not vms")
        else:
            if self.vms is None:
                raise KeyProblem(("incident",), f"a {self.incident.value} scenario needs vms: <selector>")
            if self.region is not None:
                raise KeyProblem(("region",), f"a {self.incident.value} scenario takes vms, not region")
        if self.detected_after and self.incident not in (IncidentKind.DATA_CORRUPTION, IncidentKind.RANSOMWARE):
            raise KeyProblem(("detected_after",), "applies only to data-corruption and ransomware")
        return self


class Objective(Frozen):
    """The RTO and RPO an application must meet (either may be left out)."""

    app: Name
    """The application."""
    rto: Duration | None = None
    """Recovery time objective: longest acceptable time from incident to healthy."""
    rpo: NonNegativeDuration | None = None
    """Recovery point objective: most data (as time) that may be lost."""

    @model_validator(mode="after")
    def _something(self) -> Objective:
        if self.rto is None and self.rpo is None:
            raise ValueError("an objective needs rto, rpo or both")
        return self


class ManualWith(Frozen):
    """A person's action: simulated as taking `duration`."""

    duration: NonNegativeDuration
    """How long the person takes (simulated world)."""
    who: str | None = None
    """The role that acts."""


class IsolateWith(Frozen):
    """An isolated network for recovered VMs: no peering, no gateway, outbound denied."""

    region: Region
    """Region of the isolated network."""
    cidr: Cidr
    """Its address space; must not overlap production there."""
    peer_with: tuple[Name, ...] = ()
    """Must be empty: a drill network is never peered with production (refused at validation)."""
    allow_outbound: bool = False
    """Must be false: a drill network never has outbound access (refused at validation)."""

    # The engine refuses both at run time too (DESIGN.md, safety rules); validation says so first.

    @field_validator("peer_with")
    @classmethod
    def _never_peered(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value:
            raise ValueError("a drill network is never peered with production: remove peer_with")
        return value

    @field_validator("allow_outbound")
    @classmethod
    def _never_outbound(cls, value: bool) -> bool:
        if value:
            raise ValueError("a drill network never has outbound access: remove allow_outbound (or set it to false)")
        return value


class NetworkTarget(Frozen):
    network: StepId
    """Id of the network.isolate step whose network receives the recovered VMs."""


class AsrWith(NetworkTarget):
    """Test failover of replicated VMs into the isolated network, in the replication target region."""

    vms: Selector
    """Selector of the replicated VMs to fail over."""
    recovery_point: ReplicationPointChoice = ReplicationPointChoice.LATEST_PROCESSED
    """latest, latest-processed, latest-app-consistent, or latest-multi-vm-processed (the newest processed point
    its multi-VM consistency group shares: every VM of the group at one instant, fixed by the first VM of the group
    to choose and journaled as `group.instant`, which a resumed run keeps; each VM must be in a group)."""


class BackupWith(NetworkTarget):
    """Restore a backup recovery point of each VM as a new VM (or disks) in the isolated network."""

    vms: Selector
    """Selector of the backed-up VMs to restore."""
    point: BackupPointChoice = BackupPointChoice.LATEST
    """latest, latest-app-consistent or before-incident (the last clean point)."""
    tier: BackupTier = BackupTier.AUTO
    """auto, snapshot or vault."""
    restore_as: RestoreAs = Field(default=RestoreAs.VM, alias="as")
    """vm (a new VM) or disks (managed disks only)."""
    region: Region | None = None
    """Restore in this region by cross-region restore (default: the VM's region)."""


class SnapshotCloneWith(NetworkTarget):
    """Create disks from snapshots of each VM and a VM from them in the isolated network."""

    vms: Selector
    """Selector of the VMs to clone."""
    source: SnapshotSource = SnapshotSource.SCHEDULED
    """scheduled (the plan's last snapshots) or fresh (snapshot production now, disk by disk)."""


class ImageDeployWith(NetworkTarget):
    """Create VMs from the managed image of a generalized VM."""

    image_of: Name
    """The generalized VM whose image is deployed."""
    vms: Selector | None = None
    """The VMs it rebuilds: one new VM each."""
    count: int | None = Field(default=None, ge=1, le=1000)
    """Or: how many VMs to create."""
    region: Region
    """Region to deploy in (the image must be kept there)."""

    @model_validator(mode="after")
    def _vms_or_count(self) -> ImageDeployWith:
        if (self.vms is None) == (self.count is None):
            raise ValueError("image.deploy takes either vms (the VMs it rebuilds) or count, not both")
        return self


class CheckBootWith(Frozen):
    """Check that the recovered counterparts of these VMs are running."""

    vms: Selector
    """Selector: checks the recovered counterparts of these VMs."""


class CheckCanaryWith(Frozen):
    """Read the newest canary on the recovered data and check volume consistency."""

    app: Name | None = None
    """The application whose recovered data is read."""
    vms: Selector | None = None
    """Or: a selector of VMs."""
    consecutive: int = Field(default=1, ge=1, le=100)
    """Passing checks in a row needed for healthy."""

    @model_validator(mode="after")
    def _app_or_vms(self) -> CheckCanaryWith:
        if (self.app is None) == (self.vms is None):
            raise ValueError("check.canary takes either app or vms, not both")
        return self


class WaitWith(Frozen):
    """Wait (a soak time, a propagation delay)."""

    duration: Duration
    """How long to wait."""


class StepBase(Frozen):
    id: StepId
    """Step id, unique in the runbook."""
    needs: tuple[StepId, ...] = ()
    """Ids of steps that must finish first."""
    timeout: Duration | None = None
    """Give up on one attempt after this long."""
    retries: int = Field(default=0, ge=0, le=10)
    """Further attempts after a failure (0-10)."""
    allow_failure: bool = False
    """A failure of this step does not fail the drill."""


class ManualDeclareStep(StepBase):
    action: Literal["manual.declare"]
    with_: ManualWith = Field(alias="with")


class ManualApproveStep(StepBase):
    action: Literal["manual.approve"]
    with_: ManualWith = Field(alias="with")


class IsolateStep(StepBase):
    action: Literal["network.isolate"]
    with_: IsolateWith = Field(alias="with")


class AsrStep(StepBase):
    action: Literal["asr.test_failover"]
    with_: AsrWith = Field(alias="with")


class BackupStep(StepBase):
    action: Literal["backup.restore"]
    with_: BackupWith = Field(alias="with")


class SnapshotCloneStep(StepBase):
    action: Literal["snapshot.clone"]
    with_: SnapshotCloneWith = Field(alias="with")


class ImageDeployStep(StepBase):
    action: Literal["image.deploy"]
    with_: ImageDeployWith = Field(alias="with")


class CheckBootStep(StepBase):
    action: Literal["check.boot"]
    with_: CheckBootWith = Field(alias="with")


class CheckCanaryStep(StepBase):
    action: Literal["check.canary"]
    with_: CheckCanaryWith = Field(alias="with")


class WaitStep(StepBase):
    action: Literal["wait"]
    with_: WaitWith = Field(alias="with")


Step = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads better spelled out
        ManualDeclareStep,
        ManualApproveStep,
        IsolateStep,
        AsrStep,
        BackupStep,
        SnapshotCloneStep,
        ImageDeployStep,
        CheckBootStep,
        CheckCanaryStep,
        WaitStep,
    ],
    Field(discriminator="action"),
]


class Runbook(Document):
    """How to recover from one kind of disaster: scenario, objectives, steps and cleanup."""

    kind: Literal["Runbook"]
    """Runbook."""
    scenario: Scenario
    """The disaster this runbook recovers from."""
    objectives: tuple[Objective, ...] = ()
    """RTO/RPO per application."""
    steps: tuple[Step, ...] = Field(min_length=1)
    """The recovery steps (a graph through needs)."""
    cleanup: CleanupPolicy = CleanupPolicy.ALWAYS
    """always, on-success or never: delete what the drill created."""

    def step(self, step_id: str) -> StepBase:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


# ------------------------------------------------------------------------------------------- Drill


def _aware_in_range(value: datetime) -> datetime:
    """A document's time: with its zone, within the years drsim simulates."""
    if value.tzinfo is None:
        raise ValueError("a time needs a timezone: write it in UTC with a Z, e.g. 2026-11-20T14:00:00Z")
    if (problem := instant_out_of_range(value)) is not None:
        raise ValueError(problem)
    return value


def _window_start_fits(window_end: datetime | None, info: ValidationInfo) -> datetime | None:
    """The incident window (window before window_end) starts within the years drsim simulates."""
    window = info.data.get("window")
    if window_end is not None and window_end.tzinfo is not None and isinstance(window, timedelta) and not instant_out_of_range(window_end):
        start = window_end - window
        if instant_out_of_range(start) is not None:
            raise ValueError(f"the {format_duration(window)} window before it starts on {start:%Y-%m-%d}: drsim simulates 1970 to 2199")
    return window_end


def _point_in_time(value: object, *, allow_random: bool) -> object:
    """A datetime from YAML's timestamp or an ISO string, with a message a person can act on."""
    if isinstance(value, datetime) or value is None or (allow_random and value == "random"):
        return value
    if isinstance(value, date):
        raise ValueError(f"{value} is a date: give the time too, in UTC, e.g. {value}T14:00:00Z")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    hint = " or random" if allow_random else ""
    raise ValueError(f"{value!r} is not a time: write it in UTC as 2026-11-20T14:00:00Z{hint}")


class Evidence(Frozen):
    """What the drill's evidence bundle is for."""

    controls: tuple[Annotated[str, Field(pattern=CONTROL_PATTERN)], ...] = ()
    """Control ids the drill gives evidence for, e.g. iso27001-2022:A.5.30."""
    sign_key: str | None = None
    """Key file to sign the evidence bundle with."""


class Participant(Frozen):
    """A person expected to take part in a drill: who may declare the disaster and approve its steps."""

    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    """The person's name, as they give it when they act (compared without regard to case)."""
    role: str = Field(min_length=1, max_length=100, pattern=r"\S")
    """Their role in the drill, e.g. incident commander."""


class SimOptions(Frozen):
    """Options of the simulated world (all optional)."""

    calibration: str | None = None
    """Timing catalog file overriding the built-in one."""
    failure_rate: float = Field(default=0.0, ge=0.0, le=0.9)
    """Probability that an operation fails transiently."""
    latency: float = Field(default=1.0, gt=0.0, le=100.0)
    """Multiplier on every simulated duration."""
    throttling: bool = True
    """Simulate ARM throttling."""


class AzureOptions(Frozen):
    """Where a drill against real Azure (or the ARM emulator) runs."""

    subscription_id: Annotated[str, Field(pattern=SUBSCRIPTION_PATTERN)]
    """The subscription (a GUID) holding the estate."""
    resource_group: str = Field(min_length=1, max_length=90, description="resource group for the drill's own resources")
    backup_vault: str | None = None
    """Recovery Services vault of Azure Backup."""
    site_recovery_vault: str | None = None
    """Recovery Services vault of Site Recovery."""
    vault_resource_group: str | None = None
    """Resource group of the vaults (default: resource_group)."""
    endpoint: str | None = Field(default=None, description="ARM endpoint; only for the drsim ARM emulator")
    staging_storage_account: str | None = Field(
        default=None, description="storage account id where Azure Backup stages vault-tier restores (docs/azure.md)"
    )
    crr_staging_storage_account: str | None = Field(
        default=None,
        description="storage account id where a cross-region restore stages: in the vault's secondary (paired) region (docs/azure.md)",
    )

    @field_validator("endpoint")
    @classmethod
    def _only_arm_or_emulator(cls, value: str | None) -> str | None:
        # Credentials go only to Azure Resource Manager, or a fixed token to the emulator on loopback.
        if value is not None and (problem := endpoint_problem(value)) is not None:
            raise ValueError(problem)
        return value


class Drill(Document):
    """One rehearsal: a runbook run against an estate and its protection plan, at one incident time."""

    kind: Literal["Drill"]
    """Drill."""
    runbook: str
    """Path of the runbook, relative to this file."""
    estate: str
    """Path of the estate, relative to this file."""
    plan: str
    """Path of the protection plan, relative to this file."""
    provider: ProviderKind = ProviderKind.SIM
    """sim (simulated Azure) or azure."""
    incident_at: datetime | Literal["random"]
    """When the incident happens (UTC), or random within window."""
    window: Duration = timedelta(days=30)
    """With incident_at: random, the span the time is drawn from."""
    window_end: datetime | None = None
    """End of that window (default: now, to the day: a rerun the same UTC day draws the same time)."""
    seed: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)
    """Seed of every random choice: same seed, same run."""
    concurrency: int = Field(default=50, ge=1, le=10000)
    """Most operations in flight at once."""
    evidence: Evidence = Field(default_factory=Evidence)
    """Compliance evidence options."""
    sim: SimOptions = Field(default_factory=SimOptions)
    """Options of the simulated world."""
    azure: AzureOptions | None = None
    """Where a drill against Azure runs (default: from the environment, docs/azure.md)."""
    participants: tuple[Participant, ...] = ()
    """Who may declare and approve in a real-time run; empty: anyone who gives a name."""

    @field_validator("participants")
    @classmethod
    def _each_once(cls, value: tuple[Participant, ...]) -> tuple[Participant, ...]:
        seen: set[str] = set()
        for person in value:
            key = " ".join(person.name.split()).casefold()
            if key in seen:
                raise ValueError(f"{person.name} is listed twice")
            seen.add(key)
        return value

    @field_validator("incident_at", "window_end", mode="before")
    @classmethod
    def _a_time(cls, value: object, info: ValidationInfo) -> object:
        return _point_in_time(value, allow_random=info.field_name == "incident_at")

    @field_validator("window_end")
    @classmethod
    def _window_starts_in_range(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _window_start_fits(value, info)

    @field_validator("incident_at", "window_end")
    @classmethod
    def _utc(cls, value: datetime | str | None) -> datetime | str | None:
        return _aware_in_range(value) if isinstance(value, datetime) else value


# -------------------------------------------------------------------------------------- Comparison


class Candidate(Frozen):
    """One protection plan and the runbook that recovers with it."""

    name: Name
    """Candidate name in the ranking."""
    plan: str
    """Path of its protection plan."""
    runbook: str
    """Path of the runbook that recovers with it."""


class Comparison(Document):
    """Many simulated drills per candidate plan, ranked by recovery time, data loss and cost."""

    kind: Literal["Comparison"]
    """Comparison."""
    estate: str
    """Path of the estate, relative to this file."""
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    """Plan and runbook pairs to compare."""
    trials: int = Field(default=100, ge=1, le=1_000_000)
    """Simulated drills per candidate."""
    window: Duration = timedelta(days=30)
    """Incident times are drawn uniformly over this span."""
    window_end: datetime | None = None
    """End of the window (default: today 00:00 UTC)."""
    seed: int = Field(default=0, ge=0, le=2**63 - 1, strict=True)
    """Seed of the trials."""
    scenario: Scenario | None = None
    """The incident every candidate faces, whatever its runbook's scenario says."""
    objectives: tuple[Objective, ...] | None = Field(default=None, min_length=1)
    """RTO/RPO per app every candidate is judged against; replaces the runbook's objective for each app named."""
    mixed: bool = False
    """Allow candidates that face different incidents or objectives; every table and chart then labels them."""

    @field_validator("window_end", mode="before")
    @classmethod
    def _a_time(cls, value: object) -> object:
        return _point_in_time(value, allow_random=False)

    @model_validator(mode="after")
    def _mixed_or_stated(self) -> Comparison:
        if self.mixed and self.scenario is not None and self.objectives is not None:
            raise KeyProblem(("mixed",), "true has no effect when scenario and objectives are both stated: leave it out")
        return self

    @field_validator("window_end")
    @classmethod
    def _window_starts_in_range(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return _window_start_fits(value, info)

    @field_validator("window_end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return _aware_in_range(value) if value is not None else None


KINDS: dict[str, type[Document]] = {
    "Estate": Estate,
    "ProtectionPlan": ProtectionPlan,
    "Runbook": Runbook,
    "Drill": Drill,
    "Comparison": Comparison,
}
