"""Azure Backup in the simulated world: one test per behaviour of azure-facts.md 'Azure Backup'."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from simworld import INCIDENT, estate_doc, make_world, outage, plan_doc, run, strike

from drsim.cloud.api import RUN_TAG, JobStatus, PointTier, PointType, RestoreMode
from drsim.cloud.sim import backup as backup_module
from drsim.cloud.sim import default_catalog
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.schedules import backup_consistency, backup_schedule
from drsim.errors import ConflictError, NotFoundError, QuotaError
from drsim.model.documents import BackupRule
from drsim.model.types import IncidentKind, OsType, PowerState

CATALOG = default_catalog()
TAGS = {RUN_TAG: "run-1"}


def rule(**fields: Any) -> BackupRule:
    return BackupRule.model_validate({"policy": "standard", **fields})


def backup_plan(**backup: Any):  # type: ignore[no-untyped-def]
    return plan_doc([{"vms": {"app": "shop"}, "backup": {"policy": "standard", **backup}}])


def schedule(r: BackupRule, vm: str = "sql-01", at=INCIDENT, stop=None, seed: int = 1):  # type: ignore[no-untyped-def]
    return backup_schedule(r, vm, CATALOG, Draws(seed), at=at, stop=stop)


def test_standard_backup_runs_once_a_day_within_2h_jitter() -> None:
    jobs = schedule(rule(at="02:00"))
    days = [j.scheduled.date() for j in jobs]
    assert len(days) == len(set(days))  # one scheduled backup a day
    assert all(j.scheduled.hour == 2 and j.scheduled.minute == 0 for j in jobs)
    assert all(timedelta(0) <= j.time - j.scheduled <= timedelta(hours=2) for j in jobs)
    assert len({j.time - j.scheduled for j in jobs}) > 1  # the jitter varies from day to day


def test_enhanced_backup_runs_every_n_hours_inside_its_window() -> None:
    jobs = schedule(rule(policy="enhanced", every="4h", at="08:00", window="12h"))
    day = [j for j in jobs if j.scheduled.date() == (INCIDENT - timedelta(days=2)).date()]
    assert [j.scheduled.hour for j in day] == [8, 12, 16]  # 08:00 + 12 h window, every 4 h


def test_enhanced_policy_sends_only_the_last_backup_of_a_day_to_the_vault() -> None:
    jobs = schedule(rule(policy="enhanced", every="6h"), at=INCIDENT - timedelta(days=3))
    # The policy day runs from 08:00 (the window's start) to 08:00 the next day.
    day = [j for j in jobs if (j.scheduled - timedelta(hours=8)).date() == (INCIDENT - timedelta(days=5)).date()]
    assert [j.scheduled.hour for j in day] == [8, 14, 20, 2]
    assert [j.vault_at is not None for j in day] == [False, False, False, True]


def test_best_rpo_is_24h_standard_and_4h_enhanced() -> None:
    standard = schedule(rule())
    enhanced = schedule(rule(policy="enhanced", every="4h"))
    assert max(b.time - a.time for a, b in itertools.pairwise(standard)) < timedelta(hours=26)
    assert max(b.time - a.time for a, b in zip(enhanced[-20:], enhanced[-19:], strict=False)) < timedelta(hours=6)
    assert min(b.time - a.time for a, b in itertools.pairwise(standard)) > timedelta(hours=22)


def test_snapshot_tier_is_kept_instant_restore_days() -> None:
    jobs = schedule(rule(instant_restore_days=3))
    with_snapshot = [j for j in jobs if PointTier.SNAPSHOT in j.tiers(INCIDENT)]
    assert 2 <= len(with_snapshot) <= 3
    assert all(INCIDENT - j.time < timedelta(days=3) for j in with_snapshot)


def test_point_is_usable_after_the_snapshot_phase_and_in_the_vault_after_the_transfer() -> None:
    for job in schedule(rule()):
        assert timedelta(minutes=2) <= job.usable_at - job.time <= timedelta(minutes=10)  # 'a few minutes'
        assert job.vault_at is not None
        assert timedelta(minutes=30) <= job.vault_at - job.usable_at <= timedelta(hours=8)  # a couple of hours, up to 8 h
        assert job.tiers(job.usable_at) == {PointTier.SNAPSHOT}
        assert job.tiers(job.vault_at) == {PointTier.SNAPSHOT, PointTier.VAULT}


def test_points_expire_after_their_retention() -> None:
    jobs = schedule(rule(retention_days=7))
    assert jobs and all(INCIDENT - j.time < timedelta(days=7) for j in jobs)


@pytest.mark.parametrize(
    ("os", "power", "expected"),
    [
        (OsType.WINDOWS, PowerState.RUNNING, PointType.APP_CONSISTENT),
        (OsType.LINUX, PowerState.RUNNING, PointType.FILE_SYSTEM_CONSISTENT),
        (OsType.WINDOWS, PowerState.STOPPED, PointType.CRASH_CONSISTENT),
        (OsType.LINUX, PowerState.DEALLOCATED, PointType.CRASH_CONSISTENT),
    ],
)
def test_consistency_depends_on_os_and_power_state(os: OsType, power: PowerState, expected: PointType) -> None:
    assert backup_consistency(os, power) is expected


def test_world_lists_points_with_the_vms_consistency() -> None:
    world = make_world(plan=backup_plan())

    async def main():  # type: ignore[no-untyped-def]
        return (await world.list_backup_points(world.truth.vm_id("sql-01")), await world.list_backup_points(world.truth.vm_id("web-01")))

    sql, web = run(main)
    assert {p.type for p in sql} == {PointType.APP_CONSISTENT}
    assert {p.type for p in web} == {PointType.FILE_SYSTEM_CONSISTENT}
    assert all(p.region == "eastus2" for p in sql)


def test_cross_region_restore_points_lag_up_to_12h_and_never_from_the_snapshot_tier() -> None:
    jobs = schedule(rule(vault_redundancy="GRS", cross_region_restore=True))
    for job in jobs:
        assert job.crr_at is not None and job.vault_at is not None
        # In the paired region after the vault copy, and within 12 h of the point's time (transfer included).
        assert job.vault_at <= job.crr_at <= job.time + timedelta(hours=12)
    assert len({j.crr_at - j.time for j in jobs}) > 1  # the replication time varies
    world = make_world(plan=backup_plan(vault_redundancy="GRS", cross_region_restore=True), incident=outage())
    primary = world.truth.backup_schedule("sql-01", INCIDENT)
    points = run(lambda: world.list_backup_points(world.truth.vm_id("sql-01"), region="centralus"))
    assert points and all(p.tiers == {PointTier.VAULT} and p.region == "centralus" for p in points)
    # Every point of the vault older than 12 h is restorable in the paired region.
    assert {j.time for j in primary if j.time <= INCIDENT - timedelta(hours=12)} <= {p.time for p in points}
    # Data age in the paired region: up to 36 h = 24 h schedule (+ up to 2 h start jitter) + up to 12 h replication.
    assert INCIDENT - points[-1].time <= timedelta(hours=36 + 2)


def test_cross_region_restore_needs_a_grs_vault_with_crr() -> None:
    world = make_world(plan=backup_plan(vault_redundancy="LRS"))
    with pytest.raises(ConflictError, match="no cross-region restore: Cross Region Restore is not enabled in vault"):
        run(lambda: world.list_backup_points(world.truth.vm_id("sql-01"), region="centralus"))


@pytest.mark.parametrize("redundancy", ["LRS", "ZRS", "GRS"])
def test_region_outage_makes_the_vault_there_unreachable_without_crr(redundancy: str) -> None:
    world = make_world(plan=backup_plan(vault_redundancy=redundancy), incident=outage())
    with pytest.raises(NotFoundError, match="region eastus2 is down"):
        run(lambda: world.list_backup_points(world.truth.vm_id("sql-01")))


def test_region_outage_leaves_crr_points_restorable_in_the_paired_region() -> None:
    world = make_world(plan=backup_plan(vault_redundancy="GRS", cross_region_restore=True), incident=outage())
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        bubble = await world.create_isolated_network(name="bubble", region="centralus", cidr="10.250.0.0/16", tags=TAGS)
        point = (await world.list_backup_points(sql, region="centralus"))[-1]
        with pytest.raises(ConflictError, match="snapshot"):
            await world.restore_backup(
                sql,
                point.id,
                mode=RestoreMode.VM,
                tier=PointTier.SNAPSHOT,
                region="centralus",
                network_id=bubble.id,
                name="sql-r",
                tags=TAGS,
            )
        job = await world.restore_backup(
            sql, point.id, mode=RestoreMode.VM, tier=None, region="centralus", network_id=bubble.id, name="sql-r", tags=TAGS
        )
        await world.clock.sleep(24 * 3600)
        return point, await world.get_job(job.id)

    point, job = run(main)
    assert job.status is JobStatus.SUCCEEDED
    assert job.recovery_point_time == point.time
    assert job.created[0].endswith("/virtualMachines/sql-r")


def test_ten_restores_per_vm_per_day() -> None:
    world = make_world(plan=backup_plan())
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        point = (await world.list_backup_points(sql))[-1]
        for n in range(10):
            await world.restore_backup(
                sql, point.id, mode=RestoreMode.DISKS, tier=None, region="eastus2", network_id="", name=f"r{n}", tags=TAGS
            )
        with pytest.raises(QuotaError, match="10 times"):
            await world.restore_backup(
                sql, point.id, mode=RestoreMode.DISKS, tier=None, region="eastus2", network_id="", name="r10", tags=TAGS
            )
        await world.clock.sleep(24 * 3600 + 60)
        point = (await world.list_backup_points(sql))[-1]
        return await world.restore_backup(
            sql, point.id, mode=RestoreMode.DISKS, tier=PointTier.VAULT, region="eastus2", network_id="", name="r11", tags=TAGS
        )

    assert run(main).status is JobStatus.IN_PROGRESS  # the 24 h window moved on


def _restore_seconds(tier: PointTier | None, used_gib: float, seed: int) -> tuple[float, PointTier | None]:
    estate = estate_doc()
    vms = [vm.model_dump(by_alias=True) for vm in estate.vms]
    vms[0]["disks"] = [{"name": "os", "size_gib": 1024, "used_gib": used_gib}]
    vms[0]["volumes"] = []
    world = make_world(estate=estate_doc(vms=vms), plan=backup_plan(), seed=seed)
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        point = (await world.list_backup_points(sql))[-1]
        job = await world.restore_backup(
            sql, point.id, mode=RestoreMode.DISKS, tier=tier, region="eastus2", network_id="", name="r", tags=TAGS
        )
        while not (job := await world.get_job(job.id)).status.ended:
            await world.clock.sleep(60)
        return job

    job = run(main)
    assert job.ended_at is not None
    return (job.ended_at - job.started_at).total_seconds(), tier


def test_restore_from_the_vault_tier_takes_hours_and_grows_with_used_size() -> None:
    snapshot = [_restore_seconds(PointTier.SNAPSHOT, 100, seed)[0] for seed in range(5)]
    small_vault = [_restore_seconds(PointTier.VAULT, 100, seed)[0] for seed in range(5)]
    large_vault = [_restore_seconds(PointTier.VAULT, 900, seed)[0] for seed in range(5)]
    assert all(10 * 60 <= s <= 3600 for s in snapshot)  # minutes: 22-40 min observed
    assert all(s < v < big for s, v, big in zip(snapshot, small_vault, large_vault, strict=False))


def test_restore_uses_the_snapshot_when_one_exists() -> None:
    auto = [_restore_seconds(None, 100, seed)[0] for seed in range(3)]
    snapshot = [_restore_seconds(PointTier.SNAPSHOT, 100, seed)[0] for seed in range(3)]
    assert auto == snapshot


def test_restored_vm_holds_the_data_of_its_point() -> None:
    world = make_world(plan=backup_plan(), incident=strike(IncidentKind.VM_LOSS, "sql-01"))
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        bubble = await world.create_isolated_network(name="bubble", region="eastus2", cidr="10.250.0.0/16", tags=TAGS)
        point = (await world.list_backup_points(sql))[-1]
        job = await world.restore_backup(
            sql, point.id, mode=RestoreMode.VM, tier=None, region="eastus2", network_id=bubble.id, name="sql-r", tags=TAGS
        )
        await world.clock.sleep(6 * 3600)
        job = await world.get_job(job.id)
        return point, await world.read_canary(job.created[0])

    point, reading = run(main)
    # A running Windows VM gives application-consistent points: nothing buffered is lost.
    assert reading.reachable and not reading.corrupted and reading.consistent
    assert reading.last_marker_at == point.time.replace(microsecond=0)


def test_restore_into_another_region_needs_a_cross_region_point() -> None:
    world = make_world(plan=backup_plan())
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        bubble = await world.create_isolated_network(name="bubble", region="centralus", cidr="10.250.0.0/16", tags=TAGS)
        point = (await world.list_backup_points(sql))[-1]
        await world.restore_backup(
            sql, point.id, mode=RestoreMode.VM, tier=None, region="centralus", network_id=bubble.id, name="x", tags=TAGS
        )

    with pytest.raises(ConflictError, match="cross-region restore point"):
        run(main)


def test_backups_stop_when_the_vm_is_lost_but_its_points_remain() -> None:
    world = make_world(plan=backup_plan(), incident=strike(IncidentKind.ACCIDENTAL_DELETE, "sql-01"), origin=INCIDENT)
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        await world.clock.sleep(3 * 86400)
        return await world.list_backup_points(sql)

    points = run(main)
    assert points and max(p.time for p in points) < INCIDENT


def test_a_world_keeps_each_vms_backup_history_and_gives_the_same_points_as_a_fresh_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    r = rule(policy="enhanced", every="4h", instant_restore_days=7, vault_redundancy="GRS", cross_region_restore=True)
    world = make_world(plan=backup_plan(**r.model_dump(mode="json", exclude_none=True)))
    instants = [INCIDENT, INCIDENT + timedelta(days=3), INCIDENT - timedelta(days=10), INCIDENT + timedelta(hours=5)]

    def fresh(vm: str, at):  # type: ignore[no-untyped-def]
        return backup_schedule(r, vm, CATALOG, world.draws, at=at, stop=None)

    for at in instants:  # later, earlier: a kept day never changes
        assert world.truth.backup_schedule("sql-01", at) == fresh("sql-01", at)
    monkeypatch.setattr(backup_module, "KEPT_BACKUP_HISTORIES", 1)  # every VM asked evicts the other
    for at in instants:
        for vm in ("sql-01", "web-01"):
            assert world.truth.backup_schedule(vm, at) == fresh(vm, at)


def test_a_restore_finds_any_listed_point_old_or_new_and_no_other() -> None:
    world = make_world(plan=backup_plan(retention_days=30))
    sql = world.truth.vm_id("sql-01")

    async def main():  # type: ignore[no-untyped-def]
        points = await world.list_backup_points(sql)
        oldest, newest = points[0], points[-1]
        jobs = [
            await world.restore_backup(
                sql, p.id, mode=RestoreMode.DISKS, tier=None, region="eastus2", network_id="", name=f"r{n}", tags=TAGS
            )
            for n, p in enumerate((oldest, newest))
        ]
        missing = f"{oldest.id.rsplit('/', 1)[0]}/{int(oldest.time.timestamp()) - 1}"
        with pytest.raises(NotFoundError, match="does not exist"):
            await world.restore_backup(
                sql, missing, mode=RestoreMode.DISKS, tier=None, region="eastus2", network_id="", name="x", tags=TAGS
            )
        return oldest, newest, jobs

    oldest, newest, jobs = run(main)
    assert INCIDENT - oldest.time > timedelta(days=28) and oldest.tiers == {PointTier.VAULT}
    assert [j.recovery_point_time for j in jobs] == [oldest.time, newest.time]
