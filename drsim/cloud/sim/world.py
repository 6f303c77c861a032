"""The simulated Azure world: a CloudProvider over an estate, its protection plan and one incident.

Everything the world waits for goes through the Clock it is given (virtual time under the engine,
scaled real time under the ARM emulator); every random figure is a keyed draw from the world seed;
every duration, limit and price comes from the catalog. Recovery points are computed from the plan's
schedules on demand (schedules.py), never by replaying the history. Long-running jobs (restores,
test failovers) end at a precomputed instant and take effect the first time the world is asked
anything at or after it, so no background task runs inside the world.
"""

from __future__ import annotations

from datetime import datetime

from drsim.clock import Clock
from drsim.cloud.api import (
    PointType,
    ResourceKind,
)
from drsim.cloud.sim import schedules
from drsim.cloud.sim.backup import BackupService
from drsim.cloud.sim.catalog import Catalog, default_catalog
from drsim.cloud.sim.compute import ComputeService
from drsim.cloud.sim.incidents import IncidentSpec
from drsim.cloud.sim.network import NetworkService
from drsim.cloud.sim.resources import (
    NetworkState,
    NsgState,
    ProtectedItem,
    ReplicatedItem,
    Vault,
    resource_id,
)
from drsim.cloud.sim.schedules import ScheduledBackup, ScheduledReplicationPoint, ScheduledSnapshot
from drsim.cloud.sim.siterecovery import SiteRecoveryService
from drsim.cloud.sim.workload import DiskContent, Workload, marker_at
from drsim.model.documents import Estate, ProtectionPlan, SimOptions
from drsim.model.types import IncidentKind


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


class SimProvider(ComputeService, NetworkService, BackupService, SiteRecoveryService):
    """The simulated Azure world, implementing drsim.cloud.api.CloudProvider.

    Beyond the Protocol: `truth` (what the world believes, for tests and measurement), `inventory`
    (vaults, protected and replicated items, networks, for the ARM emulator) and `start_vm`.
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
        super().__init__(estate, plan, incident=incident, seed=seed, clock=clock, options=options, catalog=catalog)
        self.truth = WorldTruth(self)
        self.inventory = Inventory(self)


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

    def backup_point_type(self, vm_name: str) -> PointType:
        """The consistency of the VM's Azure Backup points (by its OS and power state)."""
        return self._world._point_type(vm_name)

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

    def origin(self, resource_id: str) -> tuple[str, str | None] | None:
        """Whose data a VM, disk or snapshot holds: (production VM name, production disk name; None for a
        VM), or None when there is no such resource (security types follow the data: trusted-launch)."""
        world = self._world
        if resource_id in world._vms:
            vm = world._vms[resource_id]
            return (vm.origin or vm.name, None)
        if resource_id in world._disks:
            disk = world._disks[resource_id]
            return (disk.origin_vm, disk.origin_disk)
        if resource_id in world._snapshots:
            content = world._snapshots[resource_id].content
            return (content.vm, content.disk)
        return None

    def disk_sku(self, disk_id: str) -> str | None:
        """The storage SKU of a managed disk (Premium_LRS, StandardSSD_LRS, ...), or None if there is no such disk."""
        disk = self._world._disks.get(disk_id)
        return disk.sku if disk is not None else None


__all__ = ["Inventory", "SimProvider", "WorldTruth", "build_world"]
