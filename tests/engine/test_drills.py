"""End to end in the simulated world: the example drills, every mechanism, the safety rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_drillkit import DRILLS, DrillFactory, peered_past_validation, steps_isolated

from drsim.drills import run_drill, simulate_drill
from drsim.engine.journal import read_journal
from drsim.engine.run import RunOutcome
from drsim.errors import DocumentError
from drsim.measure.events import (
    CheckResult,
    RecoveryPointRef,
    ResourceCreated,
    ResourceDeleted,
    RunAborted,
    RunStarted,
    TaskFailed,
    TaskFinished,
)
from drsim.measure.result import RunStatus, TaskStatus
from drsim.model import load_drill


def run(bundle, tmp_path: Path, **kwargs) -> RunOutcome:  # type: ignore[no-untyped-def]
    return run_drill(bundle, out_dir=tmp_path / "reports", fsync=False, **kwargs)


def created_and_deleted(outcome: RunOutcome) -> tuple[set[str], set[str]]:
    created = {e.id for e in outcome.events if isinstance(e, ResourceCreated)}
    deleted = {e.id for e in outcome.events if isinstance(e, ResourceDeleted)}
    return created, deleted


def finished(outcome: RunOutcome, task: str) -> TaskFinished:
    return next(e for e in outcome.events if isinstance(e, TaskFinished) and e.task == task)


def canary(outcome: RunOutcome, vm: str) -> CheckResult:
    return next(e for e in outcome.events if isinstance(e, CheckResult) and e.check.value == "canary" and e.vm == vm)


# ------------------------------------------------------------------------------------ the examples


@pytest.mark.parametrize(
    ("drill", "status"),
    [
        ("2026-q4-shop-asr", RunStatus.PASSED),
        ("2026-q4-shop-backup", RunStatus.FAILED),  # RPO: one backup a day loses ~12 h of orders
        ("2026-q4-shop-ransomware", RunStatus.PASSED),
        ("2026-q4-shop-snapshot", RunStatus.FAILED),
        ("2026-q4-web-image", RunStatus.PASSED),
    ],
)
def test_each_example_drill_ends_as_expected_and_leaves_nothing(drill: str, status: RunStatus, tmp_path: Path) -> None:
    outcome = run(load_drill(DRILLS / f"{drill}.yaml"), tmp_path)
    assert outcome.result is not None
    assert outcome.result.status is status
    assert outcome.result.cleanup.status == "done" and outcome.result.cleanup.leftovers == []
    created, deleted = created_and_deleted(outcome)
    assert created and created == deleted
    assert (outcome.run_dir / "result.json").read_text() == outcome.result.to_json()  # type: ignore[operator]


def test_backup_example_fails_on_rpo_only(tmp_path: Path) -> None:
    result = run(load_drill(DRILLS / "2026-q4-shop-backup.yaml"), tmp_path).result
    assert result is not None
    (shop,) = result.apps
    assert (shop.rto_met, shop.rpo_met, shop.consistent) == (True, False, True)
    assert shop.rpo_s is not None and 10 * 3600 < shop.rpo_s < 14 * 3600
    assert all(t.status is TaskStatus.SUCCEEDED for t in result.tasks)


def test_snapshot_example_fails_because_the_striped_volume_is_inconsistent(tmp_path: Path) -> None:
    outcome = run(load_drill(DRILLS / "2026-q4-shop-snapshot.yaml"), tmp_path)
    failed = [e for e in outcome.events if isinstance(e, TaskFailed)]
    assert [(f.task, f.category.value) for f in failed] == [("verify/sql-01", "check")]
    assert "sqldata" in failed[0].error
    (shop,) = outcome.apps
    assert shop.consistent is False and shop.rto_met is False and shop.rpo_met is False


def test_asr_example_measures_rpo_beside_the_claimed_rpo(tmp_path: Path) -> None:
    outcome = run(load_drill(DRILLS / "2026-q4-shop-asr.yaml"), tmp_path)
    assert outcome.result is not None
    (shop,) = outcome.result.apps
    assert shop.consistent is True and shop.rto_met and shop.rpo_met
    assert shop.rpo_s is not None and shop.rpo_claimed_s is not None
    assert shop.rpo_s >= shop.rpo_claimed_s  # the data lost is at least what the point claims (buffers not flushed)
    # The consistency group brings both disks of the striped volume back at one instant.
    sql = canary(outcome, "sql-01")
    striped = next(v for v in sql.volumes if v.name == "sqldata")
    assert striped.consistent and len(set(striped.disk_instants)) == 1


def test_rto_is_split_into_human_wait_infrastructure_and_validation(tmp_path: Path) -> None:
    outcome = run(load_drill(DRILLS / "2026-q4-shop-ransomware.yaml"), tmp_path)
    (app,) = outcome.apps
    assert app.rto_s is not None and app.human_wait_s is not None
    assert app.infrastructure_s is not None and app.validation_s is not None
    assert app.human_wait_s == 6 * 3600 + 30 * 60 + 20 * 60  # detected after 6 h, then declare 30m and CISO approval 20m
    assert app.human_wait_s + app.infrastructure_s + app.validation_s == pytest.approx(app.rto_s, abs=0.01)


# ------------------------------------------------------------------------------- the mechanisms


SQL_CHECK = {"id": "verify", "action": "check.canary", "needs": ["boot"], "with": {"vms": {"app": "shop", "tier": "db"}}}
SQL_BOOT = {"id": "boot", "action": "check.boot", "needs": ["db"], "with": {"vms": {"app": "shop", "tier": "db"}}}
WEB_LOST = {"incident": "vm-loss", "vms": {"app": "shop", "tier": "web"}}  # sql-01 keeps running and writing


def test_fresh_snapshot_clone_of_a_striped_volume_is_inconsistent_and_fails(make_drill: DrillFactory, tmp_path: Path) -> None:
    bundle = make_drill(
        {
            "scenario": WEB_LOST,
            "objectives": [{"app": "shop", "rto": "3h", "rpo": "6h"}],
            "steps": [
                *steps_isolated("eastus2"),
                {
                    "id": "db",
                    "action": "snapshot.clone",
                    "needs": ["declare", "bubble"],
                    "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "source": "fresh"},
                },
                SQL_BOOT,
                SQL_CHECK,
            ],
        },
        plan="snapshots-6h",
    )
    outcome = run(bundle, tmp_path)
    assert outcome.result is not None
    sql = canary(outcome, "sql-01")
    striped = next(v for v in sql.volumes if v.name == "sqldata")
    assert not striped.consistent and len(set(striped.disk_instants)) == 2  # each disk captured at its own instant
    assert not sql.passed and "sqldata" in (sql.reason or "")
    (shop,) = outcome.result.apps
    assert shop.consistent is False and shop.rpo_met is False and shop.rto_met is False
    assert outcome.result.status is RunStatus.FAILED
    failed = next(e for e in outcome.events if isinstance(e, TaskFailed))
    assert failed.task == "verify/sql-01" and failed.category.value == "check"


@pytest.mark.parametrize(
    ("plan", "recover"),
    [
        (
            "daily-backup",
            {"action": "backup.restore", "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "point": "latest"}},
        ),
        (
            "asr-and-daily-backup",
            {
                "action": "asr.test_failover",
                "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "recovery_point": "latest-processed"},
            },
        ),
    ],
)
def test_backup_and_site_recovery_bring_the_striped_volume_back_consistent(
    plan: str, recover: dict, make_drill: DrillFactory, tmp_path: Path
) -> None:
    region = "centralus" if recover["action"] == "asr.test_failover" else "eastus2"
    bundle = make_drill(
        {
            "scenario": WEB_LOST,
            "steps": [*steps_isolated(region), {"id": "db", "needs": ["declare", "bubble"], **recover}, SQL_BOOT, SQL_CHECK],
        },
        plan=plan,
    )
    outcome = run(bundle, tmp_path)
    sql = canary(outcome, "sql-01")
    assert sql.passed and sql.consistent
    assert outcome.result is not None and outcome.result.status is RunStatus.PASSED


def test_backup_restore_as_disks_creates_disks_only(make_drill: DrillFactory, tmp_path: Path) -> None:
    bundle = make_drill(
        {
            "scenario": {"incident": "accidental-delete", "vms": {"app": "shop", "tier": "db"}},
            "steps": [
                *steps_isolated("eastus2"),
                {
                    "id": "db",
                    "action": "backup.restore",
                    "needs": ["declare", "bubble"],
                    "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "point": "latest", "as": "disks"},
                },
            ],
        }
    )
    outcome = run(bundle, tmp_path)
    assert outcome.result is not None and outcome.result.status is RunStatus.PASSED
    kinds = [e.resource_kind for e in outcome.events if isinstance(e, ResourceCreated) and e.task == "db/sql-01"]
    assert kinds == ["Microsoft.Compute/disks"] * 4
    assert finished(outcome, "db/sql-01").recovered_vm is None
    assert outcome.result.tasks[2].recovery_point_at is not None


def test_scheduled_snapshots_copied_to_the_recovery_region_survive_a_region_outage(make_drill: DrillFactory, tmp_path: Path) -> None:
    bundle = make_drill(
        {
            "scenario": {"incident": "region-outage", "region": "eastus2"},
            "steps": [
                *steps_isolated("centralus"),
                {
                    "id": "web",
                    "action": "snapshot.clone",
                    "needs": ["declare", "bubble"],
                    "with": {"vms": {"app": "shop", "tier": "web"}, "network": "bubble", "source": "scheduled"},
                },
                {"id": "boot", "action": "check.boot", "needs": ["web"], "with": {"vms": {"app": "shop", "tier": "web"}}},
            ],
        },
        plan="snapshots-6h",
    )
    outcome = run(bundle, tmp_path)
    assert outcome.result is not None and outcome.result.status is RunStatus.PASSED
    point = finished(outcome, "web/web-01").recovery_point
    assert isinstance(point, RecoveryPointRef) and point.region == "centralus"
    assert outcome.result.tasks[2].recovery_point_at is not None


@pytest.mark.parametrize(("source", "status"), [("scheduled", RunStatus.PASSED), ("fresh", RunStatus.FAILED)])
def test_scheduled_snapshots_outlive_an_accidentally_deleted_vm(
    make_drill: DrillFactory, tmp_path: Path, source: str, status: RunStatus
) -> None:
    # A snapshot is independent of its disk (azure-facts.md, Managed disk snapshots): the drill finds
    # a deleted VM's scheduled snapshots by the disk ids of its inventory. Its disks are gone, though,
    # so a fresh snapshot cannot be taken.
    bundle = make_drill(
        {
            "scenario": {"incident": "accidental-delete", "vms": {"app": "shop", "tier": "web"}},
            "steps": [
                *steps_isolated("eastus2"),
                {
                    "id": "web",
                    "action": "snapshot.clone",
                    "needs": ["declare", "bubble"],
                    "with": {"vms": {"app": "shop", "tier": "web"}, "network": "bubble", "source": source},
                },
            ],
        },
        plan="snapshots-6h",
    )
    outcome = run(bundle, tmp_path)
    assert outcome.result is not None and outcome.result.status is status
    if source == "scheduled":
        point = finished(outcome, "web/web-01").recovery_point
        assert isinstance(point, RecoveryPointRef) and point.time <= bundle.drill.doc.incident_at
    else:
        failure = next(e for e in outcome.events if isinstance(e, TaskFailed) and e.task == "web/web-01")
        assert "not found" in failure.error and "accidental-delete" in failure.error


def test_ransomware_recovery_picks_the_last_clean_point(make_drill: DrillFactory, tmp_path: Path) -> None:
    outcome = run(load_drill(DRILLS / "2026-q4-shop-ransomware.yaml"), tmp_path)
    incident = outcome.events[0].incident_at  # type: ignore[attr-defined]
    point = finished(outcome, "db/sql-01").recovery_point
    assert point is not None and point.time < incident
    # The enhanced policy runs every 4 h: the last clean point is less than ~4 h (+ jitter) before 09:30.
    assert (incident - point.time).total_seconds() < 6 * 3600
    assert not canary(outcome, "sql-01").corrupted

    # The same runbook with point: latest restores a backup taken after the encryption: corrupted data.
    rb = load_drill(DRILLS / "2026-q4-shop-ransomware.yaml").runbook.doc.model_dump(
        by_alias=True, mode="json", exclude={"api_version", "kind", "metadata"}
    )
    for step in rb["steps"]:
        if step["action"] == "backup.restore":
            step["with"]["point"] = "latest"
    latest = run(make_drill(rb, plan="enhanced-4h-grs", incident_at="2026-11-20T09:30:00Z"), tmp_path)
    later = finished(latest, "db/sql-01").recovery_point
    assert later is not None and later.time > incident
    assert canary(latest, "sql-01").corrupted
    assert latest.result is not None and latest.result.status is RunStatus.FAILED


def _region_outage_restore(region: str | None) -> dict:
    restore = {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "point": "latest"}
    if region:
        restore["region"] = region
    return {
        "scenario": {"incident": "region-outage", "region": "eastus2"},
        "objectives": [{"app": "shop", "rto": "8h", "rpo": "2d"}],
        "steps": [
            *steps_isolated("centralus"),
            {"id": "db", "action": "backup.restore", "needs": ["declare", "bubble"], "with": restore, "timeout": "6h"},
            SQL_BOOT,
            SQL_CHECK,
        ],
    }


def test_region_outage_lrs_vault_cannot_restore(make_drill: DrillFactory, tmp_path: Path) -> None:
    # Restoring in the paired region needs cross-region restore: refused before anything runs.
    with pytest.raises(DocumentError, match="cross_region_restore"):
        make_drill(_region_outage_restore("centralus"), plan="daily-backup")
    # Restoring in the failed region: the LRS vault there is unreachable.
    body = _region_outage_restore(None)
    body["steps"][1] = {**body["steps"][1], "allow_failure": True, "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}}
    outcome = run(make_drill(body, plan="daily-backup"), tmp_path)
    assert outcome.result is not None and outcome.result.status is RunStatus.FAILED
    failed = next(e for e in outcome.events if isinstance(e, TaskFailed) and e.task == "db/sql-01")
    assert failed.category.value == "recovery" and "region eastus2 is down" in failed.error
    assert outcome.result.apps[0].rto_met is False


def test_region_outage_grs_with_cross_region_restore_recovers_older_data(make_drill: DrillFactory, tmp_path: Path) -> None:
    crr = run(make_drill(_region_outage_restore("centralus"), plan="enhanced-4h-grs"), tmp_path)
    assert crr.result is not None
    assert canary(crr, "sql-01").passed  # (the app's other tiers are not recovered by this runbook)
    point = finished(crr, "db/sql-01").recovery_point
    assert point is not None and point.region == "centralus" and point.tier == "vault"
    # The same plan restoring in the primary region (no outage) gets a newer, snapshot-tier point.
    local = run(
        make_drill(
            {
                **_region_outage_restore(None),
                "scenario": {"incident": "accidental-delete", "vms": {"app": "shop", "tier": "db"}},
                "steps": [*steps_isolated("eastus2"), *_region_outage_restore(None)["steps"][2:]],
            },
            plan="enhanced-4h-grs",
        ),
        tmp_path,
    )
    local_point = finished(local, "db/sql-01").recovery_point
    assert local_point is not None and local_point.tier == "snapshot"
    assert crr.result.apps[0].rpo_claimed_s > local.result.apps[0].rpo_claimed_s  # type: ignore[operator, union-attr]


def test_image_deploy_by_count(make_drill: DrillFactory, tmp_path: Path) -> None:
    bundle = make_drill(
        {
            "scenario": {"incident": "vm-loss", "vms": {"tier": "web"}},
            "steps": [
                *steps_isolated("centralus"),
                {
                    "id": "rebuild",
                    "action": "image.deploy",
                    "needs": ["declare", "bubble"],
                    "with": {"image_of": "web-golden", "count": 4, "network": "bubble", "region": "centralus"},
                },
            ],
        },
        plan="image-fleet",
    )
    outcome = run(bundle, tmp_path)
    assert outcome.result is not None
    assert [t.vm for t in outcome.result.tasks if t.step == "rebuild"] == [f"web-golden#{i}" for i in range(1, 5)]
    assert all(t.status is TaskStatus.SUCCEEDED for t in outcome.result.tasks)


# --------------------------------------------------------------------------------------- safety


def _peered(allow_failure: bool) -> dict:
    """A runbook whose bubble `peered_past_validation` peers with production."""
    bubble = {
        "id": "bubble",
        "action": "network.isolate",
        "allow_failure": allow_failure,
        "with": {"region": "eastus2", "cidr": "10.250.0.0/16"},
    }
    return {
        "scenario": {"incident": "accidental-delete", "vms": {"app": "shop", "tier": "db"}},
        "steps": [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "10m"}},
            bubble,
            {
                "id": "db",
                "action": "backup.restore",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble", "point": "latest"},
            },
        ],
    }


def test_a_peered_network_fails_isolation_and_nothing_starts_in_it(make_drill: DrillFactory, tmp_path: Path) -> None:
    outcome = run(peered_past_validation(make_drill(_peered(allow_failure=False))), tmp_path)
    assert outcome.result is not None and outcome.result.status is RunStatus.FAILED
    failed = next(e for e in outcome.events if isinstance(e, TaskFailed))
    assert failed.task == "bubble" and "is not isolated: peered with" in failed.error
    assert [t.status for t in outcome.result.tasks if t.step == "db"] == [TaskStatus.SKIPPED]
    assert outcome.result.cleanup.status == "done"


def test_the_isolation_guard_refuses_to_start_a_vm_in_a_peered_network(make_drill: DrillFactory, tmp_path: Path) -> None:
    outcome = run(peered_past_validation(make_drill(_peered(allow_failure=True))), tmp_path)
    assert outcome.result is not None and outcome.result.status is RunStatus.ERROR
    refused = next(e for e in outcome.events if isinstance(e, TaskFailed) and e.task == "db/sql-01")
    assert refused.error_type == "SafetyError" and "refusing to start recovered VM sql-01" in refused.error
    assert any(isinstance(e, RunAborted) for e in outcome.events)
    assert not [e for e in outcome.events if isinstance(e, ResourceCreated) and "virtualMachines" in e.resource_kind]
    assert outcome.result.cleanup.leftovers == []


def test_cleanup_never_leaves_the_resources_and_lists_their_cost(make_drill: DrillFactory, tmp_path: Path) -> None:
    body = {
        "scenario": {"incident": "accidental-delete", "vms": {"app": "shop", "tier": "db"}},
        "steps": [
            *steps_isolated("eastus2"),
            {
                "id": "db",
                "action": "backup.restore",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"app": "shop", "tier": "db"}, "network": "bubble"},
            },
        ],
        "cleanup": "never",
    }
    outcome = run(make_drill(body), tmp_path)
    assert outcome.result is not None
    cleanup = outcome.result.cleanup
    assert cleanup.status == "skipped"
    created, _ = created_and_deleted(outcome)
    assert {left.id for left in cleanup.leftovers} == created
    vm = next(left for left in cleanup.leftovers if left.kind.endswith("virtualMachines"))
    assert vm.cost_per_day > 0
    # Each creation was journaled with the price the world lists the resource at.
    prices = {e.id: e.cost_per_day for e in outcome.events if isinstance(e, ResourceCreated)}
    assert prices == {left.id: left.cost_per_day for left in cleanup.leftovers}


def test_the_journal_records_the_drills_controls_and_what_each_resource_costs(tmp_path: Path) -> None:
    bundle = load_drill(DRILLS / "2026-q4-shop-asr.yaml")
    outcome = run(bundle, tmp_path)
    assert outcome.journal_path is not None
    events = read_journal(outcome.journal_path).events
    started = events[0]
    assert isinstance(started, RunStarted)
    assert (
        started.controls
        == bundle.drill.doc.evidence.controls
        == ("iso27001-2022:A.5.30", "soc2:A1.3", "nist-800-53:CP-4", "nist-800-53:CP-10")
    )
    created = [e for e in events if isinstance(e, ResourceCreated)]
    assert created and all(e.cost_per_day is not None for e in created)
    assert all(e.cost_per_day > 0 for e in created if e.resource_kind.endswith(("virtualMachines", "disks")))


# -------------------------------------------------------------------------- faults and signals


def test_ten_percent_transient_failures_and_throttling_still_complete(make_drill: DrillFactory, tmp_path: Path) -> None:
    rb = load_drill(DRILLS / "2026-q4-shop-asr.yaml").runbook.doc.model_dump(
        by_alias=True, mode="json", exclude={"api_version", "kind", "metadata"}
    )
    for step in rb["steps"]:
        step["retries"] = 4
    flaky = run(make_drill(rb, plan="asr-and-daily-backup", sim={"failure_rate": 0.1, "throttling": True}), tmp_path)
    assert flaky.result is not None
    assert all(t.status is TaskStatus.SUCCEEDED for t in flaky.result.tasks)
    assert sum(t.attempts - 1 for t in flaky.result.tasks) > 0  # failures were injected, and retried
    assert flaky.result.status is RunStatus.PASSED
    assert flaky.result.cleanup.status == "done"


def test_sigterm_stops_new_work_and_still_cleans_up(tmp_path: Path) -> None:
    import os
    import signal

    class Terminate:
        def on_event(self, event: object) -> None:
            if isinstance(event, ResourceCreated) and "virtualMachines" in event.resource_kind:
                os.kill(os.getpid(), signal.SIGTERM)

        def on_finished(self, outcome: RunOutcome) -> None:
            pass

    outcome = run(load_drill(DRILLS / "2026-q4-shop-backup.yaml"), tmp_path, observers=(Terminate(),), handle_signals=True)
    assert outcome.result is not None and outcome.result.status is RunStatus.ERROR
    aborted = next(e for e in outcome.events if isinstance(e, RunAborted))
    assert aborted.reason == "SIGTERM received"
    assert any(t.status is TaskStatus.SKIPPED for t in outcome.result.tasks)
    assert outcome.result.cleanup.status == "done" and outcome.result.cleanup.leftovers == []
    created, deleted = created_and_deleted(outcome)
    assert created <= deleted | {left.id for left in outcome.result.cleanup.leftovers}


# ------------------------------------------------------------------------------- determinism


def test_same_seed_gives_a_byte_identical_result(tmp_path: Path) -> None:
    bundle = load_drill(DRILLS / "2026-q4-shop-asr.yaml")
    first = run(bundle, tmp_path / "a")
    second = run(bundle, tmp_path / "b")
    assert first.result_path is not None and second.result_path is not None
    assert first.result_path.read_bytes() == second.result_path.read_bytes()
    other = run(bundle, tmp_path / "c", seed=7)
    assert other.result_path is not None and other.result_path.read_bytes() != first.result_path.read_bytes()


def test_simulate_drill_is_the_same_measurement_in_memory(tmp_path: Path) -> None:
    bundle = load_drill(DRILLS / "2026-q4-shop-ransomware.yaml")
    drill = bundle.drill.doc
    result = simulate_drill(
        bundle.runbook,
        bundle.estate,
        bundle.plan,
        incident_at=drill.incident_at,
        seed=drill.seed,  # type: ignore[arg-type]
        drill_name=drill.name,
    )
    on_disk = run(bundle, tmp_path).result
    assert on_disk is not None and on_disk.inputs is not None and on_disk.simulated is True
    # the same measurement; only a run written to disk records the documents it was made from
    assert result.to_json() == on_disk.model_copy(update={"simulated": None, "emulated": None, "inputs": None}).to_json()
    assert not (tmp_path / "reports" / "x").exists()
