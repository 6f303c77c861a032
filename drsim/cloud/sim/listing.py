"""What the simulated world believes each VM has at an instant: the data behind `drsim sim points`.

Built from the world's truth (the same analytic schedules the provider serves), so it needs no
running clock. Points the incident makes unreachable are listed and marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drsim.clock import StoppedClock
from drsim.cloud.api import PointTier, PointType
from drsim.cloud.sim.drill import drill_catalog, drill_incident
from drsim.cloud.sim.world import SimProvider, build_world
from drsim.errors import UsageError
from drsim.model.checks import DrillBundle
from drsim.times import utc_text


@dataclass(frozen=True)
class BackupPointView:
    time: datetime
    type: PointType
    tiers: tuple[PointTier, ...]
    region: str
    cross_region: bool
    reachable: bool


@dataclass(frozen=True)
class ReplicationView:
    target_region: str
    consistency_group: str | None
    points: int
    oldest: datetime | None
    newest: datetime | None
    newest_app_consistent: datetime | None
    pending: datetime | None  # the newest data 'latest' would recover


@dataclass(frozen=True)
class SnapshotView:
    disk: str
    taken_at: datetime
    region: str
    reachable: bool


@dataclass(frozen=True)
class VmPoints:
    vm: str
    region: str
    backup_vault: str | None
    backup: tuple[BackupPointView, ...]
    replication: ReplicationView | None
    snapshots: tuple[SnapshotView, ...]
    images: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class WorldPoints:
    """The recovery points every VM of a drill's estate would have at `at`."""

    drill: str
    incident: str
    incident_at: datetime
    at: datetime
    seed: int
    catalog: str
    vms: tuple[VmPoints, ...]


def _vm_points(world: SimProvider, vm_name: str, at: datetime) -> VmPoints:
    truth = world.truth
    spec = world.estate.vm(vm_name)
    backup: list[BackupPointView] = []
    vault = truth.backup_vault(vm_name)
    if vault is not None:
        kind = truth.backup_point_type(vm_name)
        for job in truth.backup_schedule(vm_name, at):
            tiers = job.tiers(at)
            if tiers:
                reachable = not truth.region_down(vault.region, at)
                backup.append(BackupPointView(job.time, kind, tuple(sorted(tiers)), vault.region, False, reachable))
            paired = vault.paired_region
            if paired is not None and job.in_paired_region(at):
                backup.append(BackupPointView(job.time, kind, (PointTier.VAULT,), paired, True, not truth.region_down(paired, at)))
    replication = None
    target = truth.replication_target(vm_name)
    if target is not None:
        points = truth.replication_points(vm_name, at)
        apps = [p.time for p in points if p.type is PointType.APP_CONSISTENT]
        group = next((r.consistency_group for r in world.inventory.replicated_items() if r.vm_name == vm_name), None)
        replication = ReplicationView(
            target_region=target,
            consistency_group=group,
            points=len(points),
            oldest=points[0].time if points else None,
            newest=points[-1].time if points else None,
            newest_app_consistent=apps[-1] if apps else None,
            pending=truth.pending_instant(vm_name, at),
        )
    snapshots: list[SnapshotView] = []
    copy_region = truth.snapshot_copy_region(vm_name)
    for disk, taken in truth.scheduled_snapshots(vm_name, at).items():
        for snap in taken:
            snapshots.append(SnapshotView(disk, snap.taken_at, spec.region, not truth.region_down(spec.region, at)))
            if copy_region is not None:
                snapshots.append(SnapshotView(disk, snap.taken_at, copy_region, not truth.region_down(copy_region, at)))
    snapshots.sort(key=lambda s: (s.taken_at, s.disk, s.region))
    return VmPoints(
        vm=vm_name,
        region=spec.region,
        backup_vault=vault.name if vault is not None else None,
        backup=tuple(backup),
        replication=replication,
        snapshots=tuple(snapshots),
        images=tuple(truth.images_of(vm_name)),
    )


def world_points(bundle: DrillBundle, *, incident_at: datetime, vm: str | None = None, at: datetime | None = None) -> WorldPoints:
    """The recovery points of every VM (or one) of the drill's estate at `at` (default: the incident time)."""
    drill = bundle.drill.doc
    at = at if at is not None else incident_at
    estate = bundle.estate.doc
    names = [v.name for v in estate.vms]
    if vm is not None and vm not in names:
        raise UsageError(f"--vm {vm}: estate {estate.name} has no such VM (it has {', '.join(names)})")
    catalog = drill_catalog(bundle)
    world = build_world(
        estate,
        bundle.plan.doc,
        incident=drill_incident(bundle, incident_at),
        seed=drill.seed,
        clock=StoppedClock(at),
        options=drill.sim,
        catalog=catalog,
    )
    return WorldPoints(
        drill=drill.name,
        incident=bundle.runbook.doc.scenario.incident.value,
        incident_at=incident_at,
        at=at,
        seed=drill.seed,
        catalog=catalog.label,
        vms=tuple(_vm_points(world, name, at) for name in names if vm is None or name == vm),
    )


def iso_or_none(value: datetime | None) -> str | None:
    return utc_text(value, "seconds") if value is not None else None


def points_as_json(view: WorldPoints) -> dict[str, Any]:
    """Plain JSON data of a WorldPoints (stable keys, ISO 8601 UTC times)."""
    return {
        "drill": view.drill,
        "incident": view.incident,
        "incident_at": iso_or_none(view.incident_at),
        "at": iso_or_none(view.at),
        "seed": view.seed,
        "catalog": view.catalog,
        "vms": [
            {
                "vm": v.vm,
                "region": v.region,
                "backup": {
                    "vault": v.backup_vault,
                    "points": [
                        {
                            "time": iso_or_none(p.time),
                            "type": p.type.value,
                            "tiers": [t.value for t in p.tiers],
                            "region": p.region,
                            "cross_region": p.cross_region,
                            "reachable": p.reachable,
                        }
                        for p in v.backup
                    ],
                },
                "site_recovery": None
                if v.replication is None
                else {
                    "target_region": v.replication.target_region,
                    "consistency_group": v.replication.consistency_group,
                    "points": v.replication.points,
                    "oldest": iso_or_none(v.replication.oldest),
                    "newest": iso_or_none(v.replication.newest),
                    "newest_app_consistent": iso_or_none(v.replication.newest_app_consistent),
                    "pending": iso_or_none(v.replication.pending),
                },
                "snapshots": [
                    {"disk": s.disk, "taken_at": iso_or_none(s.taken_at), "region": s.region, "reachable": s.reachable} for s in v.snapshots
                ],
                "images": [{"name": name, "region": region} for name, region in v.images],
            }
            for v in view.vms
        ],
    }
