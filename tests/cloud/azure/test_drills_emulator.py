"""Every example drill, through AzureProvider and the unmodified SDK against the ARM emulator, gives the
same recovery points, measured RPO and created-then-deleted resources as in the simulated world.

The emulator serves the simulated world of the same drill and seed, built as `simulate_drill`
builds it but on a ScaledClock (real time SPEED times faster) that starts when the incident is
detected; the drill reads the world's time (EmulatorClock). Points chosen from schedules (Backup,
Site Recovery, scheduled snapshots) are equal; a `source: fresh` snapshot is taken at the moment
the drill asks, which against real time drifts by the HTTP round trips times SPEED, so those and
all times are compared with a tolerance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import drsim.cloud.emulator.server as server
from drsim.clock import ScaledClock
from drsim.cloud.api import TaggedResource
from drsim.cloud.azure.clock import EmulatorClock
from drsim.cloud.azure.provider import connect
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.emulator.state import crr_staging_name, estate_vm_uuids
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog, load_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.drills import _simulate, catalog_estimates, run_id_for
from drsim.engine.run import EventSink, RunSpec, execute, plan_drill
from drsim.measure.events import ResourceCreated, ResourceDeleted
from drsim.measure.result import DrillResult
from drsim.measure.timeline import drill_result
from drsim.model.checks import DrillBundle, cross_region_vms, load_drill
from drsim.model.documents import AsrStep, AzureOptions, BackupStep, SnapshotCloneStep
from drsim.model.types import SnapshotSource

DRILLS = Path(__file__).resolve().parents[3] / "drills"
EXAMPLES = sorted(p for p in DRILLS.glob("*.yaml") if "kind: Drill" in p.read_text())
# No example drill restores cross-region: this one does (the web and app tiers as VMs in centralus from
# the GRS vault's cross-region restore points), through the passive-stamp client.
CRR_DRILL = Path(__file__).resolve().parent / "data" / "crr-drill.yaml"
SPEED = 1000.0  # world seconds per real second: a two-hour drill takes about 7 s
# Against the emulator every request's round trip (milliseconds, more on a loaded machine) lasts SPEED
# times longer in world time, where the simulation waits only the operations' own durations; a recovery
# path chains dozens of them (snapshot, disk, NIC, VM, Run Command, their polls ...). The tolerance is
# what it was at 600x (8 real seconds then), in world seconds; the worst drift measured on 2 cores was
# 925 s at 600x (load 6-7), 1243 s at 1000x (load 5) and 2740 s at 2000x (load 6-7: too close), so 1000x.
TIME_TOLERANCE = timedelta(seconds=4800)


@dataclass
class Run:
    result: DrillResult
    events: list[object]
    leftovers: list[TaggedResource]


def catalog_of(bundle: DrillBundle):
    calibration = bundle.drill.doc.sim.calibration
    return load_catalog(calibration) if calibration else default_catalog()


def simulated(bundle: DrillBundle) -> Run:
    drill = bundle.drill.doc
    assert isinstance(drill.incident_at, datetime)
    sink = EventSink(None, ())
    execution, _ = _simulate(
        drill_name=drill.name,
        runbook=bundle.runbook.doc,
        estate=bundle.estate.doc,
        plan=bundle.plan.doc,
        incident_at=drill.incident_at,
        seed=drill.seed,
        options=drill.sim,
        concurrency=drill.concurrency,
        sink=sink,
        run_id=run_id_for(drill.incident_at, drill.seed),
        catalog=catalog_of(bundle),
    )
    return Run(drill_result(execution.events, bundle.runbook.doc, bundle.estate.doc, execution.apps), list(sink.events), [])


def against_emulator(bundle: DrillBundle) -> Run:
    drill = bundle.drill.doc
    runbook, estate, plan = bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    assert isinstance(drill.incident_at, datetime)
    incident = incident_from_scenario(runbook.scenario, estate, drill.incident_at)
    catalog = catalog_of(bundle)
    # The estate as `drsim discover` writes it: with each VM's vmId, which the canary check needs when
    # production's region is down.
    estate = estate_vm_uuids(estate)
    world = build_world(
        estate, plan, incident=incident, seed=drill.seed, clock=ScaledClock(incident.detected_at, SPEED), options=drill.sim, catalog=catalog
    )
    run_id = run_id_for(drill.incident_at, drill.seed)
    # Pages of 100: at the default 2, listing a subscription's hundreds of scheduled snapshots takes
    # hundreds of round trips, each SPEED times longer in world time than on Azure; paging itself is
    # tested at the default page size (test_provider_emulator, test_discovery_emulator).
    thread = server.EmulatorThread(world, settings=ArmSettings(page_size=100))
    with thread as handle:

        async def main() -> Run:
            options = AzureOptions(
                subscription_id=handle.subscription_id,
                resource_group=DRILL_GROUP,
                endpoint=handle.url,
                staging_storage_account=staging_account(handle.subscription_id),
                crr_staging_storage_account=crr_staging(bundle, handle.subscription_id),
            )
            sink = EventSink(None, ())
            # connect() reads the world's time from the emulator's headers: the drill runs on it.
            async with await connect(options, polling_interval=0.05) as provider:
                clock = provider.clock
                assert isinstance(clock, EmulatorClock) and clock.speed == SPEED
                inventory = await provider.inventory()
                spec = RunSpec(
                    drill_name=drill.name,
                    runbook=runbook,
                    estate=estate,
                    plan=plan,
                    run_id=run_id,
                    seed=drill.seed,
                    incident_at=drill.incident_at,
                    detected_at=incident.detected_at,
                    concurrency=drill.concurrency,
                    catalog_version=catalog.label,
                    production_ids=inventory.get,
                )
                planned = plan_drill(
                    runbook, estate, plan, drill=drill.name, concurrency=drill.concurrency, estimates=catalog_estimates(catalog, estate)
                )
                execution = await execute(spec, provider=provider, clock=clock, sink=sink, planned=planned)
                leftovers = await provider.list_tagged(run_id)
            return Run(drill_result(execution.events, runbook, estate, execution.apps), list(sink.events), leftovers)

        return asyncio.run(main())


def crr_staging(bundle: DrillBundle, subscription_id: str) -> str | None:
    """The emulator's staging account in the region a runbook restores to cross-region, if it does."""
    regions = {s.with_.region for s in bundle.runbook.doc.steps if isinstance(s, BackupStep) and cross_region_vms(s, bundle.estate.doc)}
    assert len(regions) <= 1
    return staging_account(subscription_id, name=crr_staging_name(regions.pop())) if regions and None not in regions else None


