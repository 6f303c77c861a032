"""Azure Site Recovery in the simulated world: replication points, test failover and its cleanup."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from drsim.cloud.api import (
    RUN_TAG,
    Job,
    JobErrorKind,
    JobKind,
    PointType,
    ReplicationPoint,
    ResourceKind,
)
from drsim.cloud.arm import RequestClass
from drsim.cloud.sim import schedules
from drsim.cloud.sim.resources import (
    DRILL_GROUP,
    ReplicatedItem,
    frozen_tags,
    resource_id,
)
from drsim.cloud.sim.schedules import ScheduledReplicationPoint
from drsim.cloud.sim.state import WorldState
from drsim.errors import CapacityError, ConflictError, NotFoundError
from drsim.model.types import PowerState, ReplicationPointChoice


class SiteRecoveryService(WorldState):
    """Site Recovery operations of the provider Protocol (replicated items are built by WorldState)."""

    def _replicated_item(self, vm_id: str) -> ReplicatedItem:
        item = self._replicated.get(vm_id)
        if item is None:
            raise NotFoundError(f"{vm_id} is not replicated by Site Recovery in this plan")
        return item

    def replication_schedule(self, vm_name: str, at: datetime) -> list[ScheduledReplicationPoint]:
        timing = self._timings.get(vm_name)
        if timing is None:
            return []
        spec = self._specs[vm_name]
        return schedules.replication_points(timing, at=at, stop=self._stops[vm_name], app_consistent=spec.power is PowerState.RUNNING)

    def _replication_points(self, item: ReplicatedItem, at: datetime) -> list[ReplicationPoint]:
        points = [
            ReplicationPoint(f"{item.id}/recoveryPoints/{int(p.time.timestamp())}", item.vm_id, p.time, p.type, item.consistency_group)
            for p in self.replication_schedule(item.vm_name, at)
        ]
        pending = schedules.pending_instant(self._timings[item.vm_name], at=at, stop=self._stops[item.vm_name])
        if not points or pending > points[-1].time:
            # 'latest' processes pending data first: the newest data that reached the target region.
            points.append(
                ReplicationPoint(
                    f"{item.id}/recoveryPoints/latest",
                    item.vm_id,
                    pending,
                    PointType.CRASH_CONSISTENT,
                    item.consistency_group,
                    processed=False,
                )
            )
        return points

    async def list_replication_points(self, vm_id: str) -> list[ReplicationPoint]:
        item = self._replicated_item(vm_id)
        await self._request("list_replication_points", item.target_region, RequestClass.READ, vm_id)
        self._check_asr_vault(item)
        return self._replication_points(item, self.now())

    def _check_asr_vault(self, item: ReplicatedItem) -> None:
        if self._region_down(item.vault.region):
            # A vault in the failed region blocks failover (azure-facts.md, Site Recovery).
            raise self._unreachable(
                item.vault.region, f"Site Recovery vault {item.vault.name} (a vault in the failed region blocks failover)"
            )

    async def test_failover(
        self, vm_id: str, *, choice: ReplicationPointChoice, network_id: str, tags: Mapping[str, str], point_id: str | None = None
    ) -> Job:
        item = self._replicated_item(vm_id)
        await self._request("test_failover", item.target_region, RequestClass.WRITE, vm_id)
        self._check_asr_vault(item)
        now = self.now()
        net = self._get_network(network_id)
        if net.region != item.target_region:
            raise ConflictError(f"network {net.name} is in {net.region}; {item.vm_name} fails over to {item.target_region}")
        running = self._test_failovers.get(item.vm_name)
        if running is not None:
            previous = self._jobs[running]
            if now < previous.ends_at or previous.succeeds:
                raise ConflictError(f"{item.vm_name} already has a test failover: clean it up first")
            # A failed test failover created nothing: the item is back to replicating and can be tried again.
        sr = self.catalog.site_recovery
        count = self._bump(f"failover:{vm_id}")
        points = self._replication_points(item, now)
        processed = [p for p in points if p.processed]
        extra = 0.0
        if point_id is not None:
            chosen = next((p for p in points if p.id == point_id), None)
            if chosen is None:
                raise NotFoundError(f"recovery point {point_id} does not exist (or was pruned) for {item.vm_name}")
            if not chosen.processed:
                extra = self._draw(sr.pending_processing, "asr-pending", vm_id, count)
        elif choice is ReplicationPointChoice.LATEST:
            # 'latest' processes pending data first: lowest RPO, longest RTO (A2A FAQ).
            chosen = points[-1]
            if not chosen.processed:
                extra = self._draw(sr.pending_processing, "asr-pending", vm_id, count)
        elif choice is ReplicationPointChoice.LATEST_PROCESSED:
            if not processed:
                raise NotFoundError(f"{item.vm_name} has no processed recovery point yet")
            chosen = processed[-1]
        elif choice is ReplicationPointChoice.LATEST_MULTI_VM_PROCESSED:
            # Multi-VM points exist only for a consistency group; its VMs share their instants.
            shared = [p for p in processed if p.group is not None]
            if not shared:
                raise NotFoundError(f"{item.vm_name} has no multi-VM processed recovery point (it is in no consistency group, or none yet)")
            chosen = shared[-1]
        else:
            apps = [p for p in processed if p.type is PointType.APP_CONSISTENT]
            if not apps:
                raise NotFoundError(f"{item.vm_name} has no app-consistent recovery point (app_consistent_every is off, or none yet)")
            chosen = apps[-1]
        seconds = self._draw(sr.test_failover, "asr-failover", vm_id, count) + extra
        # Target capacity is best-effort (azure-facts.md, Site Recovery): a seeded small failure chance.
        short = self.draws.chance(sr.capacity_failure_probability.sample(0.5), "asr-capacity", vm_id, count)
        spec = self._specs[item.vm_name]
        flushed = chosen.type is PointType.APP_CONSISTENT
        workload = self._workloads[spec.name]
        contents = [workload.capture(d.name, chosen.time, flushed=flushed) for d in spec.disks]
        test_name = f"{spec.name}-test"
        vm_new = resource_id(DRILL_GROUP, ResourceKind.VM, test_name)
        disk_ids = tuple(resource_id(DRILL_GROUP, ResourceKind.DISK, f"{spec.name}-{d.name}-test") for d in spec.disks)
        frozen = frozen_tags(tags)

        def materialize(ended: datetime) -> None:
            self._materialize_recovered(spec, vm_new, test_name, disk_ids, contents, item.target_region, network_id, frozen, ended)

        job = self._new_job(
            JobKind.TEST_FAILOVER,
            item.vault,
            vm_id,
            seconds,
            succeeds=not short,
            error=f"{CapacityError.__name__}: no capacity for {spec.size} in {item.target_region} (best effort); retry later"
            if short
            else None,
            error_kind=JobErrorKind.CAPACITY if short else None,
            created=(vm_new, *disk_ids),
            point_time=chosen.time,
            on_success=materialize,
        )
        self._test_failovers[item.vm_name] = job.id
        return job.public(now)

    async def test_failover_cleanup(self, vm_id: str) -> Job:
        item = self._replicated_item(vm_id)
        await self._request("test_failover_cleanup", item.target_region, RequestClass.WRITE, vm_id)
        self._check_asr_vault(item)
        now = self.now()
        running = self._test_failovers.get(item.vm_name)
        if running is None:
            raise ConflictError(f"{item.vm_name} has no test failover to clean up")
        failover = self._jobs[running]
        if now < failover.ends_at:
            raise ConflictError(f"the test failover of {item.vm_name} is still running")
        seconds = self._draw(self.catalog.site_recovery.test_failover_cleanup, "asr-cleanup", vm_id, self._bump(f"cleanup:{vm_id}"))
        created = failover.created if failover.succeeds else ()

        def remove(ended: datetime) -> None:
            # 'Cleanup test failover' deletes the test VMs (A2A FAQ).
            for rid in created:
                if rid in self._vms:
                    vm = self._vms.pop(rid)
                    for disk_id in vm.disk_ids:
                        if disk_id in self._disks:
                            self._disks[disk_id].vm_id = None
                    if vm.network_id in self._networks:
                        self._networks[vm.network_id].vm_count -= 1
                    self._tags.remove(vm.tags.get(RUN_TAG), rid)
            for rid in created:
                if rid in self._disks and self._disks[rid].vm_id is None:
                    disk = self._disks.pop(rid)
                    self._tags.remove(disk.tags.get(RUN_TAG), rid)
            self._test_failovers.pop(item.vm_name, None)

        job = self._new_job(JobKind.TEST_FAILOVER_CLEANUP, item.vault, vm_id, seconds, on_success=remove)
        return job.public(now)
