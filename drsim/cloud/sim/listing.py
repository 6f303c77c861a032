"""What the simulated world believes each VM has at an instant: the data behind `drsim sim points`.

Built from the world's truth (the same analytic schedules the provider serves), so it needs no
running clock. Points the incident makes unreachable are listed and marked so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from drsim.cloud.api import PointTier, PointType
from drsim.cloud.sim.drill import drill_catalog, drill_incident, resolve_incident_at
from drsim.cloud.sim.world import SimProvider, build_world
from drsim.engine.clock import VirtualClock
from drsim.errors import UsageError
from drsim.model.checks import DrillBundle


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


def world_points(bundle: DrillBundle, *, vm: str | None = None, at: datetime | None = None) -> WorldPoints:
    """The recovery points of every VM (or one) of the drill's estate at `at` (default: the incident time)."""
    drill = bundle.drill.doc
    incident_at = resolve_incident_at(drill)
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
        clock=VirtualClock(at),
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


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def points_as_json(view: WorldPoints) -> dict[str, Any]:
    """Plain JSON data of a WorldPoints (stable keys, ISO 8601 UTC times)."""
    return {
        "drill": view.drill,
        "incident": view.incident,
        "incident_at": _iso(view.incident_at),
        "at": _iso(view.at),
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
                            "time": _iso(p.time),
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
                    "oldest": _iso(v.replication.oldest),
                    "newest": _iso(v.replication.newest),
                    "newest_app_consistent": _iso(v.replication.newest_app_consistent),
                    "pending": _iso(v.replication.pending),
                },
                "snapshots": [
                    {"disk": s.disk, "taken_at": _iso(s.taken_at), "region": s.region, "reachable": s.reachable} for s in v.snapshots
                ],
                "images": [{"name": name, "region": region} for name, region in v.images],
            }
            for v in view.vms
        ],
    }


def _age(at: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    minutes = int((at - then).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if days else f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


_TYPE_LABEL = {PointType.APP_CONSISTENT: "app", PointType.FILE_SYSTEM_CONSISTENT: "file-system", PointType.CRASH_CONSISTENT: "crash"}


def render_points(view: WorldPoints, console: Console) -> None:
    """Print the points as rich tables, one block per VM."""
    console.print(
        f"[bold]{view.drill}[/]: {view.incident} at {_iso(view.incident_at)}; points as of {_iso(view.at)} "
        f"(seed {view.seed}, catalog {view.catalog})"
    )
    for vm in view.vms:
        console.rule(f"[bold]{vm.vm}[/] ({vm.region})")
        if vm.backup_vault is None:
            console.print("Azure Backup: not protected")
        else:
            table = Table(title=f"Azure Backup points (vault {vm.backup_vault})", title_justify="left")
            for column in ("time (UTC)", "age", "type", "tier", "region", "up"):
                table.add_column(column, no_wrap=True)
            for p in reversed(vm.backup):
                tier = "+".join(t.value for t in p.tiers) + (" (CRR)" if p.cross_region else "")
                reachable = "yes" if p.reachable else "[red]no[/]"
                table.add_row(_short(p.time), _age(view.at, p.time), _TYPE_LABEL[p.type], tier, p.region, reachable)
            console.print(table)
        rep = vm.replication
        if rep is None:
            console.print("Site Recovery: not replicated")
        else:
            group = f", consistency group {rep.consistency_group}" if rep.consistency_group else ""
            console.print(
                f"Site Recovery to {rep.target_region}{group}: {rep.points} processed points; newest {_short(rep.newest)} "
                f"({_age(view.at, rep.newest)} old), newest app-consistent {_short(rep.newest_app_consistent)}, "
                f"oldest {_short(rep.oldest)}; 'latest' recovers data up to {rep.pending:%Y-%m-%d %H:%M:%S}"
                if rep.pending is not None
                else f"Site Recovery to {rep.target_region}{group}: no points"
            )
        if vm.snapshots:
            table = Table(title="Scheduled snapshots (one disk each)", title_justify="left")
            for column in ("taken at (UTC)", "age", "disk", "region", "up"):
                table.add_column(column, no_wrap=True)
            for snap in reversed(vm.snapshots):
                reachable = "yes" if snap.reachable else "[red]no[/]"
                table.add_row(f"{snap.taken_at:%Y-%m-%d %H:%M:%S}", _age(view.at, snap.taken_at), snap.disk, snap.region, reachable)
            console.print(table)
        for name, region in vm.images:
            console.print(f"Managed image {name} in {region}")
