"""Incidents of the simulated world and the data-version model (DESIGN.md): what breaks, and what data comes back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from simworld import INCIDENT, make_world, outage, plan_doc, run, strike

from drsim.cloud.api import RUN_TAG, PointType, RestoreMode
from drsim.cloud.sim import IncidentSpec, SimProvider, incident_from_scenario
from drsim.cloud.sim.workload import CANARY_EPOCH, Workload, marker_at
from drsim.errors import NotFoundError, UsageError
from drsim.model.documents import Scenario
from drsim.model.types import IncidentKind, PowerState

TAGS = {RUN_TAG: "run-1"}


def test_region_outage_makes_everything_in_the_region_unreachable() -> None:
    world = make_world(incident=outage())
    sql = world.truth.vm_id("sql-01")
    with pytest.raises(NotFoundError, match="region eastus2 is down"):
        run(lambda: world.get_vm(sql))
    with pytest.raises(NotFoundError, match="region eastus2 is down"):
        run(lambda: world.list_disks(sql))
    listed = run(world.list_vms)
    # ARM's inventory still lists them (last known state); nothing there boots or answers.
    assert {vm.name for vm in listed} == {"sql-01", "web-01", "web-golden"} and not any(vm.booted for vm in listed)
    (image,) = run(world.list_images)  # the plan's image in centralus is untouched
    assert image.region == "centralus"


def test_nothing_breaks_before_the_incident() -> None:
    world = make_world(incident=outage(), origin=INCIDENT - timedelta(hours=1))
    assert run(lambda: world.get_vm(world.truth.vm_id("sql-01"))).booted


def test_vm_loss_stops_the_vm_for_good_and_loses_its_disks() -> None:
    world = make_world(incident=strike(IncidentKind.VM_LOSS, "sql-01"))
    sql = world.truth.vm_id("sql-01")
    vm = run(lambda: world.get_vm(sql))
    assert vm.power is PowerState.STOPPED and not vm.booted
    with pytest.raises(NotFoundError, match="vm-loss"):
        run(lambda: world.create_snapshot(vm.disk_ids[1], name="s", incremental=True, tags=TAGS))
    assert run(lambda: world.read_canary(sql)).reachable is False


def test_accidental_delete_removes_the_vm_and_its_disks_but_keeps_backups_and_snapshots() -> None:
    world = make_world(incident=strike(IncidentKind.ACCIDENTAL_DELETE, "sql-01"))
    sql = world.truth.vm_id("sql-01")
    with pytest.raises(NotFoundError, match="accidental-delete"):
        run(lambda: world.get_vm(sql))
    assert "sql-01" not in {vm.name for vm in run(world.list_vms)}
    assert run(lambda: world.list_backup_points(sql))
    assert run(lambda: world.list_snapshots(world.truth.disk_id("sql-01", "data1")))


def test_disk_failure_loses_one_disk() -> None:
    world = make_world(incident=strike(IncidentKind.DISK_FAILURE, "sql-01"))
    vm = run(lambda: world.get_vm(world.truth.vm_id("sql-01")))
    with pytest.raises(NotFoundError, match="disk-failure"):
        run(lambda: world.create_snapshot(vm.disk_ids[1], name="s", incremental=True, tags=TAGS))  # data1: the first data disk
    assert run(lambda: world.create_snapshot(vm.disk_ids[2], name="s", incremental=True, tags=TAGS)).disk_id == vm.disk_ids[2]


@pytest.mark.parametrize("kind", [IncidentKind.DATA_CORRUPTION, IncidentKind.RANSOMWARE])
def test_captures_taken_after_corruption_began_hold_corrupted_data(kind: IncidentKind) -> None:
    plan = plan_doc([{"vms": {"app": "shop"}, "backup": {"policy": "enhanced", "every": "4h"}}])
    world = make_world(plan=plan, incident=strike(kind, "sql-01", detected_after=timedelta(hours=30)), origin=INCIDENT)
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        await world.clock.sleep(30 * 3600)  # noticed 30 h later: backups kept running meanwhile
        bubble = await world.create_isolated_network(name="b", region="eastus2", cidr="10.250.0.0/16", tags=TAGS)
        points = await world.list_backup_points(sql)
        readings = {}
        for point in (points[-1], next(p for p in reversed(points) if p.time < INCIDENT)):
            job = await world.restore_backup(
                sql, point.id, mode=RestoreMode.VM, tier=None, region="eastus2", network_id=bubble.id, name=f"r{len(readings)}", tags=TAGS
            )
            await world.clock.sleep(4 * 3600)
            readings[point.time] = await world.read_canary((await world.get_job(job.id)).created[0])
        return readings

    readings = run(main)
    after, before = readings.items()
    assert after[0] >= INCIDENT and after[1].corrupted
    assert before[0] < INCIDENT and not before[1].corrupted
    assert world.truth.incident.detected_at == INCIDENT + timedelta(hours=30)


def test_measured_rpo_is_the_newest_canary_on_the_recovered_data() -> None:
    workload = Workload(vm="v", interval=1.0, flush_lag=20.0)
    content = workload.capture("os", INCIDENT - timedelta(minutes=5), flushed=False)
    assert content.instant == INCIDENT - timedelta(minutes=5, seconds=20)
    sequence, at = marker_at(content.instant, 1.0)
    assert at == content.instant and sequence == int((content.instant - CANARY_EPOCH).total_seconds())
    assert workload.capture("os", INCIDENT, flushed=True).instant == INCIDENT  # app-consistent: nothing buffered


def test_a_crash_loses_the_application_buffers_a_shutdown_does_not() -> None:
    crashed = Workload(vm="v", interval=1.0, flush_lag=30.0, writes_until=INCIDENT, clean_stop=False)
    stopped = Workload(vm="v", interval=1.0, flush_lag=30.0, writes_until=INCIDENT, clean_stop=True)
    later = INCIDENT + timedelta(hours=1)
    assert crashed.capture("os", later, flushed=False).instant == INCIDENT - timedelta(seconds=30)
    assert stopped.capture("os", later, flushed=False).instant == INCIDENT


def test_incident_from_a_runbook_scenario_expands_its_selector() -> None:
    world = make_world()
    scenario = Scenario.model_validate({"incident": "vm-loss", "vms": {"app": "shop"}})
    incident = incident_from_scenario(scenario, world.estate, INCIDENT)
    assert incident.vms == ("sql-01", "web-01") and incident.kind is IncidentKind.VM_LOSS
    with pytest.raises(UsageError, match="names a region"):
        IncidentSpec(IncidentKind.REGION_OUTAGE, INCIDENT)


def test_windows_backups_are_app_consistent_and_lose_nothing_buffered(world: SimProvider) -> None:
    points = run(lambda: world.list_backup_points(world.truth.vm_id("sql-01")))
    assert points[-1].type is PointType.APP_CONSISTENT
