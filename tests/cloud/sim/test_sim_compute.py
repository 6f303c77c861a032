"""Snapshots, disks, VMs, images and networks of the simulated world (azure-facts.md 'Managed disk
snapshots', 'Images', 'VM provisioning')."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simworld import INCIDENT, estate_doc, make_world, outage, plan_doc, run

from drsim.cloud.api import RUN_TAG, PowerState, ResourceKind
from drsim.cloud.sim import SimProvider, default_catalog
from drsim.engine.runtime import current_runtime
from drsim.errors import ConflictError, NotFoundError, QuotaError
from drsim.model.types import OsType

TAGS = {RUN_TAG: "run-1"}


async def bubble(world: SimProvider, region: str = "eastus2", name: str = "bubble") -> str:
    return (await world.create_isolated_network(name=name, region=region, cidr="10.250.0.0/16", tags=TAGS)).id


async def clone(world: SimProvider, vm: str, *, stop_first: bool = False) -> str:
    """Snapshot each disk of a production VM in parallel, make disks, attach them to a new VM."""
    network = await bubble(world)
    prod = world.truth.vm_id(vm)
    if stop_first:
        await world.deallocate_vm(prod)
    spec = world.estate.vm(vm)
    snaps = await current_runtime().gather(
        *(world.create_snapshot(world.truth.disk_id(vm, d.name), name=f"{vm}-{d.name}-s", incremental=True, tags=TAGS) for d in spec.disks)
    )
    disks = [await world.create_disk(s.id, name=f"{s.name}-d", region=s.region, tags=TAGS) for s in snaps]
    created = await world.create_vm(
        name=f"{vm}-clone", region=spec.region, size=spec.size, os=spec.os, disk_ids=[d.id for d in disks], network_id=network, tags=TAGS
    )
    return created.id


def test_snapshots_of_a_running_vm_land_at_different_instants_so_a_striped_volume_is_inconsistent(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "sql-01")
        await world.clock.sleep(600)
        return await world.read_canary(vm_id)

    reading = run(main)
    (volume,) = reading.volumes
    assert volume.name == "sqldata" and len(set(volume.disk_instants)) == 2
    assert not volume.consistent and not reading.consistent


def test_snapshots_of_a_deallocated_vm_give_a_consistent_volume(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "sql-01", stop_first=True)
        await world.clock.sleep(600)
        return await world.read_canary(vm_id)

    assert run(main).consistent


def test_a_snapshot_copies_one_disk_and_is_billed_on_used_size(world: SimProvider) -> None:
    snap = run(lambda: world.create_snapshot(world.truth.disk_id("web-01", "os"), name="s", incremental=False, tags=TAGS))
    assert snap.disk_id == world.truth.disk_id("web-01", "os")
    assert snap.used_gib == 10  # a 64 GiB disk with 10 GiB used is billed for 10 GiB


def test_incremental_snapshots_are_full_first_then_deltas(world: SimProvider) -> None:
    disk = world.truth.disk_id("sql-01", "data1")  # 300 GiB used, 20 GiB/day churn

    async def main():  # type: ignore[no-untyped-def]
        first = await world.create_snapshot(disk, name="s1", incremental=True, tags=TAGS)
        await world.clock.sleep(6 * 3600)
        second = await world.create_snapshot(disk, name="s2", incremental=True, tags=TAGS)
        return first, second

    first, second = run(main)
    assert first.used_gib == 300
    assert second.used_gib == pytest.approx(5, abs=0.1)  # 6 h of 20 GiB/day


def test_only_incremental_snapshots_copy_across_regions(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        full = await world.create_snapshot(world.truth.disk_id("web-01", "os"), name="full", incremental=False, tags=TAGS)
        await world.copy_snapshot(full.id, name="copy", region="centralus", tags=TAGS)

    with pytest.raises(ConflictError, match="only incremental"):
        run(main)


def test_cross_region_copies_run_one_at_a_time_per_disk_in_creation_order(world: SimProvider) -> None:
    disk = world.truth.disk_id("sql-01", "data1")

    async def main():  # type: ignore[no-untyped-def]
        first = await world.create_snapshot(disk, name="s1", incremental=True, tags=TAGS)
        second = await world.create_snapshot(disk, name="s2", incremental=True, tags=TAGS)
        copying = current_runtime().spawn(world.copy_snapshot(first.id, name="c1", region="centralus", tags=TAGS))
        await world.clock.sleep(5)
        with pytest.raises(ConflictError, match="one at a time per disk"):
            await world.copy_snapshot(second.id, name="c2", region="centralus", tags=TAGS)
        first_copy = await copying
        second_copy = await world.copy_snapshot(second.id, name="c2", region="centralus", tags=TAGS)
        third = await world.create_snapshot(disk, name="s3", incremental=True, tags=TAGS)
        await world.copy_snapshot(third.id, name="c3", region="centralus", tags=TAGS)
        with pytest.raises(ConflictError, match="creation order"):
            await world.copy_snapshot(first.id, name="c1-again", region="centralus", tags=TAGS)
        return first_copy, second_copy

    first_copy, second_copy = run(main)
    assert first_copy.region == "centralus" and first_copy.incremental
    assert first_copy.used_gib == 300 and second_copy.used_gib < 1  # the first copy is full, then deltas


def test_100_parallel_copies_per_region() -> None:
    assert default_catalog().snapshots.parallel_copies_per_region.value == 100


def test_scheduled_snapshots_exist_before_the_incident_and_keep_the_last_n(world: SimProvider) -> None:
    disk = world.truth.disk_id("sql-01", "data1")
    snaps = run(lambda: world.list_snapshots(disk))
    home = [s for s in snaps if s.region == "eastus2"]
    copies = [s for s in snaps if s.region == "centralus"]
    assert len(home) == 4  # retain: 4, every 6 h
    assert all(s.taken_at < INCIDENT and RUN_TAG not in s.tags and s.tags["source-disk"] == "data1" for s in home)
    assert [c.taken_at for c in copies] == [s.taken_at for s in home][-len(copies) :]
    assert {s.taken_at.hour for s in home} <= {18, 0, 6, 12}


def test_scheduled_snapshots_of_one_run_are_taken_disk_by_disk(world: SimProvider) -> None:
    at = world.truth.scheduled_snapshots("sql-01", INCIDENT)
    newest = {disk: runs[-1].taken_at for disk, runs in at.items()}
    assert len(set(newest.values())) == 3


def test_a_disk_is_created_in_its_snapshots_region(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        snap = await world.create_snapshot(world.truth.disk_id("web-01", "os"), name="s", incremental=True, tags=TAGS)
        await world.create_disk(snap.id, name="d", region="centralus", tags=TAGS)

    with pytest.raises(ConflictError, match="copy it first"):
        run(main)


def test_vm_creation_takes_1_to_3_minutes_on_linux_and_3_to_6_on_windows() -> None:
    compute = default_catalog().compute
    for dist, low, high in ((compute.vm_create_linux, 60, 180), (compute.vm_create_windows, 180, 360)):
        assert low <= dist.sample(0.05) and dist.sample(0.95) <= high


def test_created_vm_boots_after_it_runs_and_specialized_boots_faster(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "web-01")
        return await world.get_vm(vm_id), world.now()

    vm, _ = run(main)
    assert vm.power is PowerState.RUNNING and not vm.booted
    compute = default_catalog().compute
    assert compute.boot_specialized_linux.sample(0.5) < compute.boot_generalized_linux.sample(0.5)
    assert compute.boot_specialized_windows.sample(0.5) < compute.boot_generalized_windows.sample(0.5)


def test_an_image_needs_a_generalized_deallocated_vm(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "web-01")
        with pytest.raises(ConflictError, match="not generalized"):
            await world.create_image(vm_id, name="img", region="eastus2", tags=TAGS)
        with pytest.raises(ConflictError, match="deallocate it"):
            await world.generalize_vm(vm_id)
        await world.deallocate_vm(vm_id)
        await world.generalize_vm(vm_id)
        with pytest.raises(ConflictError, match="in eastus2"):
            await world.create_image(vm_id, name="img", region="centralus", tags=TAGS)
        image = await world.create_image(vm_id, name="img", region="eastus2", tags=TAGS)
        with pytest.raises(ConflictError, match="cannot be started again"):
            await world.start_vm(vm_id)
        return image

    image = run(main)
    assert image.region == "eastus2" and image.disk_count == 1


def test_an_image_holds_all_disks_of_its_vm(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "sql-01")
        await world.deallocate_vm(vm_id)
        await world.generalize_vm(vm_id)
        image = await world.create_image(vm_id, name="img", region="eastus2", tags=TAGS)
        network = await bubble(world, name="deploy")
        vm = await world.create_vm_from_image(
            image.id, name="from-img", region="eastus2", size="Standard_E8s_v5", network_id=network, tags=TAGS
        )
        return image, vm

    image, vm = run(main)
    assert image.disk_count == 3 and len(vm.disk_ids) == 3


def test_find_vm_finds_a_drill_vm_by_its_name_and_nothing_else(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        (image,) = await world.list_images()
        network = await bubble(world, region="centralus")
        made = await world.create_vm_from_image(
            image.id, name="web-new", region="centralus", size="Standard_D2s_v5", network_id=network, tags=TAGS
        )
        return (
            made,
            await world.find_vm("web-new", tags=TAGS),
            await world.find_vm("web-other", tags=TAGS),
            await world.find_vm("web-01", tags=TAGS),
        )

    made, found, missing, production = run(main)
    assert found is not None and found.id == made.id and found.disk_ids == made.disk_ids
    assert missing is None and production is None  # a production VM is never a drill's to adopt


def test_plan_images_exist_in_the_plan_regions_and_are_regional(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        (image,) = await world.list_images()
        network = await bubble(world, region="eastus2")
        with pytest.raises(ConflictError, match="images are regional"):
            await world.create_vm_from_image(image.id, name="x", region="eastus2", size="Standard_D2s_v5", network_id=network, tags=TAGS)
        return image

    image = run(main)
    assert image.region == "centralus" and image.source_vm_id == world.truth.vm_id("web-golden")


def test_at_most_20_concurrent_deployments_from_one_image(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        (image,) = await world.list_images()
        network = await bubble(world, region="centralus")

        async def deploy(n: int):  # type: ignore[no-untyped-def]
            return await world.create_vm_from_image(
                image.id, name=f"web-{n}", region="centralus", size="Standard_D2s_v5", network_id=network, tags=TAGS
            )

        return await current_runtime().gather(*(deploy(n) for n in range(21)), return_exceptions=True)

    results = run(main)
    refused = [r for r in results if isinstance(r, QuotaError)]
    assert len(refused) == 1 and len(results) - len(refused) == 20


def test_a_vm_from_a_generalized_image_boots_slower_than_a_specialized_one(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        (image,) = await world.list_images()
        network = await bubble(world, region="centralus")
        vm = await world.create_vm_from_image(
            image.id, name="web-1", region="centralus", size="Standard_D2s_v5", network_id=network, tags=TAGS
        )
        created = world.now()
        while not (await world.get_vm(vm.id)).booted:
            await world.clock.sleep(5)
        return world.now() - created

    assert run(main) >= timedelta(seconds=30)


def test_an_isolated_network_has_no_peering_no_gateway_and_denies_outbound(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        return await world.check_isolation(await bubble(world))

    report = run(main)
    assert report.isolated and report.reasons() == []


def test_a_peered_or_open_network_is_not_isolated(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        net = await world.create_isolated_network(
            name="open", region="eastus2", cidr="10.251.0.0/16", tags=TAGS, peer_with=["prod-vnet"], allow_outbound=True
        )
        return await world.check_isolation(net.id)

    report = run(main)
    assert not report.isolated
    assert report.peerings == (
        world.truth.vm_id("sql-01").split("/providers/")[0] + "/providers/Microsoft.Network/virtualNetworks/prod-vnet",
    )
    assert not report.outbound_denied and report.default_outbound_access


def test_production_networks_report_their_gateway(world: SimProvider) -> None:
    prod = world.truth.vm_id("sql-01").split("/providers/")[0] + "/providers/Microsoft.Network/virtualNetworks/prod-vnet"
    report = run(lambda: world.check_isolation(prod))
    assert not report.isolated and len(report.gateways) == 1


def test_created_resources_are_tagged_and_cleanup_must_go_vms_first(world: SimProvider) -> None:
    async def main():  # type: ignore[no-untyped-def]
        vm_id = await clone(world, "web-01")
        tagged = await world.list_tagged("run-1")
        disk = next(r for r in tagged if r.kind is ResourceKind.DISK)
        network = next(r for r in tagged if r.kind is ResourceKind.NETWORK)
        with pytest.raises(ConflictError, match="delete the VM first"):
            await world.delete(disk.id)
        with pytest.raises(ConflictError, match="delete them first"):
            await world.delete(network.id)
        for kind in (ResourceKind.VM, ResourceKind.DISK, ResourceKind.SNAPSHOT, ResourceKind.NETWORK, ResourceKind.NSG):
            for resource in [r for r in tagged if r.kind is kind]:
                await world.delete(resource.id)
        await world.delete(vm_id)  # deleting a missing resource succeeds
        return tagged, await world.list_tagged("run-1")

    tagged, left = run(main)
    kinds = {r.kind for r in tagged}
    assert kinds == {ResourceKind.VM, ResourceKind.DISK, ResourceKind.SNAPSHOT, ResourceKind.NETWORK, ResourceKind.NSG}
    assert all(r.cost_per_day >= 0 for r in tagged) and sum(r.cost_per_day for r in tagged) > 0
    assert left == []


def test_a_drill_cannot_delete_production(world: SimProvider) -> None:
    with pytest.raises(ConflictError, match="production"):
        run(lambda: world.delete(world.truth.vm_id("sql-01")))


def test_repeating_a_create_returns_the_same_resource(world: SimProvider) -> None:
    disk = world.truth.disk_id("web-01", "os")

    async def main():  # type: ignore[no-untyped-def]
        first = await world.create_snapshot(disk, name="s", incremental=True, tags=TAGS)
        again = await world.create_snapshot(disk, name="s", incremental=True, tags=TAGS)
        return first, again

    first, again = run(main)
    assert first == again


def test_a_drill_snapshot_of_a_vm_in_a_failed_region_is_refused() -> None:
    world = make_world(incident=outage())
    with pytest.raises(NotFoundError, match="region eastus2 is down"):
        run(lambda: world.create_snapshot(world.truth.disk_id("web-01", "os"), name="s", incremental=True, tags=TAGS))


def test_vm_os_and_size_come_from_the_estate(world: SimProvider) -> None:
    vm = run(lambda: world.get_vm(world.truth.vm_id("sql-01")))
    assert (vm.os, vm.size, vm.region, vm.booted) == (OsType.WINDOWS, "Standard_E8s_v5", "eastus2", True)
    prod_group = "/subscriptions/00000000-0000-0000-0000-00000000d75a/resourceGroups/contoso-prod"
    assert vm.id == f"{prod_group}/providers/Microsoft.Compute/virtualMachines/sql-01"
    assert len(vm.disk_ids) == 3 and vm.disk_ids[0].endswith("/disks/sql-01-os")


def test_estate_with_ultra_disks_waits_for_snapshot_completion() -> None:
    estate = estate_doc()
    vms = [vm.model_dump(by_alias=True) for vm in estate.vms]
    vms[1]["disks"] = [{"name": "os", "size_gib": 64, "used_gib": 60, "sku": "UltraSSD_LRS"}]
    ultra = make_world(estate=estate_doc(vms=vms), plan=plan_doc([]) if False else None)
    premium = make_world()

    async def timed(world: SimProvider) -> float:
        start = world.now()
        await world.create_snapshot(world.truth.disk_id("web-01", "os"), name="s", incremental=True, tags=TAGS)
        return (world.now() - start).total_seconds()

    # Ultra and Premium v2 snapshots need CompletionPercent=100 before use (disks-instant-access-snapshots).
    assert run(lambda: timed(ultra)) > run(lambda: timed(premium)) + 60


def test_every_write_takes_its_round_trip_whether_it_is_done_refused_or_already_done(world: SimProvider) -> None:
    # The world answers a write after an ARM round trip (catalog arm.request_latency, 0.05-0.4 s), the
    # operation's own time added when it does something: a refusal or a repeated PUT is not instant.
    latency = default_catalog().arm.request_latency

    async def timed(call):  # type: ignore[no-untyped-def]
        start = world.now()
        await call()
        return (world.now() - start).total_seconds()

    async def refuse_production() -> None:
        with pytest.raises(ConflictError, match="production"):
            await world.delete(world.truth.vm_id("web-01"))

    async def main() -> list[float]:
        network = await bubble(world)
        return [
            await timed(refuse_production),
            await timed(lambda: world.delete(f"{network}-missing")),  # nothing to delete: done
            await timed(lambda: world.create_isolated_network(name="bubble", region="eastus2", cidr="10.250.0.0/16", tags=TAGS)),
            await timed(lambda: world.create_isolated_network(name="second", region="eastus2", cidr="10.251.0.0/16", tags=TAGS)),
        ]

    refused, missing, repeated, created = run(main)
    for answered in (refused, missing, repeated):
        assert latency.low <= answered <= latency.high
    assert created > latency.high  # the round trip and the provisioning (10-40 s)
