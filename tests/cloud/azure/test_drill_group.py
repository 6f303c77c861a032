"""A drill against Azure never runs in a resource group that holds production: Azure's own listing of
the group is checked before anything is created (validation checks what the estate says)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cli import main
from drsim.cloud.api import RUN_TAG
from drsim.cloud.azure.provider import connect
from drsim.cloud.azure.safety import ListedResource, check_drill_group, production_in
from drsim.cloud.sim.resources import DRILL_GROUP, production_group
from drsim.errors import UsageError
from drsim.model import Estate, load
from drsim.model.documents import AzureOptions

DRILLS = Path(__file__).resolve().parents[3] / "drills"
ESTATE = DRILLS / "estates" / "contoso.yaml"
PLAN = DRILLS / "plans" / "asr-and-daily-backup.yaml"
PRODUCTION = production_group("contoso")  # where the emulator's world keeps the estate


@pytest.fixture(scope="module")
def emulator():
    thread = server.EmulatorThread(world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, seed=3, speed=600.0))
    with thread as handle:
        yield thread, handle


@pytest.fixture(scope="module")
def estate() -> Estate:
    return load(ESTATE, Estate).doc


def checked(handle, group: str, estate: Estate) -> None:
    async def main() -> None:
        options = AzureOptions(subscription_id=handle.subscription_id, resource_group=group, endpoint=handle.url)
        async with await connect(options, polling_interval=0.05) as provider:
            await check_drill_group(provider, estate)

    asyncio.run(main())


def test_the_production_group_is_refused_from_azures_listing(emulator, estate: Estate) -> None:
    _, handle = emulator
    with pytest.raises(UsageError, match=rf"resource group {PRODUCTION} holds production \(.* of estate contoso and \d+ more\)"):
        checked(handle, PRODUCTION, estate)


@pytest.mark.parametrize("group", [DRILL_GROUP, "a-group-that-does-not-exist-yet"])
def test_a_group_of_the_drills_own_or_a_new_one_is_accepted(emulator, estate: Estate, group: str) -> None:
    _, handle = emulator
    checked(handle, group, estate)


def listing(handle, group: str) -> list[str]:
    async def main() -> list[str]:
        options = AzureOptions(subscription_id=handle.subscription_id, resource_group=DRILL_GROUP, endpoint=handle.url)
        async with await connect(options, polling_interval=0.05) as provider:
            return sorted([r.id async for r in provider.clients.resources.resources.list_by_resource_group(group)])

    return asyncio.run(main())


def test_drill_run_refuses_the_production_group_before_creating_anything(emulator, tmp_path: Path) -> None:
    _, handle = emulator
    data = yaml.safe_load((DRILLS / "2026-q4-shop-asr.yaml").read_text())
    for key in ("runbook", "estate", "plan"):
        data[key] = str((DRILLS / data[key]).resolve())
    data["provider"] = "azure"
    data["azure"] = {"subscription_id": handle.subscription_id, "resource_group": PRODUCTION, "endpoint": handle.url}
    drill = tmp_path / "drill.yaml"
    drill.write_text(yaml.safe_dump(data, sort_keys=False))
    before = listing(handle, PRODUCTION)
    run = CliRunner().invoke(main, ["drill", "run", str(drill), "--out", str(tmp_path / "reports"), "--quiet"])
    assert run.exit_code == 2, run.output
    assert f"resource group {PRODUCTION} holds production" in run.output
    assert not list((tmp_path / "reports").rglob("journal.jsonl"))
    assert listing(handle, PRODUCTION) == before
    assert any("/virtualmachines/sql-01" in rid.lower() for rid in before)


def test_what_counts_as_the_estates_own(estate: Estate) -> None:
    listed = [
        ListedResource("Microsoft.Compute/virtualMachines", "sql-01", {}),
        ListedResource("Microsoft.Compute/virtualMachines", "sql-01-restored", {}),
        ListedResource("Microsoft.Compute/virtualMachines", "web-01", {RUN_TAG: "run-1"}),  # a drill's own
        ListedResource("Microsoft.Compute/disks", "sql-01_data1", {}),
        ListedResource("Microsoft.Compute/disks", "sql-01-data9", {}),
        ListedResource("Microsoft.Network/virtualNetworks", "PROD-VNET", {}),
        ListedResource("Microsoft.Network/networkSecurityGroups", "prod-vnet", {}),
    ]
    assert production_in(listed, estate) == ["VM sql-01", "disk sql-01_data1 of VM sql-01", "virtual network PROD-VNET"]
