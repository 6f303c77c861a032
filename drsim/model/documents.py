"""The five drsim documents as immutable pydantic models, exactly as FORMAT.md writes them.

Checks that need only one object live here as validators; checks that span a whole document or
several documents live in `drsim.model.checks`, where every problem is located in its YAML file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from ipaddress import IPv4Network
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from drsim.model.types import (
    CONTROL_PATTERN,
    SUBSCRIPTION_PATTERN,
    VM_SIZE_PATTERN,
    BackupPointChoice,
    BackupPolicyKind,
    BackupTier,
    CleanupPolicy,
    Duration,
    IncidentKind,
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
    selector_matches,
)

API_VERSION = "drsim/v1"


class Frozen(BaseModel):
    """Base of every document part: unknown keys are errors, nothing changes once loaded."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_enum_values=False)


class Metadata(Frozen):
    name: Name
    description: str | None = None
    labels: Tags = Field(default_factory=dict)


class Document(Frozen):
    api_version: Literal["drsim/v1"] = Field(alias="apiVersion")
    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name


# --------------------------------------------------------------------------------------- Estate


class Regions(Frozen):
    primary: Region
    recovery: Region

    @model_validator(mode="after")
    def _distinct(self) -> Regions:
        if self.primary == self.recovery:
            raise ValueError("the recovery region must differ from the primary region")
        return self


class NetworkSpec(Frozen):
    """A production virtual network (read-only to every drill)."""

    name: Name
    region: Region
    cidr: IPv4Network
    peerings: tuple[Name, ...] = ()
    gateway: bool = False


class DiskSpec(Frozen):
    """A managed disk. The first disk of a VM is its OS disk."""

    name: Name
    size_gib: int = Field(gt=0, le=65536)
    used_gib: float = Field(ge=0)
    churn_gib_per_day: float = Field(default=0.0, ge=0)
    sku: Literal["Standard_LRS", "StandardSSD_LRS", "Premium_LRS", "PremiumV2_LRS", "UltraSSD_LRS"] = "Premium_LRS"

    @model_validator(mode="after")
    def _used_fits(self) -> DiskSpec:
        if self.used_gib > self.size_gib:
            raise ValueError(f"used_gib ({self.used_gib:g}) is larger than size_gib ({self.size_gib})")
        return self


class VolumeSpec(Frozen):
    """A guest volume: one disk, or several disks striped together."""

    name: Name
    disks: tuple[Name, ...] = Field(min_length=1)
    layout: VolumeLayout = VolumeLayout.SINGLE

    @model_validator(mode="after")
    def _layout_fits(self) -> VolumeSpec:
        if self.layout is VolumeLayout.SINGLE and len(self.disks) != 1:
            raise ValueError("a single-layout volume has exactly one disk; use layout: striped for several")
        if self.layout is VolumeLayout.STRIPED and len(self.disks) < 2:
            raise ValueError("a striped volume needs at least two disks")
        return self


class VmSpec(Frozen):
    name: Name
    os: OsType
    size: Annotated[str, Field(pattern=VM_SIZE_PATTERN)]
    region: Region
    network: Name
    tags: Tags = Field(default_factory=dict)
    disks: tuple[DiskSpec, ...] = Field(min_length=1)
    volumes: tuple[VolumeSpec, ...] = ()
    generalized: bool = False
    power: PowerState = PowerState.RUNNING

    @model_validator(mode="after")
    def _generalized_is_deallocated(self) -> VmSpec:
        # A generalized VM cannot be started again (azure-facts.md, Images; capture-image-resource).
        if self.generalized and self.power is PowerState.RUNNING:
            raise ValueError("a generalized VM cannot be running: set power: deallocated")
        return self

    @property
    def used_gib(self) -> float:
        return sum(d.used_gib for d in self.disks)

    @property
    def size_gib(self) -> int:
        return sum(d.size_gib for d in self.disks)


class AppSpec(Frozen):
    name: Name
    vms: Selector
    depends_on: tuple[Name, ...] = ()


