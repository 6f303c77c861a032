"""AzureProvider against the ARM emulator: reads match the world, a burst beyond ARM's limits completes
with its 429s honoured, and bad requests come back as ARM errors translated into drsim errors."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cloud.api import RUN_TAG, ResourceKind, RestoreMode
from drsim.cloud.arm import RequestClass
from drsim.cloud.azure.provider import AzureProvider, connect
from drsim.cloud.azure.throttle import Throttle
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.errors import ConflictError, NotFoundError, ProviderError
from drsim.model.documents import AzureOptions
from drsim.model.types import ReplicationPointChoice

DRILLS = Path(__file__).resolve().parents[3] / "drills"
ESTATE = DRILLS / "estates" / "contoso.yaml"
PLAN = DRILLS / "plans" / "asr-and-daily-backup.yaml"
BURST = 220  # get_vm reads the VM and its NIC: 440 reads at once, well beyond the read bucket of 250


@pytest.fixture(scope="module")
def emulator():
    """The contoso estate, time running 600 times faster (a test failover takes about a second)."""
    thread = server.EmulatorThread(world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, seed=3, speed=600.0))
    with thread as handle:
        yield thread, handle


THROTTLED_SPEED = 2.0
"""The speed of the worlds whose ARM buckets a test drains (real speed before): ARM's limits hold in world
time (250 reads, 25 a second), and drsim's client buckets run on the emulator's world time as in any drill
against it (connect(): both bucket time lines are the same monotonic clock times the speed), so a burst
meets the same limits as at real speed, twice as soon. Not faster: the burst must still outpace both
buckets' refill (50 and 45 reads a real second at 2x) on a loaded machine, or ARM's bucket never runs
dry and drsim's never makes a request wait (both seen at 10x)."""


def throttled_world() -> server.EmulatorThread:
    return server.EmulatorThread(world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, seed=3, speed=THROTTLED_SPEED))


@pytest.fixture(scope="module")
def throttled():
    """The same estate at THROTTLED_SPEED: the world's buckets refill at ARM's rates, so a burst drains them.
    The reads below leave its read bucket nearly empty for the burst after them, as before."""
    thread = throttled_world()
    with thread as handle:
        yield thread, handle


def with_provider(handle, scenario, *, world_time: bool = False, **kwargs):
    """The scenario on an AzureProvider for the emulator; with `world_time`, on the emulator's world time as
    a drill runs against it (connect(): its client buckets too)."""

    async def main():
        options = AzureOptions(
            subscription_id=handle.subscription_id,
            resource_group=DRILL_GROUP,
            endpoint=handle.url,
            staging_storage_account=staging_account(handle.subscription_id),
        )
        provider = (
            await connect(options, polling_interval=0.05, **kwargs)
            if world_time
            else AzureProvider(options, polling_interval=0.05, **kwargs)
        )
        async with provider:
            return await scenario(provider)

    return asyncio.run(main())


def test_reads_give_the_world_as_it_is(throttled):
    thread, handle = throttled

    async def world_view():
        vms = await handle.world.list_vms()
        sql = next(v for v in vms if v.name == "sql-01")
        backup = [(p.time, p.type, p.tiers) for p in await handle.world.list_backup_points(sql.id)]
        # ARM lists processed points only: the world's pending 'latest' point is asked for by sending none.
        replication = [(p.time, p.type, p.group) for p in await handle.world.list_replication_points(sql.id) if p.processed]
        return sorted(map(vm_key, vms)), backup, replication

    async def ours(provider: AzureProvider):
        listed = await provider.list_vms()
        sql = next(v for v in listed if v.name == "sql-01")
        backup = [(p.time, p.type, p.tiers) for p in await provider.list_backup_points(sql.id)]
        replication = [(p.time, p.type, p.group) for p in await provider.list_replication_points(sql.id)]
        return sorted(map(vm_key, listed)), backup, replication

    before = thread.call(world_view)
    seen = with_provider(handle, ours, world_time=True)
    after = thread.call(world_view)
    # The world lives on while we read (a point may be taken or pruned): we saw it as it was then.
    assert seen in (before, after)


def vm_key(vm):
    return (vm.name, vm.region, vm.os, vm.size, vm.power, vm.generalized, len(vm.disk_ids), sorted(vm.tags.items()))


def burst(handle, throttle: Throttle | None):
    """BURST reads at once; `throttle` None: drsim's own client buckets, on the emulator's world time."""

    async def scenario(provider: AzureProvider):
        if throttle is None:
            assert provider.throttle.enabled and provider.throttle.speed == THROTTLED_SPEED
        vms = await provider.list_vms()
        target = next(v for v in vms if v.name == "web-01")
        got = await asyncio.gather(*(provider.get_vm(target.id) for _ in range(BURST)))
        return target, got, provider.throttle.stats

    return with_provider(handle, scenario, world_time=True, throttle=throttle, retry_backoff_factor=0.1)


def test_a_burst_beyond_the_read_limit_completes_with_its_429s_honoured(throttled):
    _, handle = throttled
    target, got, stats = burst(handle, Throttle(enabled=False))
    assert stats.throttled[RequestClass.READ] > 0  # ARM's bucket ran dry and said Retry-After
    assert len(got) == BURST and all(vm == target for vm in got)  # nothing lost


