"""The Azure provider's names (within Azure's limits, deterministic, unique, readable), the pages it
reads (every one), the disk SKU it asks for and the NICs it leaves nothing of."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import drsim.cloud.emulator.server as server
from drsim.cloud.api import RUN_TAG, ResourceKind
from drsim.cloud.azure.names import HASH_CHARS, azure_name, computer_name, fit, nic_name
from drsim.cloud.azure.provider import AzureProvider
from drsim.cloud.emulator.world import ArmSettings, EmulatorOptions
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.model.documents import AzureOptions
from drsim.model.types import OsType

DRILLS = Path(__file__).resolve().parents[3] / "drills"
LONG = "dr938047-" + "payments-reporting-warehouse-" * 3 + "restore"


def test_names_that_fit_are_kept() -> None:
    assert azure_name("dr938047-web-01-web", ResourceKind.VM) == "dr938047-web-01-web"
    assert nic_name("dr938047-web-01-web") == "dr938047-web-01-web-nic"


def test_long_names_keep_their_head_and_end_with_a_hash_of_the_whole() -> None:
    vm = azure_name(LONG, ResourceKind.VM)
    assert len(vm) == 64 and vm.startswith("dr938047-payments-reporting") and vm == azure_name(LONG, ResourceKind.VM)
    other = azure_name(LONG + "-2", ResourceKind.VM)
    assert other != vm and other[:40] == vm[:40]  # same head, told apart by the hash
    assert len(azure_name(LONG, ResourceKind.DISK)) == 80 and len(nic_name(vm)) <= 80
    assert not fit("a" * 60 + "-" * 10, 64).split("-")[0].endswith("-")


def test_computer_names_fit_the_guest() -> None:
    windows = computer_name(LONG, windows=True)
    assert len(windows) == 15 and windows == computer_name(LONG, windows=True)
    assert windows[-HASH_CHARS:].isalnum() and computer_name(LONG + "x", windows=True) != windows
    assert computer_name("sql_01.prod", windows=True) == "sql-01-prod"
    assert computer_name("2026", windows=True) == "w2026"  # never all digits
    assert len(computer_name(LONG, windows=False)) == 64


@pytest.fixture(scope="module")
def one_per_page():
    """The example estate served one item a page: every list the provider reads is many pages."""
    options = EmulatorOptions(estate=DRILLS / "estates/contoso.yaml", plan=DRILLS / "plans/snapshots-6h.yaml", speed=600.0)
    thread = server.EmulatorThread(options, settings=ArmSettings(page_size=1))
    with thread as handle:
        yield thread, handle


def with_provider(handle, scenario):
    async def main():
        options = AzureOptions(subscription_id=handle.subscription_id, resource_group=DRILL_GROUP, endpoint=handle.url)
        async with AzureProvider(options, polling_interval=0.05) as provider:
            return await scenario(provider)

    return asyncio.run(main())


def test_the_provider_reads_every_page(one_per_page) -> None:
    thread, handle = one_per_page

    async def read(provider: AzureProvider):
        return await provider.list_vms(), await provider.list_snapshots()

    before = {s.id for s in thread.call(handle.world.list_snapshots)}
    vms, snapshots = with_provider(handle, read)
    after = {s.id for s in thread.call(handle.world.list_snapshots)}
    world_vms = thread.call(handle.world.list_vms)
    assert sorted(v.name for v in vms) == sorted(v.name for v in world_vms) and len(vms) > 2
    # The emulator's clock runs (600x) while the pages are read: scheduled snapshots appear and expire.
    # Every snapshot that existed throughout is listed, once; nothing is listed that never existed.
    listed = [s.id for s in snapshots]
    assert len(listed) == len(set(listed)) and len(listed) > 2
    assert before & after <= set(listed) <= before | after


def test_a_long_vm_name_a_production_sku_and_the_nic_are_right_through_arm(one_per_page) -> None:
    _, handle = one_per_page
    tags = {RUN_TAG: "names"}

    async def scenario(provider: AzureProvider):
        network = await provider.create_isolated_network(name="bubble-names", region="eastus2", cidr="10.251.0.0/16", tags=tags)
        web = next(v for v in await provider.list_vms() if v.name == "web-01")
        snap = await provider.create_snapshot(web.disk_ids[0], name="names-snap", incremental=True, tags=tags)
        disk = await provider.create_disk(snap.id, name=f"{LONG}-os", region="eastus2", tags=tags)  # the estate's SKU unknown: production's
        premium = await provider.create_disk(snap.id, name="names-premium", region="eastus2", tags=tags, sku="Premium_LRS")
        vm = await provider.create_vm(
            name=LONG, region="eastus2", size="Standard_D2s_v5", os=OsType.LINUX, disk_ids=[disk.id], network_id=network.id, tags=tags
        )
        skus = {}
        for made in (disk, premium):
            ref = made.id.rsplit("/", 1)[-1]
            skus[ref] = (await provider.clients.compute.disks.get(DRILL_GROUP, ref)).sku.name
        prod_sku = (await provider.clients.compute.disks.get(web.disk_ids[0].split("/")[4], web.disk_ids[0].rsplit("/", 1)[-1])).sku.name
        for rid in (vm.id, disk.id, premium.id, snap.id, network.id, network.nsg_id):
            await provider.delete(rid)
        left = await provider.list_tagged("names")
        return vm, disk, skus, prod_sku, left

    vm, disk, skus, prod_sku, left = with_provider(handle, scenario)
    assert vm.name == azure_name(LONG, ResourceKind.VM) and len(vm.name) == 64
    assert disk.name == azure_name(f"{LONG}-os", ResourceKind.DISK)
    assert skus == {disk.name: prod_sku, "names-premium": "Premium_LRS"}
    assert left == []  # the VM took its NIC (deleteOption Delete), so the network could go after it
