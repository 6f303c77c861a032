"""The world behind the emulator: what it must offer, and how `drsim emulator serve` builds one.

The emulator serves any world that implements the provider Protocol (drsim.cloud.api) plus the
listings ARM needs and the Protocol does not carry: vaults, protected and replicated items, virtual
networks and security groups (`inventory`), ARM's request buckets (`throttle`) and starting a VM.
`SimProvider` is that world; `build_world` makes one from documents on a ScaledClock, so that world
time runs `speed` times faster than real time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from drsim.clock import ScaledClock
from drsim.cloud.api import CloudProvider, Image, ManagedDisk, VirtualMachine
from drsim.cloud.arm import ArmThrottle
from drsim.cloud.sim.catalog import Catalog
from drsim.cloud.sim.incidents import IncidentSpec, incident_from_scenario
from drsim.cloud.sim.resources import NetworkState, NsgState, ProtectedItem, ReplicatedItem, Vault
from drsim.errors import UsageError
from drsim.model.documents import Estate, ProtectionPlan
from drsim.model.types import IncidentKind, parse_instant

DEFAULT_SPEED = 60.0
"""World seconds per real second when `--speed` is not given: a 25-minute restore takes 25 s."""
MIN_SPEED, MAX_SPEED = 0.01, 10_000.0
"""The speeds `drsim emulator serve` takes: slower, a 10 s poll hint outgrows any client's patience;
faster, a world served for ten months would run past the year 9999, where Python's datetime ends."""

QUIET_REGION = "none"
"""The region of the stand-in incident of a world built without a runbook: no resource lives there."""


class WorldInventory(Protocol):
    """Listings beyond the provider Protocol that ARM answers (SimProvider.inventory)."""

    def vaults(self) -> list[Vault]: ...
    def protected_items(self, vault_id: str | None = None) -> list[ProtectedItem]: ...
    def replicated_items(self, vault_id: str | None = None) -> list[ReplicatedItem]: ...
    def vault_reachable(self, vault_id: str) -> bool: ...
    def networks(self) -> list[NetworkState]: ...
    def security_groups(self) -> list[NsgState]: ...
    def disk_sku(self, disk_id: str) -> str | None: ...
    def origin(self, resource_id: str) -> tuple[str, str | None] | None: ...


class EmulatedWorld(CloudProvider, Protocol):
    """A CloudProvider-shaped world the emulator can serve."""

    estate: Estate
    plan: ProtectionPlan
    catalog: Catalog  # its ARM request limits (catalog.arm)
    throttle: ArmThrottle

    @property
    def inventory(self) -> WorldInventory: ...

    # What ARM serves beyond what a drill calls: the world's time, every disk, and capturing an image.
    def now(self) -> datetime: ...
    async def list_disks(self, vm_id: str | None = None) -> list[ManagedDisk]: ...
    async def deallocate_vm(self, vm_id: str) -> None: ...
    async def generalize_vm(self, vm_id: str) -> None: ...
    async def create_image(self, vm_id: str, *, name: str, region: str, tags: Mapping[str, str]) -> Image: ...

    async def start_vm(self, vm_id: str) -> VirtualMachine: ...


DEFAULT_PAGE_SIZE = 2
"""Items per page of every list (small, so that every client pages through nextLink)."""
DEFAULT_VCPU_QUOTA = 100
"""Total regional vCPUs the subscription may run per region (the `cores` usage of Usage_List)."""
STAGING_SKUS = ("Standard_LRS", "Standard_GRS", "Standard_RAGRS", "Standard_ZRS", "Premium_LRS")


@dataclass(frozen=True)
class StorageAccountSpec:
    """A storage account the emulator serves (a Backup staging account): `name:group:region[:sku]`."""

    name: str
    group: str
    region: str
    sku: str = "Standard_LRS"

    @staticmethod
    def parse(text: str) -> StorageAccountSpec:
        parts = text.split(":")
        if len(parts) not in (3, 4) or not all(parts):
            raise UsageError(
                f"--storage-account {text}: write NAME:RESOURCE_GROUP:REGION[:SKU], e.g. stdrsim:drsim-drills:eastus2:Standard_LRS"
            )
        spec = StorageAccountSpec(*parts)
        if spec.sku not in STAGING_SKUS:
            raise UsageError(f"--storage-account {text}: SKU {spec.sku} is not one of {', '.join(STAGING_SKUS)}")
        return spec


@dataclass(frozen=True)
class ArmSettings:
    """How the emulator plays ARM beyond the world: list page size, which resource groups the drill
    identity may write (empty: the drill's group only, as docs/azure.md's roles give), the regional vCPU
    quota, and the storage accounts it serves."""

    page_size: int = DEFAULT_PAGE_SIZE
    writable_groups: tuple[str, ...] = ()
    vcpu_quota: int = DEFAULT_VCPU_QUOTA
    storage_accounts: tuple[StorageAccountSpec, ...] = ()

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise UsageError(f"--page-size must be 1 or more, got {self.page_size}")
        if self.vcpu_quota < 0:
            raise UsageError(f"--vcpu-quota must be 0 or more, got {self.vcpu_quota}")