def test_the_client_bucket_keeps_the_same_burst_under_the_limit():
    thread = throttled_world()
    with thread as handle:  # a world of its own: the burst above left the shared one's bucket empty
        target, got, stats = burst(handle, None)
    assert stats.throttled[RequestClass.READ] == 0
    assert stats.waited_s > 0
    assert len(got) == BURST and all(vm == target for vm in got)


def test_a_missing_vm_is_not_found(emulator):
    _, handle = emulator
    missing = f"/subscriptions/{handle.subscription_id}/resourceGroups/contoso-prod/providers/Microsoft.Compute/virtualMachines/nope"
    with pytest.raises(NotFoundError, match=r"reading VM nope failed \(HTTP 404\)"):
        with_provider(handle, lambda p: p.get_vm(missing))


def test_a_bad_address_space_fails_the_operation_with_its_arm_error(emulator):
    _, handle = emulator
    with pytest.raises(ConflictError, match=r"creating virtual network bad failed .*'10\.300\.0\.0/16' is not a valid address space"):
        with_provider(handle, lambda p: p.create_isolated_network(name="bad", region="centralus", cidr="10.300.0.0/16", tags={}))


def test_a_disk_from_a_missing_snapshot_is_refused(emulator):
    _, handle = emulator
    missing = f"/subscriptions/{handle.subscription_id}/resourceGroups/{DRILL_GROUP}/providers/Microsoft.Compute/snapshots/nope"
    with pytest.raises((NotFoundError, ProviderError)):
        with_provider(handle, lambda p: p.create_disk(missing, name="d", region="eastus2", tags={RUN_TAG: "x"}))


def test_failing_over_a_vm_that_is_not_replicated_says_so(emulator):
    _, handle = emulator

    async def scenario(provider: AzureProvider):
        golden = next(v for v in await provider.list_vms() if v.name == "web-golden")
        await provider.test_failover(golden.id, choice=ReplicationPointChoice.LATEST, network_id=golden.network_id or "", tags={})

    with pytest.raises(NotFoundError, match="web-golden is not replicated by Site Recovery"):
        with_provider(handle, scenario)


def test_a_second_test_failover_of_one_vm_conflicts_and_cleanup_removes_what_it_created(emulator):
    _, handle = emulator

    async def scenario(provider: AzureProvider):
        network = await provider.create_isolated_network(name="tfo-bubble", region="centralus", cidr="10.250.0.0/16", tags={RUN_TAG: "t"})
        report = await provider.check_isolation(network.id)
        web = next(v for v in await provider.list_vms() if v.name == "web-02")
        choice = ReplicationPointChoice.LATEST_PROCESSED
        job = await provider.test_failover(web.id, choice=choice, network_id=network.id, tags={RUN_TAG: "t"})
        while not job.status.ended:
            await asyncio.sleep(0.2)
            job = await provider.get_job(job.id)
        try:
            await provider.test_failover(web.id, choice=choice, network_id=network.id, tags={})
        except ConflictError as exc:
            conflict = exc
        cleanup = await provider.test_failover_cleanup(web.id)
        while not cleanup.status.ended:
            await asyncio.sleep(0.2)
            cleanup = await provider.get_job(cleanup.id)
        tagged_after = await provider.list_tagged("t")
        return report, job, conflict, cleanup, tagged_after

    report, job, conflict, cleanup, tagged = with_provider(handle, scenario)
    assert report.isolated, report.reasons()
    assert job.status.value == "Succeeded" and job.created and job.recovery_point_time is not None
    assert "test failover" in str(conflict)
    assert cleanup.status.value == "Succeeded"
    assert {t.kind for t in tagged} <= {ResourceKind.NETWORK, ResourceKind.NSG}


def test_a_restore_as_disks_creates_the_disks_in_order_and_tags_them(emulator):
    _, handle = emulator

    async def scenario(provider: AzureProvider):
        app = next(v for v in await provider.list_vms() if v.name == "app-01")
        point = (await provider.list_backup_points(app.id))[-1]
        network = await provider.create_isolated_network(name="disk-bubble", region="eastus2", cidr="10.251.0.0/16", tags={RUN_TAG: "d"})
        job = await provider.restore_backup(
            app.id,
            point.id,
            mode=RestoreMode.DISKS,
            tier=None,
            region="eastus2",
            network_id=network.id,
            name="app-01-r",
            tags={RUN_TAG: "d"},
        )
        while not job.status.ended:
            await asyncio.sleep(0.2)
            job = await provider.get_job(job.id)
        return app, point, job, await provider.list_tagged("d")

    app, point, job, tagged = with_provider(handle, scenario)
    assert (job.status.value, job.vm_id, job.recovery_point_time) == ("Succeeded", app.id, point.time.replace(microsecond=0))
    assert job.tier is not None and job.tier in point.tiers  # the tier Azure used: the snapshot when the point had one
    assert len(job.created) == len(app.disk_ids) == 2
    assert all("/Microsoft.Compute/disks/" in rid for rid in job.created)
    assert [rid.rsplit("-", 1)[-1] for rid in job.created] == ["os", "data"]  # OS disk first, as the VM had them
    assert {rid.lower() for rid in job.created} <= {t.id.lower() for t in tagged}