class Estate(Document):
    kind: Literal["Estate"]
    regions: Regions
    networks: tuple[NetworkSpec, ...] = Field(min_length=1)
    vms: tuple[VmSpec, ...] = Field(min_length=1)
    apps: tuple[AppSpec, ...] = ()

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
    every: Duration | None = None
    at: TimeOfDay | None = None
    window: Duration | None = None
    instant_restore_days: int | None = None
    vault_redundancy: Redundancy = Redundancy.GRS
    cross_region_restore: bool = False
    retention_days: int = Field(default=30, ge=7, le=9999)

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
    app_consistent_every: Duration | None = None
    retention: Duration = timedelta(hours=24)
    consistency_group: Name | None = None

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
    incremental: bool = True
    retain: int = Field(default=1, ge=1, le=500)
    copy_to_region: Region | None = None
    at: TimeOfDay | None = None

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


class PlanRule(Frozen):
    vms: Selector
    backup: BackupRule | None = None
    site_recovery: SiteRecoveryRule | None = None
    snapshots: SnapshotRule | None = None
    image: ImageRule | None = None

    @model_validator(mode="after")
    def _protects_something(self) -> PlanRule:
        if not (self.backup or self.site_recovery or self.snapshots or self.image):
            raise ValueError("a rule needs at least one of backup, site_recovery, snapshots, image")
        return self


class ProtectionPlan(Document):
    kind: Literal["ProtectionPlan"]
    rules: tuple[PlanRule, ...] = Field(min_length=1)


# ----------------------------------------------------------------------------------------- Runbook


class Scenario(Frozen):
    incident: IncidentKind
    region: Region | None = None
    vms: Selector | None = None
    detected_after: NonNegativeDuration = timedelta(0)

    @model_validator(mode="after")
    def _target(self) -> Scenario:
        if self.incident is IncidentKind.REGION_OUTAGE:
            if self.region is None:
                raise ValueError("a region-outage scenario needs region")
            if self.vms is not None:
                raise ValueError("a region-outage scenario takes region, not vms")
        else:
            if self.vms is None:
                raise ValueError(f"a {self.incident.value} scenario needs vms: <selector>")
            if self.region is not None:
                raise ValueError(f"a {self.incident.value} scenario takes vms, not region")
        if self.detected_after and self.incident not in (IncidentKind.DATA_CORRUPTION, IncidentKind.RANSOMWARE):
            raise ValueError("detected_after applies only to data-corruption and ransomware")
        return self


class Objective(Frozen):
    app: Name
    rto: Duration | None = None
    rpo: NonNegativeDuration | None = None

    @model_validator(mode="after")
    def _something(self) -> Objective:
        if self.rto is None and self.rpo is None:
            raise ValueError("an objective needs rto, rpo or both")
        return self


class ManualWith(Frozen):
    duration: NonNegativeDuration
    who: str | None = None


class IsolateWith(Frozen):
    region: Region
    cidr: IPv4Network
    peer_with: tuple[Name, ...] = ()
    allow_outbound: bool = False


class NetworkTarget(Frozen):
    network: StepId


class AsrWith(NetworkTarget):
    vms: Selector
    recovery_point: ReplicationPointChoice = ReplicationPointChoice.LATEST_PROCESSED


class BackupWith(NetworkTarget):
    vms: Selector
    point: BackupPointChoice = BackupPointChoice.LATEST
    tier: BackupTier = BackupTier.AUTO
    restore_as: RestoreAs = Field(default=RestoreAs.VM, alias="as")
    region: Region | None = None


class SnapshotCloneWith(NetworkTarget):
    vms: Selector
    source: SnapshotSource = SnapshotSource.SCHEDULED


class ImageDeployWith(NetworkTarget):
    image_of: Name
    vms: Selector | None = None
    count: int | None = Field(default=None, ge=1, le=1000)
    region: Region

    @model_validator(mode="after")
    def _vms_or_count(self) -> ImageDeployWith:
        if (self.vms is None) == (self.count is None):
            raise ValueError("image.deploy takes either vms (the VMs it rebuilds) or count, not both")
        return self


class CheckBootWith(Frozen):
    vms: Selector