@dataclass(frozen=True)
class EmulatorOptions:
    """What `drsim emulator serve` is given: documents, seed, speed, the incident time and ARM settings."""

    estate: Path | None = None
    plan: Path | None = None
    drill: Path | None = None
    seed: int | None = None
    speed: float = DEFAULT_SPEED
    incident_at: datetime | None = None
    arm: ArmSettings = ArmSettings()
    calibration: Path | None = None  # a calibration file the world's catalog runs on (docs/simulator.md)

    def __post_init__(self) -> None:
        if self.drill is not None and (self.estate is not None or self.plan is not None):
            raise UsageError("give either --drill or --estate with --plan, not both")
        if self.drill is None and (self.estate is None or self.plan is None):
            raise UsageError("the emulator needs a world: give --drill D, or --estate E and --plan P")
        if not (math.isfinite(self.speed) and MIN_SPEED <= self.speed <= MAX_SPEED):
            raise UsageError(f"--speed must be a number from {MIN_SPEED:g} to {MAX_SPEED:g}, got {self.speed:g}")
        if self.seed is not None and self.seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {self.seed}")
        if self.incident_at is not None and self.incident_at.tzinfo is None:
            raise UsageError(f"--incident-at {self.incident_at.isoformat()} has no time zone: write it in UTC, e.g. 2026-11-20T14:00:00Z")


def parse_incident_at(text: str) -> datetime:
    """`--incident-at`: an ISO 8601 time with its zone (UTC), else UsageError."""
    return parse_instant(text, "--incident-at")


def options_from_cli(
    *,
    estate: str | None,
    plan: str | None,
    drill: str | None,
    seed: int | None,
    speed: float,
    incident_at: str | None,
    page_size: int = DEFAULT_PAGE_SIZE,
    writable_groups: Sequence[str] = (),
    vcpu_quota: int = DEFAULT_VCPU_QUOTA,
    storage_accounts: Sequence[str] = (),
    calibration: str | None = None,
) -> EmulatorOptions:
    """The options of `drsim emulator serve`, checked (UsageError, exit 2, on bad input)."""
    return EmulatorOptions(
        estate=Path(estate) if estate else None,
        plan=Path(plan) if plan else None,
        drill=Path(drill) if drill else None,
        seed=seed,
        speed=speed,
        incident_at=parse_incident_at(incident_at) if incident_at else None,
        arm=ArmSettings(
            page_size=page_size,
            writable_groups=tuple(writable_groups),
            vcpu_quota=vcpu_quota,
            storage_accounts=tuple(StorageAccountSpec.parse(a) for a in storage_accounts),
        ),
        calibration=Path(calibration) if calibration else None,
    )


def quiet_incident(at: datetime) -> IncidentSpec:
    """A world without a runbook suffers nothing: the world needs an incident (it anchors the
    workload's history at `at`), so it gets an outage of a region where nothing lives."""
    return IncidentSpec(kind=IncidentKind.REGION_OUTAGE, at=at, region=QUIET_REGION)


def _now_utc() -> datetime:
    # The emulator's CLI is the one place that meets the wall clock: a world with no incident
    # time starts at the present second.
    return datetime.now(UTC).replace(microsecond=0)


def build_world(options: EmulatorOptions) -> EmulatedWorld:
    """A SimProvider from the options' documents on a ScaledClock starting when the incident is detected.

    Its operations take the durations of the catalog with `options.calibration` applied (else, with
    --drill, the drill's own `sim.calibration`): a world slower or faster than the built-in catalog,
    for testing the twin loop (`drsim calibrate`) end to end."""
    from drsim.cloud.sim.catalog import load_catalog
    from drsim.cloud.sim.drill import calibration_path
    from drsim.cloud.sim.world import build_world as build_sim_world
    from drsim.model.checks import load_drill
    from drsim.model.documents import SimOptions
    from drsim.model.loader import load

    if options.calibration is not None:
        _require_file(options.calibration, "--calibration")
    calibration = options.calibration
    sim_options = SimOptions()
    if options.drill is not None:
        _require_file(options.drill, "--drill")
        bundle = load_drill(options.drill)
        drill = bundle.drill.doc
        estate, plan = bundle.estate.doc, bundle.plan.doc
        at = options.incident_at
        if at is None:
            if not isinstance(drill.incident_at, datetime):
                raise UsageError(f"{options.drill}: incident_at is random; give the instant to serve with --incident-at")
            at = drill.incident_at
        incident = incident_from_scenario(bundle.runbook.doc.scenario, estate, at.astimezone(UTC))
        seed = options.seed if options.seed is not None else drill.seed
        sim_options = drill.sim
        calibration = calibration or calibration_path(bundle)
    else:
        assert options.estate is not None and options.plan is not None
        _require_file(options.estate, "--estate")
        _require_file(options.plan, "--plan")
        estate = load(options.estate, Estate).doc
        plan = load(options.plan, ProtectionPlan).doc
        incident = quiet_incident((options.incident_at or _now_utc()).astimezone(UTC))
        seed = options.seed or 0
    # The world's time starts when the incident is noticed, as a simulated drill's clock does
    # (data corruption and ransomware can go unnoticed for `detected_after`).
    clock = ScaledClock(incident.detected_at, options.speed)
    catalog = load_catalog(calibration)
    return build_sim_world(estate, plan, incident=incident, seed=seed, clock=clock, options=sim_options, catalog=catalog)


def _require_file(path: Path, option: str) -> None:
    if not path.is_file():
        raise UsageError(f"{option} {path}: no such file")


def world_speed(world: object) -> float:
    """How much faster than real time the world's clock runs (1.0 unless it is a ScaledClock)."""
    clock = getattr(world, "clock", None)
    speed = getattr(clock, "speed", 1.0)
    return float(speed) if isinstance(speed, int | float) and speed > 0 else 1.0


def subscription_of(ids: Sequence[str]) -> str | None:
    """The subscription the world's resource ids live in."""
    for resource_id in ids:
        parts = resource_id.split("/")
        if len(parts) > 2 and parts[1].lower() == "subscriptions":
            return parts[2]
    return None
