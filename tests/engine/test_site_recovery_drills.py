"""Site Recovery drills end to end in the simulated world: a consistency group's multi-VM point, and a
test failover cut short (a step timeout) that cleanup still ends, from its journaled acceptance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine_drillkit import DrillFactory, steps_isolated

from drsim.cloud.api import JobKind, ResourceKind
from drsim.drills import run_drill
from drsim.engine.journal import read_journal
from drsim.engine.run import RunOutcome
from drsim.measure.events import (
    CleanupFinished,
    CleanupTestFailover,
    OperationAccepted,
    ResourceCreated,
    ResourceDeleted,
    TaskFailed,
    TaskFinished,
)
from drsim.model.types import CleanupStatus

PLAN = "asr-and-daily-backup"  # the shop in consistency group 'shop'
OUTAGE = {"incident": "region-outage", "region": "eastus2"}


def run(bundle, tmp_path: Path) -> RunOutcome:  # type: ignore[no-untyped-def]
    return run_drill(bundle, out_dir=tmp_path / "reports", fsync=False)


def tiers(point: str, **db: Any) -> list[dict[str, Any]]:
    """The example's recovery-plan order: database, then app tier, then web tier."""
    steps: list[dict[str, Any]] = [*steps_isolated("centralus")]
    before = ["declare", "bubble"]
    for tier in ("db", "app", "web"):
        extra = db if tier == "db" else {}
        step = {"vms": {"app": "shop", "tier": tier}, "network": "bubble", "recovery_point": point}
        steps.append({"id": tier, "action": "asr.test_failover", "needs": before, "with": step, **extra})
        before = [tier]
    return steps


def points_of(outcome: RunOutcome) -> dict[str, Any]:
    return {e.vm: e.recovery_point.time for e in outcome.events if isinstance(e, TaskFinished) and e.recovery_point and e.vm}


def test_a_consistency_group_fails_over_to_one_multi_vm_instant_in_recovery_plan_order(make_drill: DrillFactory, tmp_path: Path) -> None:
    # Replication of the shop goes on (the incident hits payroll): new points keep coming while tier after tier fails over.
    scenario = {"incident": "vm-loss", "vms": {"app": "payroll"}}
    grouped = run(make_drill({"scenario": scenario, "steps": tiers("latest-multi-vm-processed")}, plan=PLAN), tmp_path / "multi")
    times = points_of(grouped)
    assert set(times) == {"sql-01", "app-01", "app-02", "web-01", "web-02", "web-03"}
    assert len(set(times.values())) == 1  # every VM of the group at the same instant
    # Each VM's own newest point, tier after tier, lands at different instants: what the group avoids.
    apart = run(make_drill({"scenario": scenario, "steps": tiers("latest-processed")}, plan=PLAN), tmp_path / "per-vm")
    assert len(set(points_of(apart).values())) > 1


def test_a_step_timeout_during_a_test_failover_still_cleans_it_up(make_drill: DrillFactory, tmp_path: Path) -> None:
    # A test failover takes longer than 2 minutes: the db step times out while its job runs.
    outcome = run(make_drill({"scenario": OUTAGE, "steps": tiers("latest-processed", timeout="2m")}, plan=PLAN), tmp_path)
    events = list(outcome.events)
    accepted = [e for e in events if isinstance(e, OperationAccepted)]
    assert [(e.vm, e.operation) for e in accepted] == [("sql-01", JobKind.TEST_FAILOVER.value)]
    failed = next(e for e in events if isinstance(e, TaskFailed) and e.vm == "sql-01")
    assert events.index(accepted[0]) < events.index(failed)  # journaled before drsim waited
    assert "timed out" in failed.error or "timeout" in failed.error.lower()
    # Cleanup waited for the job, recorded the test VM it made, ran 'cleanup test failover', deleted it all.
    (ended,) = [e for e in events if isinstance(e, CleanupTestFailover)]
    assert ended.vm == "sql-01" and ended.succeeded
    made = {e.id for e in events if isinstance(e, ResourceCreated) and e.task == accepted[0].task}
    assert any(e.resource_kind is ResourceKind.VM for e in events if isinstance(e, ResourceCreated) and e.id in made)
    assert made <= {e.id for e in events if isinstance(e, ResourceDeleted)}
    finished = next(e for e in events if isinstance(e, CleanupFinished))
    assert finished.status is CleanupStatus.DONE and finished.leftovers == ()
    # The journal holds the acceptance, with the job id to clean up from.
    assert outcome.journal_path is not None
    journaled = [e for e in read_journal(outcome.journal_path).events if isinstance(e, OperationAccepted)]
    assert journaled == accepted


def test_with_cleanup_never_a_test_failover_cut_short_is_listed_as_left_with_its_test_vm(make_drill: DrillFactory, tmp_path: Path) -> None:
    body = {"scenario": OUTAGE, "steps": tiers("latest-processed", timeout="2m"), "cleanup": "never"}
    outcome = run(make_drill(body, plan=PLAN), tmp_path)
    events = list(outcome.events)
    assert not [e for e in events if isinstance(e, CleanupTestFailover)]
    finished = next(e for e in events if isinstance(e, CleanupFinished))
    assert finished.status is CleanupStatus.SKIPPED
    test_vms = [r for r in finished.leftovers if r.kind is ResourceKind.VM]
    assert [r.name for r in test_vms] == ["sql-01-test"]  # the job ended after the timeout: its VM is known and listed
    assert {r.id for r in finished.leftovers} >= {e.id for e in events if isinstance(e, ResourceCreated)}
