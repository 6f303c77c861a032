"""A run's findings and measured critical path, derived from synthetic journals: each kind, its reason
(drawn from the events), its severity, and ids that stay the same for the same run."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest

from drsim.measure.critical import measured_critical_paths
from drsim.measure.events import (
    CallFailed,
    CheckKind,
    CheckResult,
    CleanupFinished,
    Event,
    FailureCategory,
    LeftoverResource,
    PlanMade,
    PlannedTask,
    RecoveryPointRef,
    RunAborted,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
    VolumeCheck,
)
from drsim.measure.findings import Finding, FindingKind, Severity, derive_findings, finding_id
from drsim.measure.timeline import measure_apps
from drsim.model import load
from drsim.model.documents import Estate, Runbook
from drsim.model.types import Action, CleanupStatus

REPO = Path(__file__).resolve().parents[2]
ESTATE = load(REPO / "drills" / "estates" / "contoso.yaml", Estate).doc
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
RUNBOOK = Runbook.model_validate(
    {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "rb"},
        "scenario": {"incident": "data-corruption", "vms": {"name": "sql-01"}},
        "objectives": [{"app": "shop", "rto": "4h", "rpo": "1h"}],
        "steps": [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "30m"}},
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            {
                "id": "db",
                "action": "backup.restore",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"name": "sql-01"}, "network": "bubble"},
            },
            {"id": "verify", "action": "check.canary", "needs": ["db"], "with": {"app": "shop"}},
        ],
    }
)
ID = re.compile(r"^F-[A-Za-z0-9._-]+-[a-z]+(-[a-z]+)*-[0-9a-f]{8}$")


def t(minutes: float) -> datetime:
    return INCIDENT + timedelta(minutes=minutes)


def planned(task_id: str, action: str, vm: str | None = None) -> PlannedTask:
    return PlannedTask(task_id, task_id.split("/")[0], Action(action), vm, (), 0.0)


def span(task_id: str, action: str, vm: str | None, start: float, end: float, **finished: object) -> list[Event]:
    step = task_id.split("/")[0]
    return [
        TaskStarted(at=t(start), task=task_id, step=step, action=Action(action), vm=vm, attempt=1),
        TaskFinished(at=t(end), task=task_id, step=step, action=Action(action), vm=vm, attempts=1, **finished),  # type: ignore[arg-type]
    ]


def check(
    *, passed: bool = True, consistent: bool = True, corrupted: bool = False, reachable: bool = True, rpo_min: float = 52, at: float = 125
) -> CheckResult:
    volume = VolumeCheck("sqldata", consistent, (t(-rpo_min), t(-rpo_min) if consistent else t(-rpo_min - 1)))
    return CheckResult(
        at=t(at),
        task="verify/sql-01",
        check=CheckKind.CANARY,
        vm="sql-01",
        app="shop",
        passed=passed,
        reachable=reachable,
        healthy_at=t(at - 4) if passed else None,
        reads=1,
        last_marker_at=t(-rpo_min) if reachable else None,
        measured_rpo_s=rpo_min * 60.0 if reachable else None,
        claimed_rpo_s=50 * 60.0,
        consistent=consistent if reachable else None,
        corrupted=corrupted if reachable else None,
        volumes=(volume,) if reachable else (),
        reason=None if reachable else "the recovered VM could not be read",
    )


def run(
    *,
    point_min: float = 50,
    result: CheckResult | None = None,
    declare_end: float = 30,
    db_end: float = 120,
    extra: tuple[Event, ...] = (),
    leftovers: tuple[LeftoverResource, ...] = (),
    run_id: str = "r1",
    verify: str = "finished",
) -> list[Event]:
    """A drill of shop: declare (a person) and bubble, then the restore of sql-01, then its canary check."""
    events: list[Event] = [
        RunStarted(
            at=INCIDENT,
            run_id=run_id,
            drill="d",
            runbook="rb",
            estate="contoso",
            plan="p",
            provider="sim",
            seed=1,
            incident_at=INCIDENT,
            detected_at=INCIDENT,
            drsim_version="0",
            catalog_version="c",
            concurrency=50,
            cleanup="always",
        ),
        PlanMade(
            at=INCIDENT,
            tasks=(
                planned("declare", "manual.declare"),
                planned("bubble", "network.isolate"),
                planned("db/sql-01", "backup.restore", "sql-01"),
                planned("verify/sql-01", "check.canary", "sql-01"),
            ),
            step_edges=(("declare", "db"), ("bubble", "db"), ("db", "verify")),
            critical_path=("bubble", "db/sql-01", "verify/sql-01"),
            critical_path_s=0.0,
            lower_bound_s=0.0,
        ),
        *span("declare", "manual.declare", None, 0, declare_end),
        *span("bubble", "network.isolate", None, 0, 1),
        *span(
            "db/sql-01",
            "backup.restore",
            "sql-01",
            declare_end + 2,
            db_end,
            recovery_point=RecoveryPointRef("p1", t(-point_min), "AppConsistent", "vault", "eastus2"),
        ),
        *extra,
    ]
    if verify == "finished":
        events += span("verify/sql-01", "check.canary", "sql-01", db_end, db_end + 5)[:1]
        events.append(result or check(rpo_min=point_min + 2, at=db_end + 5))
        events.append(
            TaskFinished(at=t(db_end + 5), task="verify/sql-01", step="verify", action=Action.CHECK_CANARY, vm="sql-01", attempts=1)
        )
    elif verify == "skipped":
        events.append(
            TaskSkipped(at=t(db_end), task="verify/sql-01", step="verify", action=Action.CHECK_CANARY, vm="sql-01", reason="db failed")
        )
    status = CleanupStatus.INCOMPLETE if leftovers else CleanupStatus.DONE
    events.append(CleanupFinished(at=t(db_end + 10), status=status, leftovers=leftovers))
    events += measure_apps(events, RUNBOOK, ESTATE)
    return events


def kinds(found: tuple[Finding, ...]) -> list[FindingKind]:
    return [f.kind for f in found]


def test_a_clean_run_has_no_findings() -> None:
    assert derive_findings(run()) == ()


def test_a_missed_rpo_says_which_point_was_restored_and_how_old_it_was() -> None:
    (rpo,) = derive_findings(run(point_min=13 * 60 + 20))
    assert rpo.kind is FindingKind.RPO_MISSED and rpo.severity is Severity.HIGH and rpo.app == "shop"
    assert rpo.reason.startswith(
        "The oldest recovery point restored for sql-01 was the Azure Backup point of 2026-11-20 00:40Z "
        "(AppConsistent, vault tier, eastus2), 13h 20m before the incident; "
        "the canary read back shows 13h 22m of data lost, against an objective of 1h 00m"
    )
    assert ID.match(rpo.id) and rpo.id.startswith("F-shop-rpo-missed-")


def test_data_that_cannot_be_trusted_names_the_volume_and_misses_the_rpo_in_time() -> None:
    found = derive_findings(run(result=check(passed=False, consistent=False)))
    by_kind = {f.kind: f for f in found}
    assert set(by_kind) == {FindingKind.INCONSISTENT_DATA, FindingKind.RPO_MISSED, FindingKind.RTO_MISSED}
    inconsistent = by_kind[FindingKind.INCONSISTENT_DATA]
    assert inconsistent.subject == "sql-01/sqldata" and "volume sqldata inconsistent" in inconsistent.reason
    assert "captured at different instants (13:08:00Z, 13:07:00Z)" in inconsistent.reason
    assert by_kind[FindingKind.RPO_MISSED].reason == (
        "The data lost (52m 00s) is within the objective of 1h 00m, but the recovered data cannot be trusted: "
        "volume sqldata on sql-01 is inconsistent."
    )
    assert by_kind[FindingKind.RTO_MISSED].reason.startswith(
        "Never healthy during the run (objective 4h 00m): the canary check on sql-01 failed"
    )


def test_corrupted_and_unreadable_data() -> None:
    corrupted = derive_findings(run(result=check(passed=False, corrupted=True)))
    assert FindingKind.CORRUPTED_DATA in kinds(corrupted) and FindingKind.CHECK_FAILED not in kinds(corrupted)
    unread = derive_findings(run(result=check(passed=False, reachable=False)))
    failed = next(f for f in unread if f.kind is FindingKind.CHECK_FAILED)
    assert "(the recovered VM could not be read)" in failed.reason and failed.app == "shop"
    rpo = next(f for f in unread if f.kind is FindingKind.RPO_MISSED)
    assert "no data loss could be measured against the objective of 1h 00m (sql-01: the recovered VM could not be read)" in rpo.reason


def test_a_missed_rto_gives_its_split_and_the_measured_critical_path() -> None:
    found = derive_findings(run(declare_end=200, db_end=250))
    rto = next(f for f in found if f.kind is FindingKind.RTO_MISSED)
    assert rto.reason.startswith("Healthy after 4h 11m against an objective of 4h 00m (over by 11m 00s): human wait 3h 20m")
    assert rto.reason.endswith(
        "measured critical path: declare (3h 20m) → db on sql-01 (48m 00s, after waiting 2m 00s) → verify on sql-01 (5m 00s)."
    )
    human = next(f for f in found if f.kind is FindingKind.HUMAN_WAIT)
    assert human.severity is Severity.MEDIUM
    assert human.reason == ("Human wait was 3h 20m of shop's 4h 11m RTO, more than half of its objective of 4h 00m: declare 3h 20m.")


def test_the_measured_critical_path_follows_what_each_task_waited_for() -> None:
    events = run(declare_end=20)
    apps = [e for e in events if e.kind == "app.measured"]
    (path,) = measured_critical_paths(events, apps)  # type: ignore[arg-type]
    assert path.app == "shop" and path.tasks == ("declare", "db/sql-01", "verify/sql-01")
    assert [link.waited_s for link in path.links] == [0.0, 120.0, 0.0]
    # without its person, the restore waited on the network: the bubble is then on the path
    assert measured_critical_paths(run(declare_end=0.5))[0].tasks == ("bubble", "db/sql-01", "verify/sql-01")


def test_a_failed_task_leftovers_and_an_abort() -> None:
    failed = TaskFailed(
        at=t(40),
        task="bubble",
        step="bubble",
        action=Action.NETWORK_ISOLATE,
        vm=None,
        attempts=3,
        error="QuotaError: no more networks",
        error_type="QuotaError",
        category=FailureCategory.EXECUTION,
        allowed=False,
    )
    left = (LeftoverResource("/subscriptions/s/vm-1", "Microsoft.Compute/virtualMachines", "vm-1", "eastus2", 12.5),)
    found = derive_findings(run(extra=(failed, RunAborted(at=t(41), reason="Ctrl-C received")), leftovers=left))
    task = next(f for f in found if f.kind is FindingKind.TASK_FAILED)
    assert task.reason == "network.isolate bubble failed after 3 attempt(s), execution failure: QuotaError: no more networks."
    assert task.app is None and task.id.startswith("F-run-task-failed-")
    leftover = next(f for f in found if f.kind is FindingKind.LEFTOVERS)
    assert leftover.severity is Severity.MEDIUM
    assert leftover.reason == (
        "Cleanup (incomplete) left 1 resource(s) tagged with the run, costing $12.50 a day until deleted: "
        "vm-1 (virtualMachines, eastus2, $12.50/day)."
    )
    assert next(f for f in found if f.kind is FindingKind.ABORTED).reason == "The run was aborted: Ctrl-C received."


def test_retries_and_throttling_that_cost_time() -> None:
    retried = (
        TaskStarted(at=t(2), task="db/sql-01", step="db", action=Action.BACKUP_RESTORE, vm="sql-01", attempt=0),
        TaskRetrying(
            at=t(2.5),
            task="db/sql-01",
            step="db",
            action=Action.BACKUP_RESTORE,
            vm="sql-01",
            attempt=0,
            error="ThrottledError: 429 Too Many Requests",
            retry_in_s=30.0,
        ),
        CallFailed(at=t(126), call="delete vm-1", attempt=1, error="TransientError: 503", retry_in_s=8.0),
        CallFailed(at=t(127), call="delete vm-2", attempt=1, error="refused", retry_in_s=None),  # not retried: no time spent
    )
    found = derive_findings(run(extra=retried))
    step, call = (f for f in found if f.kind is FindingKind.RETRIES)
    assert step.app == "shop" and step.severity is Severity.LOW
    assert step.reason.startswith("1 failed attempt(s) of step db (1 task(s)) were throttled and retried, costing 1m 00s")
    assert call.subject == "call/delete vm-1" and "waiting 8s before retrying" in call.reason


def test_a_skipped_check_is_a_finding() -> None:
    (skipped,) = derive_findings(run(verify="skipped"))[-1:]
    assert skipped.kind is FindingKind.SKIPPED_CHECK and skipped.severity is Severity.MEDIUM
    assert skipped.reason == "The check.canary check verify did not run on 1 VM(s): sql-01 (db failed): what it checks was not verified."
    assert skipped.subject == "step/verify" and skipped.app is None, "no check named sql-01's application"
    (mapped,) = derive_findings(run(verify="skipped"), app_of_vm={"sql-01": "shop"})[-1:]
    assert mapped.app == "shop" and mapped.id.startswith("F-shop-skipped-check-"), "the estate's application, when the caller has it"


@dataclass(frozen=True)
class Spread:
    name: str
    samples: int
    p5_s: float | None
    p50_s: float | None
    p95_s: float | None


@dataclass(frozen=True)
class Prediction(Event):
    """Shaped as the twin's prediction.made event (branch `twin`): read by shape, not by class."""

    kind: ClassVar[str] = "prediction.made"
    steps: tuple[Spread, ...] = ()


