"""Azure Backup in the simulated world: recovery points from the policy schedule, restores and their limits."""

from __future__ import annotations

import heapq
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
from drsim.cloud.arm import RequestClass
from drsim.cloud.sim import schedules
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    ProtectedItem,
    frozen_tags,
    resource_id,
)
from drsim.cloud.sim.schedules import BackupHistory, ScheduledBackup
from drsim.cloud.sim.state import MIB_PER_GIB, WorldState
from drsim.errors import ConflictError, NotFoundError, QuotaError

VAULT_ONLY = frozenset({PointTier.VAULT})
KEPT_BACKUP_HISTORIES = 256
"""VMs whose backup history a world keeps (the most recently asked): at most ~20 MiB for 35 days of 4-hourly backups."""
CANCEL_SECONDS = 60.0
"""How long a restore job stays Cancelling before it is Cancelled (world seconds, scaled by the world's latency).
An assumption of the simulator: Microsoft documents no figure; Backup's cancel answers Retry-After: 60
(TriggerCancelJob.json), which suggests a cancel takes about that long."""


class BackupService(WorldState):
    """Azure Backup operations of the provider Protocol (vaults and protected items are built by WorldState)."""

    def _protected_item(self, vm_id: str) -> ProtectedItem:
        item = self._protected.get(vm_id)
        if item is None:
            raise NotFoundError(f"{vm_id} is not protected by Azure Backup in this plan")
        return item

    def _backup_history(self, vm_name: str) -> BackupHistory | None:
        """The VM's backup history, kept for the world's most recently asked VMs (a day's jobs never change)."""
        histories = self._backup_histories
        history = histories.pop(vm_name, None)
        if history is None:
            rule = self._protection[vm_name].backup
            if rule is None or rule.backup is None:
                return None
            history = BackupHistory(rule.backup, vm_name, self.catalog, self.draws)
            if len(histories) >= KEPT_BACKUP_HISTORIES:
                del histories[next(iter(histories))]  # the least recently asked
        histories[vm_name] = history
        return history

    def backup_schedule(self, vm_name: str, at: datetime) -> list[ScheduledBackup]:
        history = self._backup_history(vm_name)
        return [] if history is None else history.existing(at=at, stop=self._stops[vm_name])

    def _point_type(self, vm_name: str) -> PointType:
        spec = self._specs[vm_name]
        return schedules.backup_consistency(spec.os, spec.power)

    def _crr_points(self, item: ProtectedItem, region: str | None) -> bool:
        """Whether `region` asks for the cross-region restore points (else the vault's own); raises
        when the points asked for cannot be reached."""
        vault = item.vault
        if region is None or region == vault.region:
            # An LRS/ZRS vault in a failed region is unreachable; so is a GRS vault without
            # cross-region restore (reliability-backup).
            if self._region_down(vault.region):
                error = self._unreachable(vault.region, f"backup vault {vault.name}")
                if vault.cross_region_restore:
                    error = NotFoundError(f"{error}; its points are restorable in {vault.paired_region} (cross-region restore)")
                raise error
            return False
        if vault.paired_region is None or region != vault.paired_region:
            raise ConflictError(
                f"{item.vm_name} is backed up in {vault.region}"
                + (
                    f"; cross-region restore points are in {vault.paired_region}"
                    if vault.paired_region
                    # The words of Azure's refusal (BMSUserErrorCrossRegionRestoreNotEnabledInThisVault).
                    else f"; its vault has no cross-region restore: Cross Region Restore is not enabled in vault {vault.name}"
                )
            )
        if self._region_down(region):
            raise self._unreachable(region, "the paired region")
        return True

    @staticmethod
    def _point(item: ProtectedItem, backup: ScheduledBackup, kind: PointType, crr: bool, at: datetime) -> BackupPoint | None:
        """The recovery point a backup gives at `at` in the vault's region, or in the paired region (None: none there)."""
        if crr:
            # CRR points: the vault tier only, never snapshot-tier points (reliability-backup, H).
            if not backup.in_paired_region(at):
                return None
            point_id = f"{item.id}/recoveryPoints/crr-{int(backup.time.timestamp())}"
            return BackupPoint(point_id, item.vm_id, backup.time, kind, VAULT_ONLY, item.vault.paired_region or "")
        tiers = backup.tiers(at)
        if not tiers:
            return None
        point_id = f"{item.id}/recoveryPoints/{int(backup.time.timestamp())}"
        return BackupPoint(point_id, item.vm_id, backup.time, kind, tiers, item.vault.region)

    def _backup_points(self, item: ProtectedItem, region: str | None, at: datetime) -> list[BackupPoint]:
        crr = self._crr_points(item, region)
        kind = self._point_type(item.vm_name)
        return [p for b in self.backup_schedule(item.vm_name, at) if (p := self._point(item, b, kind, crr, at)) is not None]

    def _backup_point(self, item: ProtectedItem, point_id: str, at: datetime) -> BackupPoint | None:
        """The point a restore names, if it exists at `at`: searched newest first, as a restore mostly
        names a recent point (no need to compute the whole retention)."""
        crr = self._crr_points(item, item.vault.paired_region if "/recoveryPoints/crr-" in point_id else None)
        history = self._backup_history(item.vm_name)
        if history is None:
            return None
        kind = self._point_type(item.vm_name)
        for backup in history.newest_first(at=at, stop=self._stops[item.vm_name]):
            point = self._point(item, backup, kind, crr, at)
            if point is not None and point.id == point_id:
                return point
        return None

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
        point = self._backup_point(item, point_id, now)
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
        job.tier = tier  # what Azure reports too: the snapshot when the point has one, unless asked otherwise
        return job.public(now)

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a running restore job (JobCancellations_Trigger): Cancelling for CANCEL_SECONDS, then
        Cancelled. A cancelled restore creates nothing: what it would have made appears only when a restore
        job succeeds (the simulator's restores are all-or-nothing). A job already cancelling is left as it is;
        one that has ended cannot be cancelled."""
        await self._request("cancel_job", self.estate.regions.primary, RequestClass.WRITE, job_id)
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id} not found")
        if job.kind is not JobKind.RESTORE:
            raise ConflictError(f"job {job_id} is not a Backup job: only Backup jobs are cancelled")
        if job.cancelled_at is not None:
            return
        now = self.now()
        if now >= job.ends_at:
            raise ConflictError(f"job {job_id} has already ended: it cannot be cancelled")
        job.cancelled_at = now
        job.succeeds, job.error, job.error_kind = False, "the job was cancelled", None
        job.ends_at = min(job.ends_at, now + timedelta(seconds=CANCEL_SECONDS * self._latency))
        heapq.heappush(self._due, (job.ends_at, 0, job.id))  # 0: no new job number (job ids stay as they were)
