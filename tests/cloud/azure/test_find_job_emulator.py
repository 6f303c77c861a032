"""A resumed drill finds the restore or test failover Azure accepted before drsim journaled its job id
(AzureProvider.find_job), as Azure shows it, through the unmodified SDK against the ARM emulator: a
Backup restore in the vault's backupJobs (operation Restore, the VM, started since), a test failover as
the replicated item's currentScenario; a job started before `since`, or none, is not taken."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import yaml

import drsim.cloud.emulator.server as server
from drsim.clock import ScaledClock
from drsim.cloud.api import RUN_TAG, JobKind, PointTier, RestoreMode
from drsim.cloud.azure.provider import connect
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.model.checks import load_drill
from drsim.model.documents import AzureOptions
from drsim.model.types import ReplicationPointChoice

DRILLS = Path(__file__).resolve().parents[3] / "drills"
SPEED = 600.0


def a_drill(tmp_path: Path) -> Path:
    """The shop under Backup and Site Recovery, app-01 deleted (eastus2 stays up)."""
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "find-job"},
        "scenario": {"incident": "accidental-delete", "vms": {"name": "app-01"}},
        "steps": [{"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}}],
    }
    (tmp_path / "runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": "find-job"},
        "runbook": "runbook.yaml",
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / "asr-and-daily-backup.yaml"),
        "incident_at": "2026-11-20T14:00:00Z",
        "seed": 42,
    }
    (tmp_path / "drill.yaml").write_text(yaml.safe_dump(drill, sort_keys=False))
    return tmp_path / "drill.yaml"


def test_find_job_finds_an_accepted_restore_and_test_failover_as_azure_shows_them(tmp_path: Path) -> None:
    bundle = load_drill(a_drill(tmp_path))
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    incident = incident_from_scenario(runbook.scenario, estate, drill.incident_at)  # type: ignore[arg-type]
    world = build_world(
        estate, plan, incident=incident, seed=drill.seed, clock=ScaledClock(incident.detected_at, SPEED), catalog=default_catalog()
    )
    with server.EmulatorThread(world, settings=ArmSettings(page_size=100)) as handle:

        async def main():  # type: ignore[no-untyped-def]
            options = AzureOptions(
                subscription_id=handle.subscription_id,
                resource_group=DRILL_GROUP,
                endpoint=handle.url,
                staging_storage_account=staging_account(handle.subscription_id),
            )
            tags = {RUN_TAG: "resume-find-job"}
            async with await connect(options, polling_interval=0.05) as first:
                ids = await first.inventory()
                since = first.clock.now()
                network = await first.create_isolated_network(name="drfind-bubble", region="eastus2", cidr="10.250.0.0/16", tags=tags)
                central = await first.create_isolated_network(name="drfind-central", region="centralus", cidr="10.251.0.0/16", tags=tags)
                point = (await first.list_backup_points(ids["app-01"]))[-1]
                restore = await first.restore_backup(
                    ids["app-01"],
                    point.id,
                    mode=RestoreMode.DISKS,
                    tier=None,
                    region="eastus2",
                    network_id=network.id,
                    name="drfind-app-01",
                    tags=tags,
                )
                failover = await first.test_failover(
                    ids["web-01"], choice=ReplicationPointChoice.LATEST_PROCESSED, network_id=central.id, tags=tags
                )
            # A second process (the resumed drill) knows neither job id.
            async with await connect(options, polling_interval=0.05) as second:
                found_restore = await second.find_job(JobKind.RESTORE, ids["app-01"], since=since)
                found_failover = await second.find_job(JobKind.TEST_FAILOVER, ids["web-01"], since=since)
                none_for_another_vm = await second.find_job(JobKind.RESTORE, ids["app-02"], since=since)
                too_early = await second.find_job(JobKind.RESTORE, ids["app-01"], since=second.clock.now() + timedelta(hours=1))
                second.adopt_job(restore.id, tags=tags, mode=RestoreMode.DISKS, target="drfind-app-01", tier=PointTier.SNAPSHOT)
                followed = await second.get_job(restore.id)
            return restore, failover, found_restore, found_failover, none_for_another_vm, too_early, followed

        restore, failover, found_restore, found_failover, none_for_another_vm, too_early, followed = asyncio.run(main())

    assert found_restore is not None and found_restore.id.lower() == restore.id.lower()
    assert found_restore.kind is JobKind.RESTORE
    assert found_failover is not None and found_failover.id.lower() == failover.id.lower()
    assert found_failover.kind is JobKind.TEST_FAILOVER
    assert none_for_another_vm is None and too_early is None
    assert followed.tier is PointTier.SNAPSHOT  # handed back by adopt_job, as journaled