class CheckCanaryWith(Frozen):
    app: Name | None = None
    vms: Selector | None = None
    consecutive: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _app_or_vms(self) -> CheckCanaryWith:
        if (self.app is None) == (self.vms is None):
            raise ValueError("check.canary takes either app or vms, not both")
        return self


class WaitWith(Frozen):
    duration: Duration


class StepBase(Frozen):
    id: StepId
    needs: tuple[StepId, ...] = ()
    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=10)
    allow_failure: bool = False


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
RECOVERY_ACTIONS = frozenset({"asr.test_failover", "backup.restore", "snapshot.clone", "image.deploy"})


class Runbook(Document):
    kind: Literal["Runbook"]
    scenario: Scenario
    objectives: tuple[Objective, ...] = ()
    steps: tuple[Step, ...] = Field(min_length=1)
    cleanup: CleanupPolicy = CleanupPolicy.ALWAYS

    def step(self, step_id: str) -> StepBase:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


# ------------------------------------------------------------------------------------------- Drill


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
    controls: tuple[Annotated[str, Field(pattern=CONTROL_PATTERN)], ...] = ()
    sign_key: str | None = None


class SimOptions(Frozen):
    """Options of the simulated world (all optional)."""

    calibration: str | None = None
    failure_rate: float = Field(default=0.0, ge=0.0, le=0.9)
    latency: float = Field(default=1.0, gt=0.0, le=100.0)
    throttling: bool = True


class AzureOptions(Frozen):
    """Where a drill against real Azure (or the ARM emulator) runs."""

    subscription_id: Annotated[str, Field(pattern=SUBSCRIPTION_PATTERN)]
    resource_group: str = Field(min_length=1, max_length=90, description="resource group for the drill's own resources")
    backup_vault: str | None = None
    site_recovery_vault: str | None = None
    vault_resource_group: str | None = None
    endpoint: str | None = Field(default=None, description="ARM endpoint; only for the drsim ARM emulator")
    staging_storage_account: str | None = Field(
        default=None, description="storage account id where Azure Backup stages vault-tier restores (docs/azure.md)"
    )


class Drill(Document):
    kind: Literal["Drill"]
    runbook: str
    estate: str
    plan: str
    provider: ProviderKind = ProviderKind.SIM
    incident_at: datetime | Literal["random"]
    window: Duration = timedelta(days=30)
    window_end: datetime | None = None
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    concurrency: int = Field(default=50, ge=1, le=10000)
    evidence: Evidence = Field(default_factory=Evidence)
    sim: SimOptions = Field(default_factory=SimOptions)
    azure: AzureOptions | None = None

    @field_validator("incident_at", "window_end", mode="before")
    @classmethod
    def _a_time(cls, value: object, info: ValidationInfo) -> object:
        return _point_in_time(value, allow_random=info.field_name == "incident_at")

    @field_validator("incident_at", "window_end")
    @classmethod
    def _utc(cls, value: datetime | str | None) -> datetime | str | None:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a time needs a timezone: write it in UTC with a Z, e.g. 2026-11-20T14:00:00Z")
        return value

    @model_validator(mode="after")
    def _provider_options(self) -> Drill:
        if self.provider is ProviderKind.AZURE and self.azure is None:
            raise ValueError("provider: azure needs an azure: {subscription_id, resource_group, ...} block")
        return self


# -------------------------------------------------------------------------------------- Comparison


class Candidate(Frozen):
    name: Name
    plan: str
    runbook: str


class Comparison(Document):
    kind: Literal["Comparison"]
    estate: str
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    trials: int = Field(default=100, ge=1, le=1_000_000)
    window: Duration = timedelta(days=30)
    window_end: datetime | None = None
    seed: int = Field(default=0, ge=0, le=2**63 - 1)

    @field_validator("window_end", mode="before")
    @classmethod
    def _a_time(cls, value: object) -> object:
        return _point_in_time(value, allow_random=False)

    @field_validator("window_end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a time needs a timezone: write it in UTC with a Z")
        return value


KINDS: dict[str, type[Document]] = {
    "Estate": Estate,
    "ProtectionPlan": ProtectionPlan,
    "Runbook": Runbook,
    "Drill": Drill,
    "Comparison": Comparison,
}
