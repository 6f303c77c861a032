"""Cross-region restore through AzureProvider and the passive-stamp client against the ARM emulator: the
points of the secondary region are those the simulated world gives for the same request (a point is
there once replication to the paired region caught up with it, up to 12 h after it was taken:
azure-facts.md, Azure Backup, reliability-backup), a restore as disks in the secondary region is
followed to its job there, tagged and cleaned up, a resumed run follows the job by its id, and a vault
without cross-region restore is refused as Azure refuses it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cloud.api import RUN_TAG, JobStatus, PointTier, RestoreMode
from drsim.cloud.azure.provider import CRR_JOBS, AzureProvider
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.emulator.state import crr_staging_name
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.errors import ConflictError
from drsim.model.documents import AzureOptions

DRILLS = Path(__file__).resolve().parents[3] / "drills"
SECONDARY = "centralus"
# 05:00: the day's 02:00 backups (jitter up to 2 h) have their snapshots, not yet their copy in centralus.
EARLY = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)


def options_for(handle: server.EmulatorHandle, *, crr_staging: str | None = None) -> AzureOptions:
    return AzureOptions(
        subscription_id=handle.subscription_id,
        resource_group=DRILL_GROUP,
        endpoint=handle.url,
        staging_storage_account=staging_account(handle.subscription_id),
        crr_staging_storage_account=crr_staging or staging_account(handle.subscription_id, name=crr_staging_name(SECONDARY)),
    )


def serve(speed: float):
    options = world_module.EmulatorOptions(
        estate=DRILLS / "estates" / "contoso.yaml",
        plan=DRILLS / "plans" / "asr-and-daily-backup.yaml",
        seed=11,
        speed=speed,
        incident_at=EARLY,
    )
    return server.EmulatorThread(options)


@pytest.fixture(scope="module")
def emulator():
    """The world at 60 times real time: the tests that read it stay within minutes of EARLY."""
    thread = serve(60.0)
    with thread as handle:
        yield thread, handle


@pytest.fixture
def fast_emulator():
    """The same world at 2000 times real time, for a restore whose job runs tens of world minutes: nothing
    compared depends on the speed (the point restored is the one listed; the job is followed to its end)."""
    thread = serve(2000.0)
    with thread as handle:
        yield thread, handle


def test_the_secondary_regions_points_are_the_simulations_and_lag_the_primary(emulator) -> None:
    thread, handle = emulator

    async def through_azure() -> dict[str, tuple[list, list]]:
        async with AzureProvider(options_for(handle), polling_interval=0.05) as provider:
            found = {}
            for item in await provider.backup_items():
                if item.vm_name.startswith(("web-", "app-", "sql-")):
                    primary = await provider.list_backup_points(item.vm_id)
                    found[item.vm_id] = (primary, await provider.list_backup_points(item.vm_id, region=SECONDARY))
            return found

    seen = asyncio.run(through_azure())
    assert len(seen) == 6
    lagging = 0
    for vm_id, (primary, secondary) in seen.items():
        world = thread.call(lambda vm_id=vm_id: handle.world.list_backup_points(vm_id, region=SECONDARY))
        # The same points as the simulated world answers for the same request (ids, instants, types, tiers).
        assert [(p.id, p.time, p.type, p.tiers, p.region) for p in secondary] == [(p.id, p.time, p.type, p.tiers, p.region) for p in world]
        assert secondary and all(p.tiers == frozenset({PointTier.VAULT}) and p.region == SECONDARY for p in secondary)
        assert {p.time for p in secondary} <= {p.time for p in primary}
        assert max(p.time for p in secondary) <= max(p.time for p in primary)
        lagging += max(p.time for p in secondary) < max(p.time for p in primary)
    # At 05:00 the day's backups are hours old: most have not reached centralus yet (seed 11: 5 of 6), so
    # a cross-region restore would restore an older point than an in-region one.
    assert lagging >= 5


def test_a_cross_region_restore_as_disks_is_followed_tagged_resumed_and_cleaned_up(fast_emulator) -> None:
    _, handle = fast_emulator
    tags = {RUN_TAG: "crr-disks-test"}

    async def main() -> None:
        async with AzureProvider(options_for(handle), polling_interval=0.05) as provider:
            item = next(i for i in await provider.backup_items() if i.vm_name == "app-01")
            point = (await provider.list_backup_points(item.vm_id, region=SECONDARY))[-1]
            network = await provider.create_isolated_network(name="crr-bubble", region=SECONDARY, cidr="10.250.0.0/16", tags=tags)
            job = await provider.restore_backup(
                item.vm_id,
                point.id,
                mode=RestoreMode.DISKS,
                tier=None,
                region=SECONDARY,
                network_id=network.id,
                name="app-01-crr",
                tags=tags,
            )
            assert job.id.endswith(f"/locations/{SECONDARY}/{CRR_JOBS}/" + job.id.rsplit("/", 1)[-1])
            assert job.tier is PointTier.VAULT
        # A resumed run knows only the job's id: a new provider follows it in the secondary region.
        async with AzureProvider(options_for(handle), polling_interval=0.05) as resumed:
            followed = await resumed.get_job(job.id)
            while not followed.status.ended:
                await asyncio.sleep(0.05)
                followed = await resumed.get_job(job.id)
            assert followed.status is JobStatus.SUCCEEDED, followed.error
            assert followed.recovery_point_time == point.time.replace(microsecond=0)  # the property bag has seconds
            assert len(followed.created) == 2 and all("/disks/" in r.lower() for r in followed.created)
        async with AzureProvider(options_for(handle), polling_interval=0.05) as provider:
            provider._job_tags[job.id] = dict(tags)  # what the provider that triggered it knew
            done = await provider.get_job(job.id)
            tagged = {r.id.lower() for r in await provider.list_tagged("crr-disks-test")}
            assert {r.lower() for r in done.created} <= tagged
            for rid in [*done.created, network.id, network.nsg_id]:
                await provider.delete(rid)
            assert await provider.list_tagged("crr-disks-test") == []

    asyncio.run(main())


def test_a_staging_account_outside_the_secondary_region_is_refused_before_anything_starts(emulator) -> None:
    _, handle = emulator

    async def main() -> list[str]:
        primary = staging_account(handle.subscription_id)  # drsimstaging, in eastus2
        async with AzureProvider(options_for(handle, crr_staging=primary), polling_interval=0.05) as provider:
            return await provider.check_crr_staging_account([SECONDARY])

    (problem,) = asyncio.run(main())
    assert "eastus2" in problem and "secondary region" in problem


def test_a_vault_without_cross_region_restore_is_refused() -> None:
    options = world_module.EmulatorOptions(
        estate=DRILLS / "estates" / "contoso.yaml", plan=DRILLS / "plans" / "daily-backup.yaml", seed=11, speed=60.0, incident_at=EARLY
    )
    thread = server.EmulatorThread(options)
    with thread as handle:

        async def main() -> str:
            async with AzureProvider(options_for(handle), polling_interval=0.05) as provider:
                item = next(i for i in await provider.backup_items() if i.vm_name == "web-01")
                with pytest.raises(ConflictError, match="Cross Region Restore is not enabled in this vault"):
                    await provider.list_backup_points(item.vm_id, region=SECONDARY)
                with pytest.raises(ConflictError, match="whose cross-region restore points are in centralus, not westus"):
                    await provider.list_backup_points(item.vm_id, region="westus")
                return item.vm_id

        vm_id = asyncio.run(main())
        # The simulated world refuses the same request alike.
        with pytest.raises(ConflictError, match="Cross Region Restore is not enabled in vault"):
            thread.call(lambda: handle.world.list_backup_points(vm_id, region=SECONDARY))
