"""From events to RTO/RPO per application, verdicts and run status (synthetic timelines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from drsim.measure.events import (
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
    TaskStarted,
    VolumeCheck,
)
from drsim.measure.result import RunStatus, TaskStatus
from drsim.measure.timeline import drill_result, measure_apps, run_status
from drsim.model import load
from drsim.model.documents import Estate, Runbook
from drsim.model.types import Action

REPO = Path(__file__).resolve().parents[2]
ESTATE = load(REPO / "drills" / "estates" / "contoso.yaml", Estate).doc
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
RUNBOOK = Runbook.model_validate(
    {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": "rb"},
        "scenario": {"incident": "data-corruption", "vms": {"name": "sql-01"}, "detected_after": "1h"},
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


def t(minutes: float) -> datetime:
    return INCIDENT + timedelta(minutes=minutes)


def task(task_id: str, action: str, vm: str | None = None) -> PlannedTask:
    return PlannedTask(task_id, task_id.split("/")[0], Action(action), vm, (), 0.0)


def base_events() -> list[Event]:
    planned = (
        task("declare", "manual.declare"),
        task("bubble", "network.isolate"),
        task("db/sql-01", "backup.restore", "sql-01"),
        task("verify/sql-01", "check.canary", "sql-01"),
    )
    return [
        RunStarted(
            at=t(60),
            run_id="r",
            drill="d",
            runbook="rb",
            estate="contoso",
            plan="p",
            provider="sim",
            seed=1,
            incident_at=INCIDENT,
            detected_at=t(60),
            drsim_version="0",
            catalog_version="c",
            concurrency=50,
            cleanup="always",
        ),
        PlanMade(at=t(60), tasks=planned, step_edges=(), critical_path=(), critical_path_s=0.0, lower_bound_s=0.0),
        TaskStarted(at=t(60), task="declare", step="declare", action="manual.declare", vm=None, attempt=1),
        TaskStarted(at=t(60), task="bubble", step="bubble", action="network.isolate", vm=None, attempt=1),
        TaskFinished(at=t(61), task="bubble", step="bubble", action="network.isolate", vm=None, attempts=1),
        TaskFinished(at=t(90), task="declare", step="declare", action="manual.declare", vm=None, attempts=1),
        TaskStarted(at=t(90), task="db/sql-01", step="db", action="backup.restore", vm="sql-01", attempt=1),
        TaskFinished(
            at=t(120),
            task="db/sql-01",
            step="db",
            action="backup.restore",
            vm="sql-01",
            attempts=1,
            recovery_point=RecoveryPointRef("p1", t(-50), "AppConsistent", "snapshot", "eastus2"),
            recovered_vm="vm-id",
        ),
        TaskStarted(at=t(120), task="verify/sql-01", step="verify", action="check.canary", vm="sql-01", attempt=1),
    ]


def canary(consistent: bool = True, passed: bool = True) -> list[Event]:
    volume = VolumeCheck("sqldata", consistent, (t(-52), t(-52) if consistent else t(-53)))
    check = CheckResult(
        at=t(125),
        task="verify/sql-01",
        check=CheckKind.CANARY,
        vm="sql-01",
        app="shop",
        passed=passed,
        reachable=True,
        healthy_at=t(121) if passed else None,
        reads=1,
        last_marker_at=t(-52),
        measured_rpo_s=52 * 60.0,
        claimed_rpo_s=50 * 60.0,
        consistent=consistent,
        corrupted=False,
        volumes=(volume,),
    )
    if passed:
        end: Event = TaskFinished(at=t(125), task="verify/sql-01", step="verify", action="check.canary", vm="sql-01", attempts=1)
    else:
        end = TaskFailed(
            at=t(125),
            task="verify/sql-01",
            step="verify",
            action="check.canary",
            vm="sql-01",
            attempts=1,
            error="volume sqldata of sql-01 is inconsistent",
            error_type="CheckFailure",
            category=FailureCategory.CHECK,
            allowed=False,
        )
    return [check, end]


def cleanup(status: str = "done", leftovers: tuple[LeftoverResource, ...] = ()) -> CleanupFinished:
    return CleanupFinished(at=t(130), status=status, leftovers=leftovers)


def test_rto_from_the_incident_split_into_human_wait_infrastructure_and_validation() -> None:
    (shop,) = measure_apps([*base_events(), *canary(), cleanup()], RUNBOOK, ESTATE)
    assert (shop.trigger_at, shop.infra_ready_at, shop.healthy_at) == (t(90), t(120), t(121))
    assert shop.rto_s == 121 * 60
    assert shop.human_wait_s == 60 * 60 + 30 * 60  # detection after 1 h, then the 30-minute declaration
    assert shop.validation_s == 60
    assert shop.infrastructure_s == 30 * 60
    assert (shop.rpo_s, shop.rpo_claimed_s, shop.consistent) == (52 * 60, 50 * 60, True)
    assert (shop.rto_met, shop.rpo_met) == (True, True)


def test_an_inconsistent_volume_fails_the_check_the_rto_and_the_rpo() -> None:
    events = [*base_events(), *canary(consistent=False, passed=False), cleanup()]
    (shop,) = measure_apps(events, RUNBOOK, ESTATE)
    assert shop.consistent is False and shop.healthy_at is None and shop.rto_s is None
    assert (shop.rto_met, shop.rpo_met) == (False, False)
    assert shop.rpo_s == 52 * 60  # measured all the same
    assert run_status(events, [shop]) is RunStatus.FAILED


def test_status_error_when_aborted_not_carried_out_or_not_cleaned_up() -> None:
    good = [*base_events(), *canary()]
    apps = measure_apps([*good, cleanup()], RUNBOOK, ESTATE)
    assert run_status([*good, cleanup()], apps) is RunStatus.PASSED
    leftover = LeftoverResource("id", "Microsoft.Compute/disks", "d", "eastus2", 1.5)
    assert run_status([*good, cleanup("incomplete", (leftover,))], apps) is RunStatus.ERROR
    assert run_status([*good, RunAborted(at=t(122), reason="SIGINT received"), cleanup()], apps) is RunStatus.ERROR
    transient = TaskFailed(
        at=t(100),
        task="bubble",
        step="bubble",
        action="network.isolate",
        vm=None,
        attempts=3,
        error="503",
        error_type="TransientError",
        category=FailureCategory.EXECUTION,
        allowed=False,
    )
    assert run_status([*good, transient, cleanup()], apps) is RunStatus.ERROR
    allowed = TaskFailed(
        at=t(100),
        task="bubble",
        step="bubble",
        action="network.isolate",
        vm=None,
        attempts=3,
        error="503",
        error_type="TransientError",
        category=FailureCategory.EXECUTION,
        allowed=True,
    )
    assert run_status([*good, allowed, cleanup()], apps) is RunStatus.PASSED


def test_result_json_lists_tasks_in_plan_order_with_their_recovery_points() -> None:
    result = drill_result([*base_events(), *canary(), cleanup()], RUNBOOK, ESTATE)
    assert [(r.step, r.vm, r.status) for r in result.tasks] == [
        ("declare", None, TaskStatus.SUCCEEDED),
        ("bubble", None, TaskStatus.SUCCEEDED),
        ("db", "sql-01", TaskStatus.SUCCEEDED),
        ("verify", "sql-01", TaskStatus.SUCCEEDED),
    ]
    assert result.tasks[2].recovery_point_at == "2026-11-20T13:10:00Z"
    assert result.incident_at == "2026-11-20T14:00:00Z" and result.apps[0].healthy_at == "2026-11-20T16:01:00Z"
    assert result.to_json() == drill_result([*base_events(), *canary(), cleanup()], RUNBOOK, ESTATE).to_json()


# ------------------------------------------------------------------------- apps[].depends_on

SPLIT_ESTATE = ESTATE.model_copy(
    update={
        "apps": tuple(
            type(ESTATE.apps[0]).model_validate(a)
            for a in (
                {"name": "shop-db", "vms": {"name": "sql-01"}},
                {"name": "storefront", "vms": {"name": "web-01"}, "depends_on": ["shop-db"]},
            )
        )
    }
)
SPLIT_RUNBOOK = RUNBOOK.model_copy(
    update={
        "scenario": RUNBOOK.scenario.model_copy(update={"vms": {"app": "shop"}}),
        "objectives": (type(RUNBOOK.objectives[0]).model_validate({"app": "storefront", "rto": "3h"}),),
    }
)


def storefront_events(db_passes: bool) -> list[Event]:
    """sql-01 restored by t+120 min and checked by its canary; web-01 restored by t+70 and booted at t+75."""
    events = base_events()
    plan = events[1]
    assert isinstance(plan, PlanMade)
    web = (task("web/web-01", "backup.restore", "web-01"), task("boot/web-01", "check.boot", "web-01"))
    events[1] = PlanMade(at=plan.at, tasks=(*plan.tasks, *web), step_edges=(), critical_path=(), critical_path_s=0.0, lower_bound_s=0.0)
    events += [
        TaskStarted(at=t(61), task="web/web-01", step="web", action="backup.restore", vm="web-01", attempt=1),
        TaskFinished(at=t(70), task="web/web-01", step="web", action="backup.restore", vm="web-01", attempts=1, recovered_vm="web-id"),
        CheckResult(
            at=t(75),
            task="boot/web-01",
            check=CheckKind.BOOT,
            vm="web-01",
            app="storefront",
            passed=True,
            reachable=True,
            healthy_at=t(75),
            reads=1,
        ),
        TaskFinished(at=t(75), task="boot/web-01", step="boot", action="check.boot", vm="web-01", attempts=1),
    ]
    return [*events, *canary(passed=db_passes), cleanup()]


def test_an_app_is_healthy_only_when_the_apps_it_depends_on_are() -> None:
    apps = {a.app: a for a in measure_apps(storefront_events(db_passes=True), SPLIT_RUNBOOK, SPLIT_ESTATE)}
    storefront = apps["storefront"]
    # Its own VM booted at t+75, but its database was healthy only at t+121: that wait is validation.
    assert storefront.infra_ready_at == t(70) and storefront.healthy_at == t(121)
    assert storefront.rto_s == 121 * 60 and storefront.validation_s == 51 * 60 and storefront.rto_met is True
    assert apps["shop-db"].healthy_at == t(121)


def test_an_app_whose_dependency_never_recovers_never_becomes_healthy() -> None:
    apps = {a.app: a for a in measure_apps(storefront_events(db_passes=False), SPLIT_RUNBOOK, SPLIT_ESTATE)}
    storefront = apps["storefront"]
    assert storefront.healthy_at is None and storefront.rto_s is None and storefront.rto_met is False


def test_no_rpo_is_claimed_while_a_vm_the_canary_checks_went_unread() -> None:
    runbook = RUNBOOK.model_copy(update={"scenario": RUNBOOK.scenario.model_copy(update={"vms": {"app": "shop"}})})
    events = base_events()
    plan = events[1]
    assert isinstance(plan, PlanMade)
    web = (task("db/web-01", "backup.restore", "web-01"), task("verify/web-01", "check.canary", "web-01"))
    events[1] = PlanMade(at=plan.at, tasks=(*plan.tasks, *web), step_edges=(), critical_path=(), critical_path_s=0.0, lower_bound_s=0.0)
    read_both = measure_apps([*events, *canary(), cleanup()], runbook, ESTATE)
    # sql-01 was read (52 min lost); web-01's restore never finished, so its canary was never read.
    (shop,) = [a for a in read_both if a.app == "shop"]
    assert shop.rpo_s is None and shop.rpo_met is False
    alone = measure_apps([*base_events(), *canary(), cleanup()], RUNBOOK, ESTATE)
    assert alone[0].rpo_s == 52 * 60
