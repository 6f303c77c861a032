"""Nothing orphaned, against the ARM emulator through the unmodified SDK: a step timeout in the middle of
a Site Recovery test failover. The failover is journaled when Azure accepts it; cleanup waits for its
job, runs 'cleanup test failover', deletes what the run made, and a final listing of the drill's
resource group finds nothing of the run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

import drsim.cloud.emulator.server as server
from drsim.clock import ScaledClock
from drsim.cloud.api import JobKind
from drsim.cloud.azure.provider import connect
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.drills import catalog_estimates, run_id_for
from drsim.engine.run import EventSink, RunSpec, execute, plan_drill
from drsim.measure.events import CleanupFinished, CleanupTestFailover, OperationAccepted, ResourceCreated, ResourceDeleted, TaskFailed
from drsim.model.checks import load_drill
from drsim.model.documents import AzureOptions
from drsim.model.types import CleanupStatus

DRILLS = Path(__file__).resolve().parents[3] / "drills"
SPEED = 600.0


def drill_with_a_short_failover_timeout(tmp_path: Path) -> Path:
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "asr-cut-short"},
        "scenario": {"incident": "region-outage", "region": "eastus2"},
        "steps": [
            {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}},
            {
                "id": "db",
                "action": "asr.test_failover",
                "needs": ["bubble"],
                # A test failover takes longer than two (world) minutes: the step times out while its job runs.
                "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "recovery_point": "latest-multi-vm-processed"},
                "timeout": "2m",
            },
        ],
        "cleanup": "always",
    }
    (tmp_path / "runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": "asr-cut-short"},
        "runbook": "runbook.yaml",
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / "asr-and-daily-backup.yaml"),
        "incident_at": "2026-11-20T14:00:00Z",
        "seed": 42,
    }
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def test_a_step_timeout_in_the_middle_of_a_test_failover_leaves_nothing_behind(tmp_path: Path) -> None:
    bundle = load_drill(drill_with_a_short_failover_timeout(tmp_path))
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    incident = incident_from_scenario(runbook.scenario, estate, drill.incident_at)  # type: ignore[arg-type]
    catalog = default_catalog()
    world = build_world(estate, plan, incident=incident, seed=drill.seed, clock=ScaledClock(incident.detected_at, SPEED), catalog=catalog)
    run_id = run_id_for(drill.incident_at, drill.seed)  # type: ignore[arg-type]

    thread = server.EmulatorThread(world, settings=ArmSettings(page_size=100))  # few round trips: 2m of world time is 0.2 s here
    with thread as handle:

        async def main():  # type: ignore[no-untyped-def]
            options = AzureOptions(subscription_id=handle.subscription_id, resource_group=DRILL_GROUP, endpoint=handle.url)
            sink = EventSink(None, ())
            async with await connect(options, polling_interval=0.05) as provider:
                inventory = await provider.inventory()
                # What the drill's resource group held before the drill (its Backup staging account).
                before = {r.id async for r in provider.clients.resources.resources.list_by_resource_group(DRILL_GROUP)}
                spec = RunSpec(
                    drill_name=drill.name,
                    runbook=runbook,
                    estate=estate,
                    plan=plan,
                    run_id=run_id,
                    seed=drill.seed,
                    incident_at=drill.incident_at,  # type: ignore[arg-type]
                    detected_at=incident.detected_at,
                    concurrency=drill.concurrency,
                    catalog_version=catalog.label,
                    production_ids=inventory.get,
                )
                planned = plan_drill(runbook, estate, plan, drill=drill.name, concurrency=2, estimates=catalog_estimates(catalog, estate))
                await execute(spec, provider=provider, clock=provider.clock, sink=sink, planned=planned)
                # The final listing: everything in the drill's resource group, tagged or not, that was not there before.
                left = [r.id async for r in provider.clients.resources.resources.list_by_resource_group(DRILL_GROUP) if r.id not in before]
            return list(sink.events), left

        events, left = asyncio.run(main())
        vms_after = [vm.name for vm in thread.call(world.list_vms)]

    accepted = [e for e in events if isinstance(e, OperationAccepted)]
    assert [(e.vm, e.operation) for e in accepted] == [("sql-01", JobKind.TEST_FAILOVER.value)]
    assert "/replicationJobs/" in accepted[0].job  # the job Azure runs, found from the item's currentScenario
    failed = next(e for e in events if isinstance(e, TaskFailed) and e.vm == "sql-01")
    assert events.index(accepted[0]) < events.index(failed)
    (ended,) = [e for e in events if isinstance(e, CleanupTestFailover)]
    assert ended.succeeded, ended.error
    created = {e.id.lower() for e in events if isinstance(e, ResourceCreated)}
    assert any("/virtualmachines/" in rid for rid in created)  # the test VM, recorded by cleanup once its job ended
    assert created == {e.id.lower() for e in events if isinstance(e, ResourceDeleted)}
    finished = next(e for e in events if isinstance(e, CleanupFinished))
    assert finished.status is CleanupStatus.DONE and finished.leftovers == ()
    assert left == []
    assert not [name for name in vms_after if name.endswith("-test")]  # and the world holds no test VM