def test_a_step_slower_than_its_predicted_p95() -> None:
    prediction = Prediction(at=INCIDENT, steps=(Spread("db", 100, 600.0, 1200.0, 3000.0), Spread("verify", 100, 10.0, 60.0, None)))
    found = derive_findings(run(extra=(prediction,)))
    (slow,) = found
    assert slow.kind is FindingKind.SLOW_STEP and slow.subject == "step/db"
    assert (
        slow.reason
        == "Step db took 1h 28m from its first start to its last end, over its predicted p95 of 50m 00s, p50 20m 00s (by 38m 00s)."
    )
    quick = Prediction(at=INCIDENT, steps=(Spread("db", 100, 600.0, 1200.0, 6000.0),))
    assert derive_findings(run(extra=(quick,))) == ()


def test_ids_are_stable_for_a_run_and_differ_between_runs() -> None:
    first = derive_findings(run(point_min=600))
    again = derive_findings(run(point_min=600))
    other = derive_findings(run(point_min=600, run_id="r2"))
    assert [f.id for f in first] == [f.id for f in again]
    assert {f.id for f in first}.isdisjoint(f.id for f in other)
    assert finding_id("d", "r1", FindingKind.RPO_MISSED, "shop", "shop/RPO") == first[0].id
    assert finding_id("d", "r1", FindingKind.LEFTOVERS, "my app/x", "s").startswith("F-my-app-x-leftovers-")


@pytest.mark.parametrize("field", ["reason", "title"])
def test_every_finding_says_why(field: str) -> None:
    found = derive_findings(run(result=check(passed=False, consistent=False, corrupted=True)))
    assert found and all(getattr(f, field) for f in found)
    assert all(dataclasses.is_dataclass(f) for f in found)


def test_disks_captured_within_one_canary_interval_are_not_said_to_show_different_times() -> None:
    # Disks captured a fraction of a second apart hold the same newest canary marker: the finding says so
    # instead of "captured at different instants (13:08:00Z, 13:08:00Z)".
    torn = check(passed=False, consistent=False)
    same = dataclasses.replace(torn, volumes=(VolumeCheck("sqldata", False, (t(-52), t(-52))),))
    (inconsistent,) = [f for f in derive_findings(run(result=same)) if f.kind is FindingKind.INCONSISTENT_DATA]
    assert "captured at different instants, less than a canary interval apart (each holds the canary marker of 13:08:00Z)" in (
        inconsistent.reason
    )
    assert "13:08:00Z, 13:08:00Z" not in inconsistent.reason