def close(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a == b
    return abs(datetime.fromisoformat(a.replace("Z", "+00:00")) - datetime.fromisoformat(b.replace("Z", "+00:00"))) <= TIME_TOLERANCE


def fresh_steps(bundle: DrillBundle) -> set[str]:
    return {s.id for s in bundle.runbook.doc.steps if isinstance(s, SnapshotCloneStep) and s.with_.source is SnapshotSource.FRESH}


def lifecycle(events: list[object]) -> tuple[list[str], list[str]]:
    created = sorted(e.id.lower() for e in events if isinstance(e, ResourceCreated))
    deleted = sorted(e.id.lower() for e in events if isinstance(e, ResourceDeleted))
    return created, deleted


@pytest.fixture(scope="module", params=[*EXAMPLES, CRR_DRILL], ids=lambda p: p.stem)
def runs(request) -> tuple[DrillBundle, Run, Run]:
    bundle = load_drill(request.param)
    return bundle, simulated(bundle), against_emulator(bundle)


def test_the_drill_ends_as_in_the_simulation_with_the_same_recovery_points(runs):
    bundle, sim, azure = runs
    assert azure.result.status == sim.result.status
    assert [(t.step, t.vm, t.status) for t in azure.result.tasks] == [(t.step, t.vm, t.status) for t in sim.result.tasks]
    fresh = fresh_steps(bundle)
    for ours, theirs in zip(azure.result.tasks, sim.result.tasks, strict=True):
        if ours.step in fresh:
            assert close(ours.recovery_point_at, theirs.recovery_point_at), (ours.step, ours.vm)
        else:
            assert ours.recovery_point_at == theirs.recovery_point_at, (ours.step, ours.vm)


def test_the_measured_rpo_is_that_of_the_simulation(runs):
    bundle, sim, azure = runs
    fresh_vms = {t.vm for t in sim.result.tasks if t.step in fresh_steps(bundle)}
    for ours, theirs in zip(azure.result.apps, sim.result.apps, strict=True):
        assert (ours.app, ours.consistent, ours.rpo_met) == (theirs.app, theirs.consistent, theirs.rpo_met)
        app_vms = {vm.name for vm in bundle.estate.doc.select(bundle.estate.doc.app(ours.app).vms)}
        if app_vms & fresh_vms and ours.rpo_s is not None and theirs.rpo_s is not None:
            assert abs(ours.rpo_s - theirs.rpo_s) <= TIME_TOLERANCE.total_seconds(), ours.app
        else:
            assert (ours.rpo_s, ours.rpo_claimed_s) == (theirs.rpo_s, theirs.rpo_claimed_s), ours.app


def test_recovery_times_agree_within_the_emulator_poll_granularity(runs):
    _, sim, azure = runs
    for ours, theirs in zip(azure.result.apps, sim.result.apps, strict=True):
        for moment in ("trigger_at", "infra_ready_at", "healthy_at"):
            assert close(getattr(ours, moment), getattr(theirs, moment)), (ours.app, moment)


def test_the_same_resources_are_created_and_all_deleted(runs):
    _, sim, azure = runs
    created, deleted = lifecycle(azure.events)
    assert (created, deleted) == lifecycle(sim.events)
    assert deleted == created
    assert azure.result.cleanup.status == sim.result.cleanup.status == "done"
    assert azure.leftovers == []


def test_what_the_drill_creates_itself_is_priced_as_in_the_simulation(runs):
    # VMs, disks and networks drsim creates through ARM carry the catalog's list price per day, as in
    # the simulated world; what a Backup or Site Recovery job creates is priced only as a leftover.
    bundle, sim, azure = runs
    theirs = {e.id.lower(): e.cost_per_day for e in sim.events if isinstance(e, ResourceCreated)}
    unpriced = [e.id for e in azure.events if isinstance(e, ResourceCreated) and e.cost_per_day is None]
    priced = [e for e in azure.events if isinstance(e, ResourceCreated) and e.cost_per_day is not None]
    assert priced  # every example creates at least its isolated network
    for created in priced:
        kind = created.resource_kind.rsplit("/", 1)[-1]
        if kind in ("virtualMachines", "disks", "virtualNetworks", "networkSecurityGroups"):
            assert created.cost_per_day == theirs[created.id.lower()], created.id
        else:  # snapshots and images: ARM reports no used size, so the disk size bounds the price
            assert created.cost_per_day >= theirs[created.id.lower()], created.id
    by_jobs = any(isinstance(step, BackupStep | AsrStep) for step in bundle.runbook.doc.steps)
    assert bool(unpriced) == by_jobs, unpriced
