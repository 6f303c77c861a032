"""Properties of the simulated world over many policies, instants and seeds (Hypothesis)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simworld import INCIDENT, estate_doc, make_world, plan_doc, run, strike

from drsim.cloud.api import RUN_TAG, PointTier, RestoreMode
from drsim.cloud.sim import default_catalog
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.schedules import backup_schedule, backup_slots, replication_points, replication_timing, snapshot_schedule
from drsim.cloud.sim.workload import Workload
from drsim.model.documents import BackupRule, SiteRecoveryRule, SnapshotRule
from drsim.model.types import IncidentKind

CATALOG = default_catalog()
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
seeds = st.integers(0, 2**32)


@st.composite
def backup_rules(draw: st.DrawFn, *, cross_region_restore: bool = False) -> BackupRule:
    enhanced = draw(st.booleans())
    fields: dict[str, Any] = {
        "policy": "enhanced" if enhanced else "standard",
        "at": f"{draw(st.integers(0, 23)):02d}:{draw(st.sampled_from([0, 30])):02d}",
        "retention_days": draw(st.integers(7, 30)),
    }
    if cross_region_restore:
        fields.update(vault_redundancy="GRS", cross_region_restore=True)
    if enhanced:
        fields["every"] = draw(st.sampled_from(["4h", "6h", "8h", "12h", "24h"]))
        fields["instant_restore_days"] = draw(st.integers(1, 30))
        fields["window"] = draw(st.sampled_from(["12h", "24h"]))
    else:
        fields["instant_restore_days"] = draw(st.integers(1, 5))
    return BackupRule.model_validate(fields)


@FAST
@given(backup_rules(), instants, seeds, st.booleans())
def test_backup_points_are_strictly_before_the_incident_and_monotone(rule: BackupRule, incident: datetime, seed: int, lost: bool) -> None:
    jobs = backup_schedule(rule, "vm", CATALOG, Draws(seed), at=incident, stop=incident if lost else None)
    listed = [j for j in jobs if j.tiers(incident)]
    assert all(j.time < incident for j in listed)
    assert all(a.time < b.time for a, b in itertools.pairwise(listed))


@FAST
@given(backup_rules(), instants, seeds)
def test_no_backup_point_is_newer_than_the_policy_allows(rule: BackupRule, incident: datetime, seed: int) -> None:
    for job in backup_schedule(rule, "vm", CATALOG, Draws(seed), at=incident, stop=None):
        day = datetime.combine(
            (job.scheduled - timedelta(hours=rule.start.hour, minutes=rule.start.minute)).date(), datetime.min.time(), UTC
        )
        assert job.scheduled in backup_slots(rule, day)
        assert job.scheduled <= job.time <= job.scheduled + timedelta(hours=2)  # at most 2 h of jitter
        assert job.usable_at > job.time and (job.vault_at is None or job.vault_at > job.usable_at)


@FAST
@given(backup_rules(cross_region_restore=True), instants, seeds)
def test_no_cross_region_restore_point_is_more_than_12h_behind(rule: BackupRule, at: datetime, seed: int) -> None:
    # CRR data age up to 36 h = 24 h primary + up to 12 h replication to the paired region
    # (reliability-backup, H): a point is in the paired region within 12 h of its time, transfer included.
    for job in backup_schedule(rule, "vm", CATALOG, Draws(seed), at=at, stop=None):
        in_vault = PointTier.VAULT in job.tiers(at)
        assert job.in_paired_region(at) == (in_vault and job.crr_at is not None and job.crr_at <= at)
        if in_vault and job.time <= at - timedelta(hours=12):
            assert job.in_paired_region(at)
        if job.crr_at is not None:
            assert job.vault_at is not None and job.vault_at <= job.crr_at <= job.time + timedelta(hours=12)


@FAST
@given(
    st.sampled_from(["1h", "24h", "72h", "15d"]),
    st.sampled_from([None, "1h", "4h", "12h"]),
    instants,
    seeds,
    st.booleans(),
)
def test_replication_points_are_before_the_incident_monotone_and_on_their_grid(
    retention: str, app_every: str | None, incident: datetime, seed: int, lost: bool
) -> None:
    rule = SiteRecoveryRule.model_validate({"target_region": "centralus", "retention": retention, "app_consistent_every": app_every})
    timing = replication_timing(rule, "vm:x", CATALOG, Draws(seed))
    at = incident + timedelta(hours=2) if lost else incident
    points = replication_points(timing, at=at, stop=incident if lost else None, app_consistent=True)
    assert all(p.time < incident for p in points)
    assert all(a.time < b.time for a, b in itertools.pairwise(points))
    for p in points:
        offset = (p.time - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() - timing.anchor
        grid = timing.app_every if p.type.value == "AppConsistent" and timing.app_every else timing.interval
        assert abs(offset / grid - round(offset / grid)) < 1e-6


@FAST
@given(st.sampled_from(["1h", "6h", "24h"]), st.integers(1, 10), instants, seeds)
def test_scheduled_snapshots_keep_the_last_n_before_the_incident(every: str, retain: int, incident: datetime, seed: int) -> None:
    rule = SnapshotRule.model_validate({"every": every, "retain": retain})
    kept = snapshot_schedule(rule, "disk", CATALOG, Draws(seed), at=incident, stop=incident)
    assert len(kept) == retain
    assert all(s.taken_at < incident for s in kept)
    assert [s.index for s in kept] == list(range(kept[0].index, kept[0].index + retain))


@FAST
@given(instants, instants, st.floats(0, 300), st.booleans())
def test_corrupted_data_is_never_reported_clean(capture: datetime, incident: datetime, lag: float, flushed: bool) -> None:
    workload = Workload(vm="v", interval=1.0, flush_lag=lag, corrupt_from=incident)
    assert workload.capture("os", capture, flushed=flushed).corrupted == (capture >= incident)


def test_a_recovery_from_a_point_after_the_corruption_reads_corrupted() -> None:
    plan = plan_doc([{"vms": {"app": "shop"}, "backup": {"policy": "enhanced", "every": "4h"}}])
    world = make_world(plan=plan, incident=strike(IncidentKind.RANSOMWARE, "web-01"), origin=INCIDENT)
    web = world.truth.vm_id("web-01")

    async def main():  # type: ignore[no-untyped-def]
        await world.clock.sleep(12 * 3600)
        bubble = await world.create_isolated_network(name="b", region="eastus2", cidr="10.250.0.0/16", tags={RUN_TAG: "r"})
        found = []
        for n, point in enumerate((await world.list_backup_points(web))[-5:]):
            job = await world.restore_backup(
                web, point.id, mode=RestoreMode.VM, tier=None, region="eastus2", network_id=bubble.id, name=f"r{n}", tags={RUN_TAG: "r"}
            )
            await world.clock.sleep(3 * 3600)
            found.append((point.time, await world.read_canary((await world.get_job(job.id)).created[0])))
        return found

    readings = run(main)
    assert any(t >= INCIDENT for t, _ in readings) and any(t < INCIDENT for t, _ in readings)
    for time, reading in readings:
        assert reading.corrupted == (time >= INCIDENT)


def snapshot_of_world(seed: int, estate: Any = None) -> tuple[Any, ...]:
    world = make_world(seed=seed, estate=estate)
    truth = world.truth
    return (
        [(b.time, b.vault_at, b.crr_at) for b in truth.backup_schedule("sql-01", INCIDENT)],
        truth.replication_points("sql-01", INCIDENT),
        truth.scheduled_snapshots("sql-01", INCIDENT),
        truth.workload("sql-01"),
    )


@FAST
@given(seeds)
def test_the_same_seed_gives_the_same_world(seed: int) -> None:
    assert snapshot_of_world(seed) == snapshot_of_world(seed)


def test_different_seeds_give_different_worlds() -> None:
    assert snapshot_of_world(1) != snapshot_of_world(2)


def test_adding_a_vm_does_not_reshuffle_the_others() -> None:
    estate = estate_doc()
    vms = [vm.model_dump(by_alias=True) for vm in estate.vms]
    extra = {**vms[1], "name": "web-02"}
    bigger = estate_doc(vms=[extra, *vms])
    assert snapshot_of_world(5) == snapshot_of_world(5, estate=bigger)


def test_the_same_seed_replays_the_same_operations() -> None:
    def replay(seed: int) -> list[Any]:
        world = make_world(seed=seed, failure_rate=0.1)

        async def main() -> list[Any]:
            log: list[Any] = []
            for disk in ("os", "data1", "data2"):
                try:
                    log.append(await world.create_snapshot(world.truth.disk_id("sql-01", disk), name=disk, incremental=True, tags={}))
                except Exception as error:
                    log.append(type(error).__name__)
                log.append(world.now())
            return log

        return run(main)

    assert replay(3) == replay(3)
    assert replay(3) != replay(4)
