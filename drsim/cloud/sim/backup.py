"""Azure Backup in the simulated world: recovery points from the policy schedule, restores and their limits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from drsim.cloud.api import (
    BackupPoint,
    Job,
    JobKind,
    PointTier,
    PointType,
    ResourceKind,
    RestoreMode,
)
from drsim.cloud.sim import schedules
from drsim.cloud.sim.faults import RequestClass
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    ProtectedItem,
    frozen_tags,
    resource_id,
)
from drsim.cloud.sim.schedules import ScheduledBackup
from drsim.cloud.sim.state import MIB_PER_GIB, WorldState
from drsim.errors import ConflictError, NotFoundError, QuotaError


class BackupService(WorldState):
    """Azure Backup operations of the provider Protocol (vaults and protected items are built by WorldState)."""

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
        job = self._new_job(JobKind.RESTORE, item.vault, vm_id, seconds, created=created, point_time=point.time, on_success=materialize)
        return job.public(now)
