"""The causes read from one trial's run (compare.failures.trial_failures): root failures, not their consequences."""

from __future__ import annotations

from datetime import UTC, datetime

from drsim.cloud.api import ResourceKind
from drsim.compare.failures import FailureCause, trial_failures
from drsim.measure.events import CleanupFinished, FailureCategory, LeftoverResource, RunFinished, TaskFailed, TaskSkipped
from drsim.measure.result import AppResult, CleanupResult, DrillResult, RunStatus
from drsim.model.types import Action, CleanupStatus

AT = datetime(2026, 10, 7, 12, tzinfo=UTC)


def app(rto: float | None, rpo: float | None, *, rto_objective: float | None = 3600.0, rpo_objective: float | None = 600.0) -> AppResult:
    return AppResult(
        app="shop",
        rto_s=rto,
        rpo_s=rpo,
        rpo_claimed_s=rpo,
        rto_objective_s=rto_objective,
        rpo_objective_s=rpo_objective,
        rto_met=None if rto_objective is None else rto is not None and rto <= rto_objective,
        rpo_met=None if rpo_objective is None else rpo is not None and rpo <= rpo_objective,
        consistent=True,
        trigger_at=None,
        infra_ready_at=None,
        healthy_at=None,
    )


def result(status: RunStatus, *apps: AppResult) -> DrillResult:
    return DrillResult(
        drill="d",
        runbook="r",
        provider="sim",
        seed=1,
        incident_at="2026-10-07T12:00:00Z",
        status=status,
        apps=list(apps),
        tasks=[],
        cleanup=CleanupResult(status="done", leftovers=[]),
    )


def failed(step: str, vm: str, error_type: str, *, allowed: bool = False) -> TaskFailed:
    error = f"{vm}: no capacity"
    return TaskFailed(AT, f"{step}/{vm}", step, Action.ASR_TEST_FAILOVER, vm, 3, error, error_type, FailureCategory.RECOVERY, allowed)


def test_a_passed_trial_has_no_cause() -> None:
    assert trial_failures([], result(RunStatus.PASSED, app(1800.0, 300.0))) == ()


def test_failed_tasks_count_once_per_kind_and_their_consequences_not_at_all() -> None:
    events = [
        failed("db", "sql-01", "CapacityError"),
        failed("db", "sql-02", "CapacityError"),  # the same cause on another VM: one cause
        TaskSkipped(AT, "verify", "verify", Action.CHECK_CANARY, None, "needs step 'db', which failed"),
        failed("web", "web-01", "CapacityError", allowed=True),  # allowed to fail: not a cause
    ]
    causes = trial_failures(events, result(RunStatus.FAILED, app(None, None)))  # never recovered: a consequence
    assert causes == (FailureCause("db", "asr.test_failover", "CapacityError", "recovery", "sql-01: no capacity"),)


def test_objectives_missed_by_measurements_are_causes_of_their_own() -> None:
    causes = trial_failures([], result(RunStatus.FAILED, app(7200.0, 900.0)))
    assert [(c.operation, c.error_kind, c.category) for c in causes] == [
        ("objective of shop", "rto-missed", "objective"),
        ("objective of shop", "rpo-missed", "objective"),
    ]
    assert causes[0].error == "shop: RTO 2h 00m over the objective 1h 00m"


def test_without_a_failed_task_an_app_never_recovered_is_the_cause() -> None:
    (cause,) = trial_failures([], result(RunStatus.FAILED, app(None, None, rpo_objective=None)))
    assert (cause.step, cause.operation, cause.error_kind) == ("", "objective of shop", "not-recovered")


def test_cleanup_left_behind_and_a_run_error_are_causes_when_nothing_else_is() -> None:
    leftover = LeftoverResource("id", ResourceKind.VM, "shop-web-01-drill", "eastus2", 1.0)
    events = [CleanupFinished(AT, CleanupStatus.INCOMPLETE, (leftover,)), RunFinished(AT, RunStatus.ERROR, "cleanup incomplete")]
    (cause,) = trial_failures(events, result(RunStatus.ERROR, app(1800.0, 300.0)))
    assert (cause.operation, cause.error_kind, cause.error) == ("cleanup", "incomplete", "cleanup left shop-web-01-drill")
    (cause,) = trial_failures([RunFinished(AT, RunStatus.ERROR, "every task waits")], result(RunStatus.ERROR, app(1800.0, 300.0)))
    assert (cause.operation, cause.error_kind, cause.error) == ("run", "error", "every task waits")
